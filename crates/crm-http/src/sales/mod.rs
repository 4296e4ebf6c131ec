pub mod documents;
pub mod last_prices;
pub mod leads;
pub mod opportunities;
pub mod orders;
pub mod pipelines;
pub mod products;
pub mod quotes;
pub mod related;
use crate::platform::routing::Segmented;

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/contacts", last_prices::contacts_routes);
    cfg.segment("/companies", last_prices::companies_routes);
    cfg.segment("/leads", leads::routes);
    cfg.segment("/products", products::routes);
    cfg.segment("/quotes", quotes::routes);
    cfg.segment("/orders", orders::routes);
    cfg.segment("/pipelines", pipelines::routes);
    cfg.segment("/opportunities", opportunities::opportunities_routes);
    cfg.segment("/forecast", opportunities::forecast_routes);
}
