//! Route registration, and what the server answers when no route matches: a problem+json `404`
//! for an unknown path, and a `405` with `Allow` for a known path asked with a method it does
//! not serve. The known paths are read from the OpenAPI document, which is built from the same
//! route registrations, so the two cannot disagree.

use std::sync::{Arc, OnceLock};

use actix_web::dev::{HttpServiceFactory, ResourceDef};
use actix_web::{web, HttpRequest, HttpResponse};
use utoipa::openapi::OpenApi;
use utoipa_actix_web::OpenApiFactory;

use crate::platform::error::ApiError;

/// Where a context registers its handlers: the router of a serving worker, or the builder of
/// the OpenAPI document. Workers register with actix alone, so that no worker builds the
/// document's paths and schemas beside its router.
pub trait Register {
    fn service<F>(&mut self, handler: F) -> &mut Self
    where
        F: HttpServiceFactory + OpenApiFactory + 'static;
}

impl Register for web::ServiceConfig {
    fn service<F>(&mut self, handler: F) -> &mut Self
    where
        F: HttpServiceFactory + OpenApiFactory + 'static,
    {
        web::ServiceConfig::service(self, handler)
    }
}

impl Register for utoipa_actix_web::service_config::ServiceConfig<'_> {
    fn service<F>(&mut self, handler: F) -> &mut Self
    where
        F: HttpServiceFactory + OpenApiFactory + 'static,
    {
        utoipa_actix_web::service_config::ServiceConfig::service(self, handler)
    }
}

/// The served OpenAPI document and the known paths read from it, built on first use: an idle
/// node never builds them, and a node builds them once, not once per worker.
#[derive(Default)]
pub struct ServedDocument(OnceLock<Result<Arc<Built>, String>>);

pub struct Built {
    pub json: web::Bytes,
    pub known: KnownPaths,
}

impl ServedDocument {
    /// Builds the document off the async worker the first time, and shares it afterwards.
    pub async fn get(document: web::Data<ServedDocument>) -> Result<Arc<Built>, ApiError> {
        if let Some(built) = document.0.get() {
            return built.clone().map_err(unbuilt);
        }
        web::block(move || {
            let built = document.0.get_or_init(|| {
                let api = crate::openapi();
                let built = crate::document_of(&api)
                    .and_then(|json| serde_json::to_vec(&json))
                    .map(|json| {
                        Arc::new(Built {
                            json: web::Bytes::from(json),
                            known: KnownPaths::from_document(&api),
                        })
                    })
                    .map_err(|e| format!("building the OpenAPI document: {e}"));
                drop(api);
                crate::platform::memory::release_freed();
                built
            });
            built.clone()
        })
        .await
        .map_err(unbuilt)?
        .map_err(unbuilt)
    }
}

fn unbuilt(cause: impl std::fmt::Display) -> ApiError {
    tracing::error!(%cause, "the OpenAPI document could not be built");
    ApiError::Internal
}

/// `GET /openapi.json`.
pub async fn serve_document(document: web::Data<ServedDocument>) -> Result<HttpResponse, ApiError> {
    let built = ServedDocument::get(document).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(built.json.clone()))
}

/// Every documented path template with the methods it serves.
pub struct KnownPaths(Vec<(ResourceDef, Vec<&'static str>)>);

/// `path` with each of our id segments (`{id}`, `{stage_id}`) matching hexadecimal and dashes
/// only, as the routes do, so that a literal sibling (`/leads/intake`) is not also an id.
fn ids_as_hex(path: &str) -> String {
    path.split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if crate::platform::ids::is_our_id(name) => {
                    format!("{{{name}:[0-9a-fA-F-]+}}")
                }
                _ => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

impl KnownPaths {
    pub fn from_document(api: &OpenApi) -> Self {
        let known = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, served)| served.then_some(method))
                .collect();
                (ResourceDef::new(ids_as_hex(path)), methods)
            })
            .collect();
        KnownPaths(known)
    }

    /// The methods some template matching `path` serves, in a stable order, or none when no
    /// template matches.
    pub fn allowed(&self, path: &str) -> Option<String> {
        let mut methods: Vec<&str> = self
            .0
            .iter()
            .filter(|(template, _)| template.is_match(path))
            .flat_map(|(_, methods)| methods.iter().copied())
            .collect();
        if methods.is_empty() {
            return None;
        }
        const ORDER: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
        methods.sort_by_key(|m| ORDER.iter().position(|o| o == m));
        methods.dedup();
        Some(methods.join(", "))
    }
}

/// The app's default service.
pub async fn unmatched(
    request: HttpRequest,
    document: web::Data<ServedDocument>,
) -> Result<HttpResponse, ApiError> {
    let built = ServedDocument::get(document).await?;
    Err(match built.known.allowed(request.path()) {
        Some(allow) => ApiError::MethodNotAllowed { allow },
        None => ApiError::NotFound,
    })
}

/// A path segment that does not parse (a date that is not a date) names no resource.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> KnownPaths {
        KnownPaths(vec![
            (ResourceDef::new("/v1/leads"), vec!["GET", "POST"]),
            (
                ResourceDef::new("/v1/leads/{id}"),
                vec!["GET", "PATCH", "DELETE"],
            ),
            (ResourceDef::new("/v1/leads/intake"), vec!["POST"]),
        ])
    }

    #[test]
    fn a_known_path_lists_the_methods_of_every_template_it_matches() {
        assert_eq!(known().allowed("/v1/leads").as_deref(), Some("GET, POST"));
        assert_eq!(
            known().allowed("/v1/leads/intake").as_deref(),
            Some("GET, POST, PATCH, DELETE")
        );
        assert_eq!(
            known().allowed("/v1/leads/0190").as_deref(),
            Some("GET, PATCH, DELETE")
        );
    }

    #[test]
    fn an_unknown_path_has_no_methods() {
        assert_eq!(known().allowed("/v1/leeds"), None);
        assert_eq!(known().allowed("/v1/leads/1/2"), None);
    }
}
