pub mod documents;
pub mod last_prices;
pub mod leads;
pub mod opportunities;
pub mod orders;
pub mod pipelines;
pub mod products;
pub mod quotes;
pub mod related;
use crate::platform::routing::{Register, Segmented};

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/contacts", |cfg| {
        cfg.service(last_prices::contact_last_prices);
    });
    cfg.segment("/companies", |cfg| {
        cfg.service(last_prices::company_last_prices);
    });
    cfg.segment("/leads", |cfg| {
        cfg.service(leads::list_leads);
        cfg.service(leads::search_leads);
        cfg.service(leads::create_lead);
        cfg.service(leads::intake_lead);
        cfg.service(leads::get_lead);
        cfg.service(leads::update_lead);
        cfg.service(leads::delete_lead);
        cfg.service(leads::assign_lead);
        cfg.service(leads::qualify_lead);
        cfg.service(leads::disqualify_lead);
        cfg.service(leads::convert_lead);
    });
    cfg.segment("/products", |cfg| {
        cfg.service(products::list_products);
        cfg.service(products::create_product);
        cfg.service(products::get_product);
        cfg.service(products::update_product);
        cfg.service(products::delete_product);
    });
    cfg.segment("/quotes", |cfg| {
        cfg.service(quotes::list_quotes);
        cfg.service(quotes::create_quote);
        cfg.service(quotes::get_quote);
        cfg.service(quotes::update_quote);
        cfg.service(quotes::send_quote);
        cfg.service(quotes::accept_quote);
        cfg.service(quotes::reject_quote);
        cfg.service(quotes::cancel_quote);
        cfg.service(quotes::revise_quote);
        cfg.service(quotes::convert_quote);
    });
    cfg.segment("/orders", |cfg| {
        cfg.service(orders::upsert_order);
        cfg.service(orders::import_orders);
        cfg.service(orders::list_orders);
        cfg.service(orders::search_orders);
        cfg.service(orders::get_order);
        cfg.service(orders::pay_order);
        cfg.service(orders::fulfil_order);
        cfg.service(orders::cancel_order);
    });
    cfg.segment("/pipelines", |cfg| {
        cfg.service(pipelines::list_pipelines);
        cfg.service(pipelines::create_pipeline);
        cfg.service(pipelines::get_pipeline);
        cfg.service(pipelines::update_pipeline);
        cfg.service(pipelines::delete_pipeline);
        cfg.service(pipelines::create_stage);
        cfg.service(pipelines::update_stage);
    });
    cfg.segment("/opportunities", |cfg| {
        cfg.service(opportunities::list_opportunities);
        cfg.service(opportunities::search_opportunities);
        cfg.service(opportunities::create_opportunity);
        cfg.service(opportunities::get_opportunity);
        cfg.service(opportunities::update_opportunity);
        cfg.service(opportunities::delete_opportunity);
        cfg.service(opportunities::opportunity_history);
    });
    cfg.segment("/forecast", |cfg| {
        cfg.service(opportunities::get_forecast);
    });
}
