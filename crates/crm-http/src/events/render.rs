//! An event's `data`: the resource as its `GET` answers an admin, rendered inside the writing
//! transaction with the same representation the endpoint uses, so that the two never differ.

use crm_domain::access::permissions::Reach;
use crm_domain::events::catalogue::EventResource;
use crm_store::platform::db::DbConnection;
use crm_store::StoreError;
use serde::Serialize;

use crate::billing::{invoices, returns, self_billing};
use crate::events::webhook_endpoints;
use crate::marketing::campaigns;
use crate::parties::{companies, contacts, interactions};
use crate::sales::{leads, opportunities, orders, products, quotes};
use crate::service::cases;
use crm_domain::access::roles::Role;
use crm_store::platform::clock::Clock;

fn json(value: impl Serialize) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Config(format!("rendering an event: {e}")))
}

/// Installs the store's renderers of event data; the application calls it when it starts.
pub fn install() {
    crm_store::events::outbox::install_renderer(render);
    crm_store::sales::orders::install_renderer(render_order);
}

fn render_order(order: &crm_store::sales::orders::Order) -> Result<serde_json::Value, StoreError> {
    json(orders::Order::from(order.clone()))
}

fn render(
    conn: &mut DbConnection,
    resource: EventResource,
    id: &str,
) -> Result<serde_json::Value, StoreError> {
    use crm_store::{billing, engagement, events, marketing, parties, sales, service};
    match resource {
        EventResource::Contact => json(contacts::Contact::from(parties::contacts::get(conn, id)?)),
        EventResource::Company => json(companies::Company::from(parties::companies::get(
            conn,
            id,
            Reach::All,
            None,
        )?)),
        EventResource::Product => json(products::Product::from(sales::products::get(conn, id)?)),
        EventResource::Interaction => json(interactions::Interaction::from(
            parties::interactions::get(conn, id)?,
        )),
        EventResource::Lead => json(leads::Lead::from(sales::leads::get(conn, id)?)),
        EventResource::Opportunity => json(opportunities::Opportunity::from(
            sales::opportunities::get(conn, id)?,
        )),
        EventResource::Quote => json(quotes::Quote::from(sales::quotes::get(conn, id)?)),
        EventResource::Order => render_order(&sales::orders::get(conn, id)?),
        EventResource::Return => json(returns::Return::from(billing::returns::get(conn, id)?)),
        EventResource::Invoice | EventResource::CreditNote => {
            json(invoices::Invoice::from(billing::invoices::get(conn, id)?))
        }
        EventResource::SelfBillingAgreement => json(self_billing::Agreement::from(
            billing::self_billing::get(conn, id)?,
        )),
        EventResource::WebhookEndpoint => json(webhook_endpoints::WebhookEndpoint::from(
            events::endpoints::get(conn, id)?,
        )),
        // The frozen test clock when an admin froze one, else real time: the instant the
        // writing transaction took as now.
        EventResource::Case => json(cases::Case::from(service::cases::get(
            conn,
            Clock::Test,
            id,
        )?)),
        EventResource::Campaign => json(campaigns::Campaign::for_role(
            marketing::campaigns::get(conn, id, &marketing::campaigns::Visible::default())?,
            Role::Admin,
        )),
        EventResource::Task => json(crate::engagement::tasks::Task::from(
            engagement::tasks::get(conn, id, &marketing::campaigns::Visible::default())?,
        )),
    }
}
