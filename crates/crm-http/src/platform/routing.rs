//! Route registration, and what the server answers when no route matches: a problem+json `404`
//! for an unknown path, and a `405` with `Allow` for a known path asked with a method it does
//! not serve. The known paths are read from the OpenAPI document, which is built from the same
//! route registrations, so the two cannot disagree.

use std::sync::{Arc, OnceLock};

use actix_web::dev::{HttpServiceFactory, ResourceDef};
use actix_web::guard::{Guard, GuardContext};
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

/// Where the contexts register their `/v1` routes, grouped by the first segment of their path
/// (`/contacts`). actix tries a scope's routes one after the other, each dynamic one with a
/// regular expression, so a route registered late costs every request for it a walk past all
/// the routes before it; grouped, a request tries one string comparison a segment and then only
/// the routes of its own segment.
pub trait Segmented {
    type Routes: Register;

    /// Registers `routes`, every one of whose paths begins with `segment`. Several contexts may
    /// register under one segment; its routes are tried in the order they were registered.
    fn segment(&mut self, segment: &'static str, routes: impl FnOnce(&mut Self::Routes));
}

impl Segmented for utoipa_actix_web::service_config::ServiceConfig<'_> {
    type Routes = Self;

    fn segment(&mut self, _: &'static str, routes: impl FnOnce(&mut Self)) {
        routes(self)
    }
}

type Registration = Box<dyn FnOnce(&mut web::ServiceConfig)>;

/// The routes of one segment, kept until the worker's router is built.
#[derive(Default)]
pub struct SegmentRoutes(Vec<Registration>);

impl Register for SegmentRoutes {
    fn service<F>(&mut self, handler: F) -> &mut Self
    where
        F: HttpServiceFactory + OpenApiFactory + 'static,
    {
        self.0.push(Box::new(move |cfg| {
            cfg.service(handler);
        }));
        self
    }
}

