pub mod batch;
pub mod companies;
pub mod contacts;
pub mod interactions;
pub mod merged;
pub mod merges;
pub mod schema;
pub mod tags;
pub mod views;
use crate::platform::routing::Segmented;

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    // The record's own routes first in its segment: a read by id is the commonest request,
    // and actix tries the regular expression of each route before it in turn. Their ids are
    // hexadecimal, so they never take `batch` or `duplicates`.
    cfg.segment("/companies", companies::routes);
    cfg.segment("/companies", batch::companies_routes);
    cfg.segment("/companies", merges::companies_routes);
    cfg.segment("/companies", contacts::companies_routes);
    cfg.segment("/contacts", contacts::contacts_routes);
    cfg.segment("/contacts", batch::contacts_routes);
    cfg.segment("/contacts", merges::contacts_routes);
    cfg.segment("/schema", schema::routes);
    cfg.segment("/views", views::routes);
    cfg.segment("/interactions", interactions::routes);
}
