"""Webhooks against a live server, as a receiver sees them.

Subscribes a loopback receiver to `*`, makes a spread of writes (plus refused and no-op ones),
waits until the deliveries stop, then checks every delivery:

- its signature, with the `standardwebhooks` package and with HMAC-SHA256 computed by hand;
- its body against the schema of the OpenAPI document's `webhooks` entry for its type, with
  every `$ref` into `#/components` resolved;
- that it is the event of the feed (`GET /v1/events`) with the same id, and that the feed and the
  deliveries hold the same events, each delivered once;
- that each event happened during one write, of a type that write declares (`x-events`), that
  each write emitted what it must, and that refused writes and writes that change nothing
  emitted nothing;
- that the new contact's `contact.created` arrived within seconds and its `data` is its GET.

Usage: webhooks.py BASE_URL TOKEN. Exits non-zero on any failure; prints OK only when every
check ran.
"""
import base64
import collections
import datetime
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema_rs
import standardwebhooks

BASE, TOKEN = sys.argv[1], sys.argv[2]
# How long the new contact's contact.created may take to arrive.
MAX_LATENCY = float(os.environ.get("WEBHOOKS_MAX_LATENCY", "5"))
# How long to wait after the last write for every event to be delivered.
SETTLE_TIMEOUT = float(os.environ.get("WEBHOOKS_SETTLE_TIMEOUT", "30"))
# With every event delivered, how long nothing more must arrive.
QUIET = 2.0
# Events are stamped by the server's clock (the one this machine's processes share); a write's
# window is widened by this much on each side, and writes are this much further apart.
SLACK_US = 2_000
GAP = 0.01
HOOK_PATH = "/hooks/crm"

failures = []


def fail(message):
    failures.append(message)
    print("FAIL:", message, flush=True)


def now_us():
    return time.time_ns() // 1000


def micros(timestamp):
    """`2026-12-04T10:00:00.123456Z` as microseconds since the epoch."""
    moment = datetime.datetime.fromisoformat(timestamp)
    return (moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)) // datetime.timedelta(microseconds=1)


# ---------------------------------------------------------------------------------------------
# The receiver: records every request, answers 204.

received = []
received_lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with received_lock:
            received.append({
                "at": time.time(),
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            })
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def deliveries():
    with received_lock:
        return list(received)


# ---------------------------------------------------------------------------------------------
# The API.

