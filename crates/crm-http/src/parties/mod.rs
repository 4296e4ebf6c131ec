pub mod batch;
pub mod companies;
pub mod contacts;
pub mod interactions;
pub mod merged;
pub mod merges;
pub mod schema;
pub mod tags;
pub mod views;
use crate::platform::routing::{Register, Segmented};

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/companies", |cfg| {
        // Before the `/{id}` routes, which would take `batch` or `duplicates` for an id.
        cfg.service(batch::batch_upsert_companies);
        cfg.service(merges::list_company_duplicates);
        cfg.service(merges::dismiss_company_duplicates);
        cfg.service(companies::list_companies);
        cfg.service(companies::search_companies);
        cfg.service(companies::create_company);
        cfg.service(companies::get_company);
        cfg.service(companies::update_company);
        cfg.service(companies::delete_company);
        cfg.service(merges::merge_companies);
        cfg.service(merges::list_company_merges);
        cfg.service(contacts::list_company_contacts);
    });
    cfg.segment("/contacts", |cfg| {
        cfg.service(batch::batch_upsert_contacts);
        cfg.service(merges::list_contact_duplicates);
        cfg.service(merges::dismiss_contact_duplicates);
        cfg.service(contacts::list_contacts);
        cfg.service(contacts::search_contacts);
        cfg.service(contacts::create_contact);
        cfg.service(contacts::get_contact);
        cfg.service(contacts::update_contact);
        cfg.service(contacts::delete_contact);
        cfg.service(merges::merge_contacts);
        cfg.service(merges::list_contact_merges);
    });
    cfg.segment("/schema", |cfg| {
        cfg.service(schema::get_object_schema);
        cfg.service(schema::list_custom_fields);
        cfg.service(schema::create_custom_field);
        cfg.service(schema::get_custom_field);
        cfg.service(schema::update_custom_field);
        cfg.service(schema::delete_custom_field);
    });
    cfg.segment("/views", |cfg| {
        cfg.service(views::list_views);
        cfg.service(views::create_view);
        cfg.service(views::get_view);
        cfg.service(views::update_view);
        cfg.service(views::delete_view);
    });
    cfg.segment("/interactions", |cfg| {
        cfg.service(interactions::list_interactions);
        cfg.service(interactions::create_interaction);
        cfg.service(interactions::get_interaction);
        cfg.service(interactions::update_interaction);
        cfg.service(interactions::delete_interaction);
    });
}