/// A worker's `/v1` routes by segment, in the order each segment was first named.
#[derive(Default)]
pub struct Segments(Vec<(&'static str, SegmentRoutes)>);

impl Segmented for Segments {
    type Routes = SegmentRoutes;

    fn segment(&mut self, segment: &'static str, routes: impl FnOnce(&mut SegmentRoutes)) {
        let at = match self.0.iter().position(|(named, _)| *named == segment) {
            Some(at) => at,
            None => {
                self.0.push((segment, SegmentRoutes::default()));
                self.0.len() - 1
            }
        };
        routes(&mut self.0[at].1)
    }
}

impl Segments {
    /// Registers each segment as a scope of its own, guarded by the segment, inside the scope
    /// mounted at `mount` (`/v1`). A path under a segment that none of its routes matches gets
    /// the app's default service, as before.
    pub fn register(self, mount: &'static str, cfg: &mut web::ServiceConfig) {
        for (segment, routes) in self.0 {
            let guard = FirstSegment {
                mount,
                segment: segment.trim_start_matches('/'),
            };
            cfg.service(web::scope("").guard(guard).configure(move |cfg| {
                for register in routes.0 {
                    register(cfg)
                }
            }));
        }
    }
}

/// Whether the request's path, below `mount`, begins with the segment `segment`. The segment
/// is compared percent-decoded, as actix's router decodes the path it matches.
struct FirstSegment {
    mount: &'static str,
    segment: &'static str,
}

impl Guard for FirstSegment {
    fn check(&self, ctx: &GuardContext<'_>) -> bool {
        let Some(below) = ctx.head().uri.path().strip_prefix(self.mount) else {
            return false;
        };
        let Some(below) = below.strip_prefix('/') else {
            return false;
        };
        let first = below.split('/').next().unwrap_or_default();
        first == self.segment
            || (first.contains('%')
                && percent_encoding::percent_decode_str(first).decode_utf8_lossy() == self.segment)
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
pub struct KnownPaths(Vec<KnownPath>);

struct KnownPath {
    template: String,
    /// The template up to its first parameter: a path without it cannot match, and checking
    /// that is a string comparison where the matcher is a regular expression.
    literal_prefix: String,
    matcher: ResourceDef,
    methods: Vec<&'static str>,
}

impl KnownPath {
    fn new(template: &str, matcher: ResourceDef, methods: Vec<&'static str>) -> Self {
        let literal_prefix = template.split('{').next().unwrap_or_default().to_owned();
        KnownPath {
            template: template.to_owned(),
            literal_prefix,
            matcher,
            methods,
        }
    }

    fn matches(&self, path: &str) -> bool {
        path.starts_with(&self.literal_prefix) && self.matcher.is_match(path)
    }
}

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
                KnownPath::new(path, ResourceDef::new(ids_as_hex(path)), methods)
            })
            .collect();
        KnownPaths(known)
    }

    /// The template of the route that serves `method` on `path`, such as `/v1/contacts/{id}`.
    /// What a middleware reads before routing, where actix's `match_pattern` cannot see into
    /// the guarded scope of each segment.
    pub fn template(&self, method: &str, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|known| known.methods.contains(&method) && known.matches(path))
            .map(|known| known.template.as_str())
    }

    /// The methods some template matching `path` serves, in a stable order, or none when no
    /// template matches.
    pub fn allowed(&self, path: &str) -> Option<String> {
        let mut methods: Vec<&str> = self
            .0
            .iter()
            .filter(|known| known.matches(path))
            .flat_map(|known| known.methods.iter().copied())
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
        let known = [
            ("/v1/leads", vec!["GET", "POST"]),
            ("/v1/leads/{id}", vec!["GET", "PATCH", "DELETE"]),
            ("/v1/leads/intake", vec!["POST"]),
        ];
        KnownPaths(
            known
                .into_iter()
                .map(|(template, methods)| {
                    KnownPath::new(template, ResourceDef::new(template), methods)
                })
                .collect(),
        )
    }

    #[test]
    fn a_path_has_the_template_of_the_route_serving_its_method() {
        let known = known();
        assert_eq!(
            known.template("GET", "/v1/leads/0190"),
            Some("/v1/leads/{id}")
        );
        assert_eq!(
            known.template("POST", "/v1/leads/intake"),
            Some("/v1/leads/intake")
        );
        assert_eq!(known.template("POST", "/v1/leads"), Some("/v1/leads"));
        assert_eq!(known.template("PUT", "/v1/leads"), None);
        assert_eq!(known.template("GET", "/v1/leeds"), None);
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

    /// Records the paths registered outside the segment they are registered under.
    struct Misplaced {
        segment: &'static str,
        found: Vec<String>,
    }

    impl Register for Misplaced {
        fn service<F>(&mut self, handler: F) -> &mut Self
        where
            F: HttpServiceFactory + OpenApiFactory + 'static,
        {
            for path in handler.paths().paths.keys() {
                let inside = path
                    .strip_prefix(self.segment)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
                if !inside || self.segment.trim_start_matches('/').contains('/') {
                    self.found.push(format!("{path} under {}", self.segment));
                }
            }
            self
        }
    }

    impl Segmented for Misplaced {
        type Routes = Self;

        fn segment(&mut self, segment: &'static str, routes: impl FnOnce(&mut Self)) {
            self.segment = segment;
            routes(self)
        }
    }

    #[test]
    fn every_route_lies_in_the_segment_it_is_registered_under() {
        let mut misplaced = Misplaced {
            segment: "",
            found: Vec::new(),
        };
        crate::contexts(&mut misplaced);
        assert!(misplaced.found.is_empty(), "{:?}", misplaced.found);
    }

    #[test]
    fn a_segment_guard_takes_its_own_segment_only_and_reads_it_decoded() {
        let guard = FirstSegment {
            mount: "/v1",
            segment: "contacts",
        };
        let takes = |uri: &str| {
            let request = actix_web::test::TestRequest::with_uri(uri).to_srv_request();
            guard.check(&request.guard_ctx())
        };
        assert!(takes("/v1/contacts"));
        assert!(takes("/v1/contacts/0190/timeline?limit=5"));
        assert!(takes("/v1/%63ontacts/0190"));
        assert!(!takes("/v1/contacts-archive"));
        assert!(!takes("/v1/companies/0190/contacts"));
        assert!(!takes("/v2/contacts"));
        assert!(!takes("/contacts"));
    }

    #[test]
    fn an_unknown_path_has_no_methods() {
        assert_eq!(known().allowed("/v1/leeds"), None);
        assert_eq!(known().allowed("/v1/leads/1/2"), None);
    }
}
