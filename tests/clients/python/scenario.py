"""The main story of the CRM, walked with nothing but the client generated from
openapi/openapi.json. Usage: scenario.py BASE_URL EMAIL PASSWORD"""
import sys
import uuid

from crm_client import AuthenticatedClient, Client
from crm_client.api.auth import create_token
from crm_client.api.companies import create_company
from crm_client.api.contacts import create_contact, list_contacts
from crm_client.api.invoices import create_invoice, create_payment, issue_invoice
from crm_client.api.leads import convert_lead, create_lead
from crm_client.api.orders import get_order, import_orders
from crm_client.api.products import create_product
from crm_client.api.quotes import accept_quote, convert_quote, create_quote, send_quote
from crm_client.api.returns import create_return
from crm_client.api.settings import update_company_settings
from crm_client.models import (
    CompanyCreate,
    CompanySettingsUpdate,
    ContactCreate,
    ConvertLead,
    InvoiceCreate,
    LeadCreate,
    LineInput,
    Money,
    OrderCustomer,
    OrderLinePayload,
    OrderPayload,
    PaymentCreate,
    ProductCreate,
    QuoteCreate,
    ReturnCreate,
    ReturnLineCreate,
    TokenRequest,
)


def ok(response, status=200):
    assert response.status_code == status, f"{response.status_code}: {response.content[:500]!r}"
    return response.parsed


base, email, password = sys.argv[1:4]
run = uuid.uuid4().hex[:8]
eur = lambda amount: Money(amount_minor=amount, currency="EUR")

token = ok(create_token.sync_detailed(client=Client(base_url=base), body=TokenRequest(email=email, password=password)))
assert token.token_type == "Bearer"
api = AuthenticatedClient(base_url=base, token=token.access_token)

company = ok(create_company.sync_detailed(client=api, body=CompanyCreate(name=f"Scenario {run} SL", tax_id="ESB12345678")), 201)
contact = ok(create_contact.sync_detailed(client=api, body=ContactCreate(last_name="García", first_name="Ana", email=f"ana-{run}@example.com", phone="600 123 456", company_id=company.id)), 201)
assert contact.phone == "+34600123456"
found = ok(list_contacts.sync_detailed(client=api, phone="0034 600-123-456", email=f"ana-{run}@example.com"))
assert [c.id for c in found.data] == [contact.id], "found by phone in another format"

lead = ok(create_lead.sync_detailed(client=api, body=LeadCreate(last_name="García", email=f"ANA-{run}@example.com")), 201)
conversion = ok(convert_lead.sync_detailed(id=lead.id, client=api, body=ConvertLead()))
assert conversion.contact_id == contact.id and conversion.contact_created is False, "linked, not duplicated"

sku = f"SC-{run}"
product = ok(create_product.sync_detailed(client=api, body=ProductCreate(sku=sku, name="Widget", unit_price=eur(1999), unit_cost=eur(1200), tax_rate_bp=2100)), 201)
quote = ok(create_quote.sync_detailed(client=api, body=QuoteCreate(company_id=company.id, contact_id=contact.id, currency="EUR", lines=[LineInput(product_id=product.id, quantity="2.5", discount_bp=1500)])), 201)
assert quote.totals.total.amount_minor == 5140
ok(send_quote.sync_detailed(id=quote.id, client=api))
ok(accept_quote.sync_detailed(id=quote.id, client=api))
converted = ok(convert_quote.sync_detailed(id=quote.id, client=api))
order = ok(get_order.sync_detailed(id=converted.order_id, client=api))
assert order.totals.total.amount_minor == quote.totals.total.amount_minor

batch = [
    OrderPayload(channel="shop-es", external_id=f"{run}-{i}", ordered_at=order.ordered_at, currency="EUR", status="fulfilled",
                 company_id=company.id, customer=OrderCustomer(email=f"buyer{i}-{run}@example.com"),
                 lines=[OrderLinePayload(sku=sku, quantity="1", unit_price=eur(1999), tax_rate_bp=2100)])
    for i in range(3)
]
first = ok(import_orders.sync_detailed(client=api, body=batch))
assert [r.status for r in first.results] == ["created"] * 3
again = ok(import_orders.sync_detailed(client=api, body=batch))
assert [r.status for r in again.results] == ["unchanged"] * 3

ok(update_company_settings.sync_detailed(client=api, body=CompanySettingsUpdate(legal_name="Nuestra SL", tax_id="ESB00000000")))
draft = ok(create_invoice.sync_detailed(client=api, body=InvoiceCreate(company_id=company.id, order_ids=[order.id])), 201)
invoice = ok(issue_invoice.sync_detailed(id=draft.id, client=api))
assert invoice.number and invoice.type_code == "380"
paid = ok(create_payment.sync_detailed(id=invoice.id, client=api, body=PaymentCreate(amount=eur(1000))), 201)
assert paid.status == "partially_paid"

ret = ok(create_return.sync_detailed(client=api, body=ReturnCreate(order_id=order.id, lines=[ReturnLineCreate(order_line_id=order.lines[0].id, quantity="1", reason="damaged")])), 201)
assert ret.number.startswith("RMA-")
print("python scenario: ok")
