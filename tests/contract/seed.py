"""Seeds a fresh server with a little of everything, so that fuzzed reads find records."""
import datetime
import json
import sys
import urllib.request

BASE, TOKEN = sys.argv[1], sys.argv[2]


def call(method, path, body=None):
    request = urllib.request.Request(
        BASE + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        text = response.read()
        return json.loads(text) if text else None


eur = lambda amount: {"amount_minor": amount, "currency": "EUR"}
# The order is recent so that it is still inside the return window whenever this runs.
ordered_at = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
call("PATCH", "/v1/settings/company", {"legal_name": "Fuzz SL", "tax_id": "ESB00000000"})
call("POST", "/v1/products", {"sku": "F-1", "name": "Widget", "unit_price": eur(1000), "unit_cost": eur(600), "tax_rate_bp": 2100})
company = call("POST", "/v1/companies", {"name": "Seed Co", "tax_id": "ESB12345678", "billing_address": {"country": "ES"}})
contact = call("POST", "/v1/contacts", {"last_name": "Seed", "email": "seed@example.com", "phone": "600 123 456", "company_id": company["id"]})
call("POST", "/v1/interactions", {"contact_id": contact["id"], "kind": "call", "occurred_at": "2026-01-01T10:00:00Z"})
call("POST", "/v1/leads", {"last_name": "Lead", "email": "lead@example.com", "company_name": "Lead SL"})
order = call("PUT", "/v1/orders/by-external-id/shop/1", {"ordered_at": ordered_at, "currency": "EUR", "status": "fulfilled", "company_id": company["id"],
        "customer": {"email": "seed@example.com"}, "lines": [{"sku": "F-1", "quantity": "2", "unit_price": eur(1000)}]})
quote = call("POST", "/v1/quotes", {"company_id": company["id"], "currency": "EUR", "lines": [{"description": "x", "quantity": "1", "unit_price": eur(500)}]})
invoice = call("POST", "/v1/invoices", {"company_id": company["id"], "order_ids": [order["id"]]})
call("POST", f"/v1/invoices/{invoice['id']}/issue")
call("POST", "/v1/opportunities", {"name": "Deal", "company_id": company["id"], "amount": eur(100000), "expected_close_date": "2027-01-31"})
call("POST", "/v1/returns", {"order_id": order["id"], "lines": [{"order_line_id": order["lines"][0]["id"], "quantity": "1", "reason": "damaged"}]})
print("seeded")
