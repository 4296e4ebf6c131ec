//! HTTP: actix-web handlers, DTOs, auth, problem+json errors, pagination, ETags,
//! idempotency, and the OpenAPI document built from the same route registrations.

pub mod access;
pub mod analytics;
pub mod billing;
pub mod parties;
pub mod platform;
pub mod sales;

use access::{api_keys, session, users};
use analytics::{commission_rates, overview, profit, timeline};
use billing::{invoices, portal, returns, self_billing};
use parties::{companies, contacts, interactions};
use platform::{exchange_rates, middleware, ops, routing, settings};
use sales::{last_prices, leads, opportunities, orders, pipelines, products, quotes};

use std::net::TcpListener;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::{header, Method};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use utoipa::openapi::OpenApi;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{scope, AppExt};
use utoipa_swagger_ui::SwaggerUi;

pub use platform::error::ApiError;
pub use platform::state::{AppState, HttpSettings};

/// Every route, in one place. The router and the OpenAPI document are both built from it, so
/// an endpoint cannot exist without its spec.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .service(
            scope::scope("/v1")
                .service(session::create_token)
                .service(session::refresh)
                .service(session::revoke)
                .service(users::list_users)
                .service(users::create_user)
                .service(users::get_user)
                .service(users::update_user)
                .service(users::delete_user)
                .service(api_keys::list_api_keys)
                .service(api_keys::create_api_key)
                .service(api_keys::get_api_key)
                .service(api_keys::delete_api_key)
                .service(companies::list_companies)
                .service(companies::create_company)
                .service(companies::get_company)
                .service(companies::update_company)
                .service(companies::delete_company)
                .service(contacts::list_company_contacts)
                .service(timeline::company_timeline)
                .service(contacts::list_contacts)
                .service(contacts::create_contact)
                .service(contacts::get_contact)
                .service(contacts::update_contact)
                .service(contacts::delete_contact)
                .service(timeline::contact_timeline)
                .service(interactions::list_interactions)
                .service(interactions::create_interaction)
                .service(interactions::get_interaction)
                .service(interactions::update_interaction)
                .service(interactions::delete_interaction)
                .service(last_prices::contact_last_prices)
                .service(last_prices::company_last_prices)
                .service(leads::list_leads)
                .service(leads::create_lead)
                .service(leads::intake_lead)
                .service(leads::get_lead)
                .service(leads::update_lead)
                .service(leads::delete_lead)
                .service(leads::assign_lead)
                .service(leads::qualify_lead)
                .service(leads::disqualify_lead)
                .service(leads::convert_lead)
                .service(products::list_products)
                .service(products::create_product)
                .service(products::get_product)
                .service(products::update_product)
                .service(products::delete_product)
                .service(quotes::list_quotes)
                .service(quotes::create_quote)
                .service(quotes::get_quote)
                .service(quotes::update_quote)
                .service(quotes::send_quote)
                .service(quotes::accept_quote)
                .service(quotes::reject_quote)
                .service(quotes::cancel_quote)
                .service(quotes::revise_quote)
                .service(quotes::convert_quote)
                .service(orders::upsert_order)
                .service(orders::import_orders)
                .service(orders::list_orders)
                .service(orders::get_order)
                .service(orders::pay_order)
                .service(orders::fulfil_order)
                .service(orders::cancel_order)
                .service(pipelines::list_pipelines)
                .service(pipelines::create_pipeline)
                .service(pipelines::get_pipeline)
                .service(pipelines::update_pipeline)
                .service(pipelines::delete_pipeline)
                .service(pipelines::create_stage)
                .service(pipelines::update_stage)
                .service(opportunities::list_opportunities)
                .service(opportunities::create_opportunity)
                .service(opportunities::get_opportunity)
                .service(opportunities::update_opportunity)
                .service(opportunities::delete_opportunity)
                .service(opportunities::opportunity_history)
                .service(opportunities::get_forecast)
                .service(exchange_rates::list_exchange_rates)
                .service(exchange_rates::put_exchange_rate)
                .service(exchange_rates::delete_exchange_rate)
                .service(settings::get_company_settings)
                .service(settings::update_company_settings)
                .service(commission_rates::get_commission_rates)
                .service(commission_rates::set_commission_rates)
                .service(invoices::list_series)
                .service(invoices::create_series)
                .service(invoices::get_series)
                .service(invoices::update_series)
                .service(invoices::verify_series)
                .service(invoices::list_invoices)
                .service(invoices::create_invoice)
                .service(invoices::get_invoice)
                .service(invoices::update_invoice)
                .service(invoices::delete_invoice)
                .service(invoices::issue_invoice)
                .service(invoices::create_credit_note)
                .service(invoices::create_payment)
                .service(invoices::list_payments)
                .service(self_billing::accept_invoice)
                .service(self_billing::dispute_invoice)
                .service(self_billing::list_agreements)
                .service(self_billing::create_agreement)
                .service(self_billing::get_agreement)
                .service(self_billing::terminate_agreement)
                .service(self_billing::create_self_billed_invoice)
                .service(returns::list_returns)
                .service(returns::create_return)
                .service(returns::return_report)
                .service(returns::get_return)
                .service(returns::update_return)
                .service(returns::approve_return)
                .service(returns::reject_return)
                .service(returns::receive_return)
                .service(returns::resolve_return)
                .service(returns::close_return)
                .service(returns::withdraw_return)
                .service(portal::list_portal_invoices)
                .service(portal::get_portal_invoice)
                .service(portal::list_portal_orders)
                .service(portal::get_portal_order)
                .service(portal::list_portal_quotes)
                .service(portal::get_portal_quote)
                .service(portal::accept_portal_quote)
                .service(portal::reject_portal_quote)
                .service(portal::list_portal_returns)
                .service(portal::get_portal_return)
                .service(portal::create_portal_return)
                .service(portal::get_fiscal_data)
                .service(portal::update_fiscal_data)
                .service(profit::customer_profit)
                .service(profit::rank_customers)
                .service(profit::recompute_tiers)
                .service(profit::product_analytics)
                .service(profit::commissions)
                .service(profit::customer_clv)
                .service(overview::company_overview)
                .service(overview::contact_overview),
        );
}

