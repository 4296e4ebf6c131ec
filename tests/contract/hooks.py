"""Schemathesis hooks for tests/contract/fuzz.sh."""
import uuid

import schemathesis
from schemathesis.generation import GenerationMode


@schemathesis.hook
def before_call(ctx, case, kwargs):
    # An Idempotency-Key names one logical request, and reusing it with another body is a 422
    # by design (IETF draft). A schema cannot say "fresh per request", so every schema-valid
    # case gets its own key; negative cases keep the generated one.
    headers = case.headers
    if (
        headers
        and "Idempotency-Key" in headers
        and case.meta is not None
        and case.meta.generation.mode == GenerationMode.POSITIVE
    ):
        headers["Idempotency-Key"] = str(uuid.uuid4())
