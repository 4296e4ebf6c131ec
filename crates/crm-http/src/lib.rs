//! HTTP: actix-web handlers, DTOs, auth, problem+json errors, pagination, ETags,
//! idempotency, and the OpenAPI document built from the same route registrations.

pub mod access;
pub mod analytics;
pub mod billing;
pub mod engagement;
pub mod events;
pub mod integrations;
pub mod marketing;
pub mod parties;
pub mod platform;
pub mod sales;
pub mod service;

use platform::routing::{Register, Segmented, Segments};
use platform::{middleware, ops, routing};

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

/// Each context's `/v1` routes by first segment; within a segment, in the order the router
/// tries them. The router and the OpenAPI document are both built from this list, so an
/// endpoint cannot exist without its spec.
fn contexts(cfg: &mut impl Segmented) {
    access::routes(cfg);
    parties::routes(cfg);
    sales::routes(cfg);
    billing::routes(cfg);
    analytics::routes(cfg);
    events::routes(cfg);
    integrations::routes(cfg);
    service::routes(cfg);
    marketing::routes(cfg);
    engagement::routes(cfg);
    platform::routes(cfg);
}

/// The operations endpoints, outside `/v1`.
fn operations(cfg: &mut impl Register) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics);
}

/// A worker's router: every route, registered with actix alone.
fn router(cfg: &mut web::ServiceConfig) {
    operations(cfg);
    let mut segments = Segments::default();
    contexts(&mut segments);
    cfg.service(web::scope("/v1").configure(move |cfg| segments.register("/v1", cfg)));
}

/// The OpenAPI document of the routes above.
pub fn openapi() -> OpenApi {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .configure(|cfg: &mut ServiceConfig| {
            operations(cfg);
            cfg.service(scope::scope("/v1").configure(|cfg: &mut ServiceConfig| contexts(cfg)));
        })
        .split_for_parts();
    platform::openapi::apply_conventions(&mut api);
    api
}

/// The document as served and as committed in `openapi/openapi.json`: the routes' document
/// with the `webhooks` object added.
pub fn openapi_document() -> Result<serde_json::Value, serde_json::Error> {
    document_of(&openapi())
}

pub(crate) fn document_of(api: &OpenApi) -> Result<serde_json::Value, serde_json::Error> {
    let mut document = serde_json::to_value(api)?;
    events::openapi::add_webhooks(&mut document);
    Ok(document)
}

/// The document as committed in `openapi/openapi.json`.
pub fn openapi_json() -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&openapi_document()?).map(|mut s| {
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
            middleware::RATE_LIMIT_LIMIT,
            middleware::RATE_LIMIT_REMAINING,
            middleware::RATE_LIMIT_RESET,
        ])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Serves the API on `listener`.
pub fn serve(listener: TcpListener, state: AppState, workers: usize) -> std::io::Result<Server> {
    let document = web::Data::new(routing::ServedDocument::default());
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        let app = App::new().configure(router);
        platform::memory::release_freed();
        app.app_data(data.clone())
            .app_data(document.clone())
            .app_data(routing::path_config())
            .route("/openapi.json", web::get().to(routing::serve_document))
            .service(web::redirect("/docs", "/docs/").permanent())
            .service(
                SwaggerUi::new("/docs/{_:.*}")
                    .config(utoipa_swagger_ui::Config::from("/openapi.json")),
            )
            .default_service(web::to(routing::unmatched))
            .wrap(from_fn(middleware::route_reads))
            .wrap(from_fn(middleware::idempotency))
            // Inside CORS, so that a `429` carries the CORS headers too; outside idempotency,
            // so that a refused request claims no key.
            .wrap(from_fn(middleware::rate_limit))
            .wrap(cors(&data.settings.cors_origins))
            .wrap(from_fn(middleware::record_metrics))
            .wrap(from_fn(middleware::request_context))
    })
    .workers(workers)
    // Longer than the idle timeout of the clients and load balancers in front (60 s on the
    // common ones), so the server never closes a kept-alive connection that a client is about to
    // reuse; actix's 5 s default made busy clients see requests dropped mid-send.
    .keep_alive(std::time::Duration::from_secs(75))
    // The binary handles SIGTERM and SIGINT itself, so that the webhook worker gives its
    // claims back before the process ends; actix would stop the whole system first.
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