/// The OpenAPI document of the routes above.
pub fn openapi() -> OpenApi {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .configure(routes)
        .split_for_parts();
    platform::openapi::apply_conventions(&mut api);
    api
}

/// The document as committed in `openapi/openapi.json`.
pub fn openapi_json() -> Result<String, serde_json::Error> {
    openapi().to_pretty_json().map(|mut s| {
        s.push('\n');
        s
    })
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::HeaderName::from_static("idempotency-key"),
            middleware::REQUEST_ID,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            middleware::REQUEST_ID,
        ])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// The OpenAPI document, serialised once and shared by every worker.
struct OpenApiJson(web::Bytes);

async fn openapi_document(document: web::Data<OpenApiJson>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}

/// Serves the API on `listener`.
pub fn serve(listener: TcpListener, state: AppState, workers: usize) -> std::io::Result<Server> {
    let api = openapi();
    let known_paths = web::Data::new(routing::KnownPaths::from_document(&api));
    let document = web::Data::new(OpenApiJson(web::Bytes::from(
        api.to_json().map_err(std::io::Error::other)?,
    )));
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        let (app, _) = App::new()
            .into_utoipa_app()
            .configure(routes)
            .split_for_parts();
        app.app_data(data.clone())
            .app_data(document.clone())
            .app_data(known_paths.clone())
            .app_data(routing::path_config())
            .route("/openapi.json", web::get().to(openapi_document))
            .service(web::redirect("/docs", "/docs/").permanent())
            .service(
                SwaggerUi::new("/docs/{_:.*}")
                    .config(utoipa_swagger_ui::Config::from("/openapi.json")),
            )
            .default_service(web::to(routing::unmatched))
            .wrap(from_fn(middleware::idempotency))
            .wrap(cors(&data.settings.cors_origins))
            .wrap(from_fn(middleware::record_metrics))
            .wrap(from_fn(middleware::request_context))
    })
    .workers(workers)
    .listen(listener)?
    .run();
    Ok(server)
}