def request(method, path, body=None, content_type="application/json", token=TOKEN):
    """Returns (status, parsed body or None)."""
    req = urllib.request.Request(
        BASE + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    try:
        return status, (json.loads(text) if text else None)
    except ValueError:
        return status, text.decode(errors="replace")


def get(path):
    status, body = request("GET", path)
    if status != 200:
        raise SystemExit(f"FAIL: GET {path} answered {status}: {body}")
    return body


openapi = get("/openapi.json")
writes = []


class WriteFailed(Exception):
    pass


def write(method, template, params=None, body=None, status=None, emits=(), label=None, nothing=False,
          query=None, token=TOKEN):
    """One write, timed so that its events can be told apart from the others'.

    `emits`: types it must emit; `nothing`: it must emit no event at all (refused, or changing
    nothing). What it may emit is what the served OpenAPI document declares for the operation.
    """
    path = template.format(**(params or {})) + (f"?{urllib.parse.urlencode(query)}" if query else "")
    operation = openapi["paths"][template][method.lower()]
    declared = set(operation.get("x-events") or [])
    if status is None:
        # The operation's one documented success.
        (status,) = [int(code) for code in operation["responses"] if code.startswith("2")]
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    time.sleep(GAP)
    start = now_us()
    answered, answer = request(method, path, body, content_type, token)
    end = now_us()
    time.sleep(GAP)
    entry = {
        "label": label or f"{method} {path}",
        "start": start - SLACK_US,
        "end": end + SLACK_US,
        "declared": declared,
        "emits": set(emits),
        "nothing": nothing or answered >= 400,
        "events": [],
        "failed": answered != status,
    }
    writes.append(entry)
    if entry["failed"]:
        fail(f"{entry['label']} answered {answered}, expected {status}: {json.dumps(answer)[:600]}")
        raise WriteFailed(entry["label"])
    return answer


def subscribe(url):
    status, endpoint = request("POST", "/v1/webhook-endpoints",
                               {"url": url, "event_types": ["*"], "description": "contract check"})
    if status != 201:
        raise SystemExit(f"FAIL: subscribing answered {status}: {endpoint}")
    return endpoint


def feed_from(cursor):
    """Every event of the feed after `cursor`, and the cursor after them."""
    events = []
    while True:
        query = urllib.parse.urlencode({"limit": 200, **({"cursor": cursor} if cursor else {})})
        page = get(f"/v1/events?{query}")
        events += page["data"]
        if not page["data"]:
            return events, page["next_cursor"]
        cursor = page["next_cursor"]


# ---------------------------------------------------------------------------------------------
# The schemas: one validator per webhook type, each ref resolvable.

def resolve_pointer(document, ref):
    node = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def unresolvable_refs(document, root):
    """The `$ref`s reachable from `root` that do not resolve inside `document`."""
    missing, seen, stack = set(), set(), [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                if not ref.startswith("#/"):
                    missing.add(ref)
                elif ref not in seen:
                    seen.add(ref)
                    target = resolve_pointer(document, ref)
                    if target is None:
                        missing.add(ref)
                    else:
                        stack.append(target)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return missing


def webhook_validators():
    validators = {}
    for event_type, item in sorted(openapi.get("webhooks", {}).items()):
        try:
            schema = item["post"]["requestBody"]["content"]["application/json"]["schema"]
        except (KeyError, TypeError):
            fail(f"webhooks[{event_type}] has no post requestBody application/json schema")
            continue
        missing = unresolvable_refs(openapi, schema)
        if missing:
            fail(f"webhooks[{event_type}]: unresolvable $ref {sorted(missing)}")
            continue
        document = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [schema],
            "components": openapi["components"],
        }
        try:
            validators[event_type] = jsonschema_rs.validator_for(document, validate_formats=True)
        except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as error:
            fail(f"webhooks[{event_type}]: schema does not compile: {error}")
    return validators


validators = webhook_validators()
catalogue = set(openapi["components"]["schemas"]["Event"]["properties"]["type"]["enum"])
if set(openapi.get("webhooks", {})) != catalogue:
    fail(f"webhooks entries and the Event type enum differ: only in webhooks "
         f"{sorted(set(openapi.get('webhooks', {})) - catalogue)}, only in the enum "
         f"{sorted(catalogue - set(openapi.get('webhooks', {})))}")

# ---------------------------------------------------------------------------------------------
# Receiver up, subscribed, then the writes.

server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
hook_url = f"http://127.0.0.1:{server.server_address[1]}{HOOK_PATH}"

_, head = feed_from(None)
endpoint = subscribe(hook_url)
secret = endpoint["secret"]
if not secret.startswith("whsec_"):
    fail(f"the endpoint's secret does not start with whsec_: {secret[:10]}...")
signer = standardwebhooks.Webhook(secret)
key = base64.b64decode(secret.removeprefix("whsec_"))

eur = lambda amount: {"amount_minor": amount, "currency": "EUR"}
today = datetime.datetime.now(datetime.UTC)
ordered_at = (today - datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
run = os.urandom(3).hex()
refused_email = f"refused-{run}@example.com"
contact_id = contact_get = contact_created_at = None
started = time.time()

try:
    admin = get("/v1/users?limit=1")["data"][0]["id"]
    write("PATCH", "/v1/settings/company", body={"legal_name": "Webhooks SL", "tax_id": "ESB00000000",
          "address": {"city": "Madrid", "country": "ES"}}, nothing=True)

    product = write("POST", "/v1/products", body={"sku": f"WH-{run}", "name": "Widget", "unit_price": eur(1000),
                    "unit_cost": eur(600), "tax_rate_bp": 2100}, emits=["product.created"])
    write("PATCH", "/v1/products/{id}", {"id": product["id"]}, {"name": "Widget II"}, emits=["product.updated"])
    old = write("POST", "/v1/products", body={"sku": f"WH-OLD-{run}", "name": "Old", "unit_price": eur(500)},
                emits=["product.created"])
    write("DELETE", "/v1/products/{id}", {"id": old["id"]}, emits=["product.archived"])

    company = write("POST", "/v1/companies", body={"name": "Webhook Co", "tax_id": "ESB12345678",
                    "billing_address": {"country": "ES"}}, emits=["company.created"])
    write("PATCH", "/v1/companies/{id}", {"id": company["id"]}, {"industry": "Retail"}, emits=["company.updated"])
    gone = write("POST", "/v1/companies", body={"name": "Gone Co"}, emits=["company.created"])
    twin_co = write("POST", "/v1/companies", body={"name": "Gone Co twin"}, emits=["company.created"])
    write("POST", "/v1/companies/{id}/merge", {"id": gone["id"]}, {"from": [twin_co["id"]]},
          emits=["company.merged", "company.updated"])
    write("DELETE", "/v1/companies/{id}", {"id": gone["id"]}, emits=["company.archived"])

    # The acceptance item: a new contact, its GET taken before anything else can touch it.
    contact_created_at = time.time()
    contact = write("POST", "/v1/contacts", body={"first_name": "Ana", "last_name": "García", "email": f"ana-{run}@example.com",
                    "phone": "600 123 456", "company_id": company["id"]}, emits=["contact.created"],
                    label="POST /v1/contacts (the new contact)")
    contact_id = contact["id"]
    contact_get = get(f"/v1/contacts/{contact_id}")

    # Refused creates: a duplicate email (409) and a company that does not exist (422).
    write("POST", "/v1/contacts", body={"last_name": "Refused", "email": f"ana-{run}@example.com"}, status=409,
          label="refused POST /v1/contacts (duplicate email)")
    write("POST", "/v1/contacts", body={"last_name": "Refused", "email": refused_email,
          "company_id": "0193a1b2-0000-7000-8000-000000000001"}, status=422,
          label="refused POST /v1/contacts (unknown company)")

    other = write("POST", "/v1/contacts", body={"last_name": "Other", "email": f"other-{run}@example.com"},
                  emits=["contact.created"])
    write("PATCH", "/v1/contacts/{id}", {"id": other["id"]}, {"title": "Buyer"}, emits=["contact.updated"])
    twin = write("POST", "/v1/contacts", body={"last_name": "Other twin", "email": f"other+twin-{run}@example.com"},
                 emits=["contact.created"])
    write("POST", "/v1/contacts/{id}/merge", {"id": other["id"]}, {"from": [twin["id"]]},
          emits=["contact.merged", "contact.updated"])
    write("DELETE", "/v1/contacts/{id}", {"id": other["id"]}, emits=["contact.archived"])

    call = write("POST", "/v1/interactions", body={"contact_id": contact_id, "kind": "call", "direction": "inbound",
                 "subject": "Delivery question", "occurred_at": "2026-01-01T10:00:00Z"}, emits=["interaction.created"])
    write("PATCH", "/v1/interactions/{id}", {"id": call["id"]}, {"subject": "Delivery date"}, emits=["interaction.updated"])
    write("DELETE", "/v1/interactions/{id}", {"id": call["id"]}, emits=["interaction.deleted"])

    # Leads: one converted with a quote and an opportunity, the others through each action.
    lead = write("POST", "/v1/leads", body={"source": "phone", "first_name": "Luis", "last_name": "Martín",
                 "email": f"luis-{run}@example.com", "company_name": f"Martín Hermanos {run}"}, emits=["lead.created"])
    conversion = write("POST", "/v1/leads/{id}/convert", {"id": lead["id"]}, {
        "quote": {"currency": "EUR", "lines": [{"product_id": product["id"], "quantity": "2.5", "discount_bp": 1500}]},
        "opportunity": {"name": "Martín deal", "amount": eur(250000), "expected_close_date": "2027-03-31"}},
        emits=["lead.converted", "contact.created", "company.created", "opportunity.created", "quote.created"])
    second = write("POST", "/v1/leads", body={"last_name": "Second", "email": f"second-{run}@example.com"},
                   emits=["lead.created"])
    write("PATCH", "/v1/leads/{id}", {"id": second["id"]}, {"notes": "Called back"}, emits=["lead.updated"])
    write("POST", "/v1/leads/{id}/assign", {"id": second["id"]}, {"owner_id": admin}, emits=["lead.assigned"])
    write("POST", "/v1/leads/{id}/qualify", {"id": second["id"]}, emits=["lead.qualified"])
    third = write("POST", "/v1/leads", body={"last_name": "Third"}, emits=["lead.created"])
    write("POST", "/v1/leads/{id}/disqualify", {"id": third["id"]}, {"reason": "No budget"}, emits=["lead.disqualified"])
    fourth = write("POST", "/v1/leads", body={"last_name": "Fourth"}, emits=["lead.created"])
    write("DELETE", "/v1/leads/{id}", {"id": fourth["id"]}, emits=["lead.archived"])

    # Quotes: the converted lead's is sent, accepted (winning its opportunity) and ordered.
    quote_id = conversion["quote_id"]
    write("POST", "/v1/quotes/{id}/send", {"id": quote_id}, emits=["quote.sent"])
    write("POST", "/v1/quotes/{id}/accept", {"id": quote_id}, emits=["quote.accepted"])
    converted = write("POST", "/v1/quotes/{id}/convert", {"id": quote_id}, emits=["quote.converted", "order.created"])
    write("POST", "/v1/orders/{id}/pay", {"id": converted["order_id"]}, emits=["order.paid"])
    write("POST", "/v1/orders/{id}/fulfil", {"id": converted["order_id"]}, emits=["order.fulfilled"])
    lines = [{"description": "Consulting", "quantity": "1", "unit_price": eur(500), "tax_rate_bp": 2100}]
    rejected = write("POST", "/v1/quotes", body={"company_id": company["id"], "currency": "EUR", "lines": lines},
                     emits=["quote.created"])
    write("PATCH", "/v1/quotes/{id}", {"id": rejected["id"]}, {"notes": "Net 30"}, emits=["quote.updated"])
    write("POST", "/v1/quotes/{id}/send", {"id": rejected["id"]}, emits=["quote.sent"])
    write("POST", "/v1/quotes/{id}/revise", {"id": rejected["id"]}, emits=["quote.revised", "quote.created"])
    cancelled = write("POST", "/v1/quotes", body={"company_id": company["id"], "currency": "EUR", "lines": lines},
                      emits=["quote.created"])
    write("POST", "/v1/quotes/{id}/cancel", {"id": cancelled["id"]}, emits=["quote.cancelled"])
    refused_quote = write("POST", "/v1/quotes", body={"company_id": company["id"], "currency": "EUR", "lines": lines},
                          emits=["quote.created"])
    write("POST", "/v1/quotes/{id}/send", {"id": refused_quote["id"]}, emits=["quote.sent"])
    write("POST", "/v1/quotes/{id}/reject", {"id": refused_quote["id"]}, {"reason": "Too expensive"},
          emits=["quote.rejected"])

    deal = write("POST", "/v1/opportunities", body={"name": "Deal", "company_id": company["id"], "amount": eur(100000),
                 "expected_close_date": "2027-01-31"}, emits=["opportunity.created"])
    write("PATCH", "/v1/opportunities/{id}", {"id": deal["id"]}, {"next_step": "Demo"}, emits=["opportunity.updated"])
    write("DELETE", "/v1/opportunities/{id}", {"id": deal["id"]}, emits=["opportunity.archived"])

    # A shop pushes an order; the same push again changes nothing; then it is fulfilled.
    push = {"ordered_at": ordered_at, "currency": "EUR", "status": "paid", "company_id": company["id"],
            "customer": {"email": f"shopper-{run}@example.com", "first_name": "Sam", "last_name": "Shopper"},
            "lines": [{"sku": f"WH-{run}", "quantity": "5", "unit_price": eur(1000), "tax_rate_bp": 2100}]}
    order_path = "/v1/orders/by-external-id/{channel}/{external_id}"
    order = write("PUT", order_path, {"channel": "shop", "external_id": f"{run}-1"}, push, status=201,
                  emits=["order.created"])
    write("PUT", order_path, {"channel": "shop", "external_id": f"{run}-1"}, push, status=200,
          nothing=True, label="PUT the same order again (changes nothing)")
    order = write("PUT", order_path, {"channel": "shop", "external_id": f"{run}-1"}, {**push, "status": "fulfilled"},
                  status=200, emits=["order.fulfilled"])
    spare = write("PUT", order_path, {"channel": "shop", "external_id": f"{run}-2"}, {**push, "status": "fulfilled"},
                  status=201, emits=["order.created"])
    dropped = write("PUT", order_path, {"channel": "shop", "external_id": f"{run}-3"}, {**push, "status": "pending"},
                    status=201, emits=["order.created"])
    write("POST", "/v1/orders/{id}/cancel", {"id": dropped["id"]}, emits=["order.cancelled"])

    # The invoice: edited as a draft, issued, partly paid, partly credited, then paid.
    invoice = write("POST", "/v1/invoices", body={"company_id": company["id"], "order_ids": [order["id"]]},
                    emits=["invoice.created"])
    write("PATCH", "/v1/invoices/{id}", {"id": invoice["id"]}, {"notes": "Thank you"}, emits=["invoice.updated"])
    invoice = write("POST", "/v1/invoices/{id}/issue", {"id": invoice["id"]}, emits=["invoice.issued"])
    write("POST", "/v1/invoices/{id}/payments", {"id": invoice["id"]}, {"amount": eur(1000)}, status=201,
          emits=["invoice.payment_recorded"])
    note = write("POST", "/v1/invoices/{id}/credit-notes", {"id": invoice["id"]}, {"reason": "One unit damaged",
                 "lines": [{"invoice_line_id": invoice["lines"][0]["id"], "quantity": "1"}]}, status=201,
                 emits=["credit_note.created"])
    write("POST", "/v1/invoices/{id}/issue", {"id": note["id"]}, emits=["credit_note.issued", "invoice.credited"])
    outstanding = get(f"/v1/invoices/{invoice['id']}")["outstanding"]
    write("POST", "/v1/invoices/{id}/payments", {"id": invoice["id"]}, {"amount": outstanding}, status=201,
          emits=["invoice.payment_recorded", "invoice.paid"])
    draft = write("POST", "/v1/invoices", body={"company_id": company["id"], "order_ids": [spare["id"]]},
                  emits=["invoice.created"])
    write("DELETE", "/v1/invoices/{id}", {"id": draft["id"]}, emits=["invoice.deleted"])

    # Returns: one through to its refund, one rejected, one withdrawn.
    line = order["lines"][0]["id"]
    ret = write("POST", "/v1/returns", body={"order_id": order["id"], "lines": [{"order_line_id": line, "quantity": "1",
                "reason": "damaged"}]}, emits=["return.created"])
    write("PATCH", "/v1/returns/{id}", {"id": ret["id"]}, {"root_cause": {"category": "packaging", "notes": "Box crushed",
          "preventive_action": "Double-wall boxes"}},
          emits=["return.updated"])
    write("POST", "/v1/returns/{id}/approve", {"id": ret["id"]}, emits=["return.approved"])
    write("POST", "/v1/returns/{id}/receive", {"id": ret["id"]}, {"lines": [{"return_line_id": ret["lines"][0]["id"],
          "quantity": "1", "disposition": "scrap"}]}, emits=["return.received"])
    write("POST", "/v1/returns/{id}/resolve", {"id": ret["id"]}, {"resolution": "refund"},
          emits=["return.resolved", "credit_note.issued", "invoice.credited"])
    write("POST", "/v1/returns/{id}/close", {"id": ret["id"]}, emits=["return.closed"])
    ret = write("POST", "/v1/returns", body={"order_id": order["id"], "lines": [{"order_line_id": line, "quantity": "1",
                "reason": "damaged"}]}, emits=["return.created"])
    write("POST", "/v1/returns/{id}/reject", {"id": ret["id"]}, {"reason": "Not damaged"}, emits=["return.rejected"])
    ret = write("POST", "/v1/returns", body={"order_id": order["id"], "lines": [{"order_line_id": line, "quantity": "1",
                "reason": "damaged"}]}, emits=["return.created"])
    write("POST", "/v1/returns/{id}/withdraw", {"id": ret["id"]}, emits=["return.withdrawn"])

    # Self-billing: the customer invoices two fulfilled orders on our behalf; we accept one
    # invoice and dispute the other.
    agreement = write("POST", "/v1/self-billing/agreements", body={"company_id": company["id"],
                      "valid_from": f"{today.year}-01-01", "auto_accept_days": 15, "series_prefix": f"W{run[:4].upper()}"},
                      emits=["self_billing_agreement.created"])
    customer_email, customer_password = f"customer-{run}@example.com", "a long customer passphrase"
    write("POST", "/v1/users", body={"email": customer_email, "password": customer_password, "role": "customer",
          "company_id": company["id"]}, nothing=True)
    customer = request("POST", "/v1/auth/token", {"email": customer_email, "password": customer_password})[1]["access_token"]
    second_spare = write("PUT", order_path, {"channel": "shop", "external_id": f"{run}-4"}, {**push, "status": "fulfilled"},
                         status=201, emits=["order.created"])
    accepted = write("POST", "/v1/portal/self-billed-invoices", body={"order_ids": [spare["id"]]}, token=customer,
                     emits=["invoice.created", "invoice.issued"])
    write("POST", "/v1/invoices/{id}/accept", {"id": accepted["id"]}, emits=["invoice.accepted"])
    disputed = write("POST", "/v1/portal/self-billed-invoices", body={"order_ids": [second_spare["id"]]}, token=customer,
                     emits=["invoice.created", "invoice.issued"])
    write("POST", "/v1/invoices/{id}/dispute", {"id": disputed["id"]}, {"reason": "Unit price differs"},
          emits=["invoice.disputed"])
    write("POST", "/v1/self-billing/agreements/{id}/terminate", {"id": agreement["id"]},
          emits=["self_billing_agreement.terminated"])

    # Tiers from this year's profit: the customers with orders change tier.
    write("POST", "/v1/analytics/tiers/recompute", query={"basis_year": today.year}, emits=["company.tier_changed"])
    write("POST", "/v1/webhook-endpoints/{id}/test", {"id": endpoint["id"]}, status=202, emits=["webhook_endpoint.test"])
except WriteFailed as error:
    fail(f"the writes stopped at {error}; the checks below run on what happened before it")

writes_done = time.time()

# ---------------------------------------------------------------------------------------------
# Wait until every event of the feed has arrived and nothing more comes.

deadline = writes_done + SETTLE_TIMEOUT
feed = []
while True:
    feed, _ = feed_from(head)
    got = deliveries()
    delivered_ids = {d["headers"].get("webhook-id") for d in got}
    last_arrival = max((d["at"] for d in got), default=writes_done)
    settled = feed and {e["id"] for e in feed} <= delivered_ids and time.time() - max(last_arrival, writes_done) >= QUIET
    if settled or time.time() > deadline:
        break
    time.sleep(0.25)
got = deliveries()
waited = time.time() - writes_done
server.shutdown()

# ---------------------------------------------------------------------------------------------
# Check every delivery.

by_id = {e["id"]: e for e in feed}
per_type = collections.Counter()
seen = collections.Counter()
bodies = {}
if not got:
    fail("no delivery arrived")
for delivery in got:
    headers, raw = delivery["headers"], delivery["body"]
    webhook_id = headers.get("webhook-id")
    where = f"delivery {webhook_id}"
    try:
        body = json.loads(raw)
    except ValueError:
        fail(f"{where}: body is not JSON: {raw[:200]!r}")
        continue
    event_type = body.get("type") if isinstance(body, dict) else None
    where = f"{event_type} {webhook_id}"
    per_type[event_type] += 1
    seen[webhook_id] += 1
    bodies[webhook_id] = body
    if delivery["path"] != HOOK_PATH:
        fail(f"{where}: posted to {delivery['path']}, not {HOOK_PATH}")
    if not headers.get("content-type", "").startswith("application/json"):
        fail(f"{where}: content-type {headers.get('content-type')!r}")
    missing = [h for h in ("webhook-id", "webhook-timestamp", "webhook-signature") if not headers.get(h)]
    if missing:
        fail(f"{where}: missing headers {missing}")
        continue
    if body.get("id") != webhook_id:
        fail(f"{where}: webhook-id differs from the body's id {body.get('id')}")
    # The library...
    try:
        signer.verify(raw, {k: headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")})
    except standardwebhooks.WebhookVerificationError as error:
        fail(f"{where}: standardwebhooks refuses it: {error}")
    # ...and by hand.
    timestamp = headers["webhook-timestamp"]
    if not timestamp.isdigit() or abs(int(timestamp) - delivery["at"]) > 300:
        fail(f"{where}: webhook-timestamp {timestamp!r} is not unix seconds near its arrival ({delivery['at']:.0f})")
    expected = base64.b64encode(hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + raw, hashlib.sha256).digest()).decode()
    signatures = headers["webhook-signature"].split(" ")
    if not any(s.startswith("v1,") and hmac.compare_digest(s[3:], expected) for s in signatures):
        fail(f"{where}: no v1 signature equals the HMAC-SHA256 computed by hand ({headers['webhook-signature']!r})")
    # The OpenAPI document.
    validator = validators.get(event_type)
    if validator is None:
        fail(f"{where}: no webhooks entry (or no usable schema) in the OpenAPI document for type {event_type!r}")
    else:
        errors = [f"{'/'.join(map(str, e.instance_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(body)]
        if errors:
            fail(f"{where}: body does not validate against webhooks[{event_type}]: {errors[:10]}; body {json.dumps(body)[:1500]}")
    # The feed.
    if webhook_id not in by_id:
        fail(f"{where}: delivered, but not in GET /v1/events")
    elif by_id[webhook_id] != body:
        fail(f"{where}: differs from the feed's event: delivered {json.dumps(body)[:600]}; feed {json.dumps(by_id[webhook_id])[:600]}")

for webhook_id, count in seen.items():
    if count > 1:
        fail(f"{bodies[webhook_id]['type']} {webhook_id} delivered {count} times, though every attempt was answered 204")
undelivered = [e for e in feed if e["id"] not in seen]
for event in undelivered:
    fail(f"{event['type']} {event['id']} is in the feed but was not delivered within {SETTLE_TIMEOUT:.0f}s")
if not feed:
    fail("the feed holds no event after the subscription")

# Which write made each event: its occurred_at falls inside exactly one write's window.
events = {**{i: b for i, b in bodies.items() if isinstance(b, dict)}, **by_id}
for event in events.values():
    at = micros(event["occurred_at"])
    owners = [w for w in writes if w["start"] <= at <= w["end"]]
    if len(owners) != 1:
        fail(f"{event['type']} {event['id']} at {event['occurred_at']} happened during {len(owners)} writes "
             f"({[w['label'] for w in owners]}), not one")
        continue
    owners[0]["events"].append(event)
for entry in writes:
    types = [e["type"] for e in entry["events"]]
    if entry["nothing"] and types:
        fail(f"{entry['label']} must emit nothing but emitted {types}: {json.dumps(entry['events'])[:800]}")
    undeclared = sorted(set(types) - entry["declared"])
    if undeclared and not entry["nothing"]:
        fail(f"{entry['label']} emitted {undeclared}, which its operation does not declare (x-events {sorted(entry['declared'])})")
    absent = sorted(entry["emits"] - set(types))
    if absent and not entry["failed"]:
        fail(f"{entry['label']} did not emit {absent} (it emitted {types})")
leaked = [e["type"] for e in events.values() if refused_email in json.dumps(e)]
if leaked:
    fail(f"the refused contact appears in events {leaked}")

# The new contact: arrived within seconds, data equal to its GET.
latency = None
if contact_id is None:
    fail("the new contact was not created, so its contact.created could not be checked")
else:
    mine = [(d, bodies.get(d["headers"].get("webhook-id"))) for d in got]
    mine = [(d, b) for d, b in mine if isinstance(b, dict) and b.get("type") == "contact.created"
            and isinstance(b.get("data"), dict) and b["data"].get("id") == contact_id]
    if not mine:
        fail(f"no contact.created arrived for the new contact {contact_id}")
    else:
        delivery, body = mine[0]
        latency = delivery["at"] - contact_created_at
        if latency > MAX_LATENCY:
            fail(f"contact.created arrived {latency:.2f}s after the contact's POST was sent (more than {MAX_LATENCY:.0f}s)")
        if body["data"] != contact_get:
            fail(f"contact.created data differs from GET /v1/contacts/{contact_id}: "
                 f"event {json.dumps(body['data'])}; GET {json.dumps(contact_get)}")

# ---------------------------------------------------------------------------------------------

print(f"webhooks summary: {len(writes)} writes, {len(got)} deliveries of {len(feed)} feed events, "
      f"{len(per_type)} of {len(openapi.get('webhooks', {}))} event types, "
      f"writes took {writes_done - started:.1f}s, settled {waited:.1f}s after the last write"
      + (f", contact.created arrived {latency:.2f}s after its POST was sent" if latency is not None else ""))
for event_type, count in sorted(per_type.items(), key=lambda kv: str(kv[0])):
    print(f"  {count:3d}  {event_type}")
never = sorted(set(openapi.get("webhooks", {})) - set(per_type))
print(f"  not exercised: {', '.join(never) if never else 'none'}")
if failures:
    print(f"FAIL: {len(failures)} webhook checks failed")
    sys.exit(1)
print("OK: every delivery signed (standardwebhooks and by hand), valid against its webhooks schema, "
      "equal to its feed event; refused and no-op writes emitted nothing")
