pub mod companies;
pub mod contacts;
pub mod interactions;
pub mod tags;

/// The context's `/v1` routes; `crate::routes` composes the contexts.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(companies::list_companies);
    cfg.service(companies::search_companies);
    cfg.service(companies::create_company);
    cfg.service(companies::get_company);
    cfg.service(companies::update_company);
    cfg.service(companies::delete_company);
    cfg.service(contacts::list_company_contacts);
    cfg.service(contacts::list_contacts);
    cfg.service(contacts::search_contacts);
    cfg.service(contacts::create_contact);
    cfg.service(contacts::get_contact);
    cfg.service(contacts::update_contact);
    cfg.service(contacts::delete_contact);
    cfg.service(interactions::list_interactions);
    cfg.service(interactions::create_interaction);
    cfg.service(interactions::get_interaction);
    cfg.service(interactions::update_interaction);
    cfg.service(interactions::delete_interaction);
}
