//! Request extractors that fail with problem+json: JSON bodies, query strings, `If-Match`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use bytes::BytesMut;
use crm_domain::Violation;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::platform::error::ApiError;
use crate::platform::ids::{id_keywords, is_our_id, is_uuid};
use crate::platform::pagination::PageQuery;
use crate::platform::state::AppState;
use crate::platform::strict_json::Strict;

fn body_limit(req: &HttpRequest) -> usize {
    req.app_data::<web::Data<AppState>>()
        .map_or(1024 * 1024, |s| s.settings.body_limit_bytes)
}

/// `application/json`, or a `+json` type such as `application/merge-patch+json`.
fn is_json(req: &HttpRequest) -> bool {
    match req.mime_type() {
        Ok(Some(mime)) => mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"),
        _ => false,
    }
}

/// A JSON request body. Malformed JSON is `400`; a body of the wrong shape, with an unknown or
/// read-only field, is `422` naming the field; over the size limit is `413`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        Box::pin(json_body(req, payload, None, ApiJson))
    }
}

/// An optional JSON request body: none when the body is empty, else exactly as [`ApiJson`], so
/// that a body with a mistake is refused rather than silently ignored.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        Box::pin(json_body(req, payload, Some(OptionalJson(None)), |v| {
            OptionalJson(Some(v))
        }))
    }
}

/// Reads and parses a JSON body into what `wrap` makes of it. An empty body is `when_empty`
/// where there is one; where there is none, a body sent as anything but JSON is refused before
/// it is read, and an empty one is malformed JSON.
fn json_body<T: DeserializeOwned + 'static, R: 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    when_empty: Option<R>,
    wrap: fn(T) -> R,
) -> impl Future<Output = Result<R, ApiError>> + 'static {
    let (limit, content_type_ok) = (body_limit(req), is_json(req));
    let payload = payload.take();
    async move {
        let body = match when_empty {
            None => {
                require_json(content_type_ok)?;
                read_body(payload, limit).await?
            }
            Some(empty) => {
                let body = read_body(payload, limit).await?;
                if body.is_empty() {
                    return Ok(empty);
                }
                require_json(content_type_ok)?;
                body
            }
        };
        parse_json(&body).map(wrap)
    }
}

/// Refuses a body sent as anything but JSON.
fn require_json(content_type_ok: bool) -> Result<(), ApiError> {
    if content_type_ok {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "send the body as application/json".into(),
        ))
    }
}

/// Reads a whole body, stopping as soon as it passes `limit`.
pub async fn read_body(mut payload: Payload, limit: usize) -> Result<bytes::Bytes, ApiError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => ApiError::PayloadTooLarge { limit },
            other => ApiError::MalformedRequest(format!("could not read the body: {other}")),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let parsed: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::MalformedRequest(format!("the body is not valid JSON: {e}")))?;
    let value = serde_path_to_error::deserialize(Strict(&parsed)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = if path == "." {
            unknown_field_name(&message).unwrap_or_else(|| "body".to_owned())
        } else {
            path
        };
        ApiError::Validation(Violation::new(field, describe(&message)).into())
    })?;
    if has_escaped_nul(body) {
        let field = path_to_nul(&parsed, String::new()).unwrap_or_else(|| "body".to_owned());
        return Err(ApiError::Validation(
            Violation::new(field, NUL_MESSAGE).into(),
        ));
    }
    Ok(value)
}

const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

/// Whether a JSON text holds `\u0000`, the only way it can carry a NUL: the escape counts when
/// an odd number of backslashes precede the `u` (an even number is escaped backslashes).
fn has_escaped_nul(body: &[u8]) -> bool {
    let mut backslashes = 0;
    for (i, byte) in body.iter().enumerate() {
        if *byte == b'\\' {
            backslashes += 1;
            continue;
        }
        if backslashes % 2 == 1 && body[i..].starts_with(b"u0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

/// The path of the first string (or key) holding a NUL, such as `lines[0].description`.
fn path_to_nul(value: &serde_json::Value, at: String) -> Option<String> {
    let join = |key: &str| {
        if at.is_empty() {
            key.to_owned()
        } else {
            format!("{at}.{key}")
        }
    };
    match value {
        serde_json::Value::String(s) if s.contains('\0') => {
            Some(if at.is_empty() { "body".to_owned() } else { at })
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| path_to_nul(v, format!("{at}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(join(k))
            } else {
                path_to_nul(v, join(k))
            }
        }),
        _ => None,
    }
}

/// Turns serde's wording into ours, and says why an unknown field is refused.
fn describe(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    if message.starts_with("unknown field") {
        "is unknown or read-only and cannot be written".to_owned()
    } else {
        message.to_owned()
    }
}

fn unknown_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next().map(str::to_owned)
}

/// Query parameters; a value of the wrong type is `422` naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let query = req.query_string();
        std::future::ready(check_query_pairs(query).and_then(|()| parse_query(query).map(ApiQuery)))
    }
}

/// A list's query: its own parameters, and the paging every list shares (`limit`, `cursor`).
/// The list's path documents both, as `params(TheListQuery, PageQuery)`.
pub struct PagedQuery<T>(pub T, pub PageQuery);

impl<T: DeserializeOwned> FromRequest for PagedQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let query = req.query_string();
        std::future::ready(check_query_pairs(query).and_then(|()| {
            let (paging, own): (Vec<_>, Vec<_>) = form_urlencoded::parse(query.as_bytes())
                .partition(|(name, _)| PageQuery::PARAMETERS.contains(&name.as_ref()));
            let encode = |pairs: Vec<_>| {
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish()
            };
            Ok(PagedQuery(
                parse_query(&encode(own))?,
                parse_query(&encode(paging))?,
            ))
        }))
    }
}

fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    let deserializer = serde_urlencoded::Deserializer::new(pairs);
    // A parameter the endpoint does not take is refused, not ignored: a `filter` or a
    // misspelt `status` must never return the unfiltered list.
    let mut unknown: Option<String> = None;
    let mut note_unknown = |path: serde_ignored::Path| {
        unknown.get_or_insert_with(|| path.to_string());
    };
    let checked = serde_ignored::Deserializer::new(deserializer, &mut note_unknown);
    let result: Result<T, _> = serde_path_to_error::deserialize(checked);
    if let (Ok(_), Some(name)) = (&result, unknown) {
        return Err(ApiError::validation(
            &name,
            "is not a parameter of this endpoint",
        ));
    }
    result.map_err(|e| {
        let field = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = if field == "." {
            "query".to_owned()
        } else {
            field
        };
        ApiError::Validation(Violation::new(field, message).into())
    })
}

/// What no query may hold, checked in one pass over its pairs: a NUL anywhere, then an id
/// parameter whose value is not a UUID.
fn check_query_pairs(query: &str) -> Result<(), ApiError> {
    let mut malformed_id = None;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name.contains('\0') || value.contains('\0') {
            return Err(ApiError::Validation(
                Violation::new(name.replace('\0', ""), NUL_MESSAGE).into(),
            ));
        }
        if malformed_id.is_none()
            && is_our_id(&name)
            && !is_uuid(&value)
            && !id_keywords(&name).contains(&value.as_ref())
        {
            malformed_id = Some(name.into_owned());
        }
    }
    match malformed_id {
        Some(name) => Err(ApiError::validation(&name, "is not an id (a UUID)")),
        None => Ok(()),
    }
}

/// The version named by `If-Match`, if the header was sent. `*` matches any version.
pub struct IfMatch(pub Option<i64>);

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.headers().get(header::IF_MATCH) {
            None => Ok(IfMatch(None)),
            Some(value) => {
                let text = value.to_str().unwrap_or("").trim();
                if text == "*" {
                    Ok(IfMatch(None))
                } else {
                    parse_etag(text).map(|v| IfMatch(Some(v))).ok_or_else(|| {
                        ApiError::MalformedRequest(
                            "If-Match must be an ETag from a previous response, such as \"3\""
                                .into(),
                        )
                    })
                }
            }
        };
        std::future::ready(result)
    }
}

/// The ETag of a record at `version`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// A strong or weak ETag as we send them; a bare version number is taken too, since clients
/// and tools that drop the quotes mean the same version.
fn parse_etag(text: &str) -> Option<i64> {
    let text = text.strip_prefix("W/").unwrap_or(text);
    let version = match text.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"')?,
        None => text,
    };
    // At most 18 digits, as the documented pattern says: every version fits in an i64.
    if !(1..=18).contains(&version.len()) || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    version.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_is_refused_naming_its_field_but_an_escaped_backslash_is_text() {
        assert!(has_escaped_nul(br#"{"a": "x\u0000"}"#));
        assert!(has_escaped_nul(br#"{"a": "\\\u0000"}"#));
        assert!(
            !has_escaped_nul(br#"{"a": "\\u0000"}"#),
            "a backslash, then the text u0000"
        );
        assert!(!has_escaped_nul(br#"{"a": "u0000"}"#));
        let err = parse_json::<serde_json::Value>(br#"{"lines": [{"description": "a\u0000"}]}"#);
        match err {
            Err(ApiError::Validation(v)) => assert_eq!(v.0[0].field, "lines[0].description"),
            other => panic!("{other:?}"),
        }
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: Option<String>,
        nested: Option<Nested>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        n: i64,
    }

    #[test]
    fn malformed_json_is_400() {
        let err = parse_json::<Body>(b"{\"email\": ").unwrap_err();
        assert!(matches!(err, ApiError::MalformedRequest(_)));
        let err = parse_json::<Body>(b"{} trailing").unwrap_err();
        assert!(matches!(err, ApiError::MalformedRequest(_)));
    }

    #[test]
    fn unknown_field_is_422_naming_it() {
        match parse_json::<Body>(br#"{"id": "x"}"#).unwrap_err() {
            ApiError::Validation(v) => assert_eq!(v.0[0].field, "id"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_type_names_the_nested_path() {
        match parse_json::<Body>(br#"{"nested": {"n": "x"}}"#).unwrap_err() {
            ApiError::Validation(v) => assert_eq!(v.0[0].field, "nested.n"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn etags_parse() {
        assert_eq!(parse_etag("\"3\""), Some(3));
        assert_eq!(parse_etag("W/\"3\""), Some(3));
        assert_eq!(
            parse_etag("3"),
            Some(3),
            "the bare version, as some tools send it"
        );
        assert_eq!(parse_etag("\"3"), None);
        assert_eq!(parse_etag("\"-3\""), None);
        assert_eq!(parse_etag("\"\""), None);
        assert_eq!(
            parse_etag(&"0".repeat(19)),
            None,
            "longer than the pattern allows"
        );
    }

    #[derive(serde::Deserialize, Debug)]
    struct StatusFilter {
        status: Option<String>,
    }

    fn paged(query: &str) -> Result<PagedQuery<StatusFilter>, ApiError> {
        let req =
            actix_web::test::TestRequest::with_uri(&format!("/things?{query}")).to_http_request();
        PagedQuery::<StatusFilter>::from_request(&req, &mut Payload::None).into_inner()
    }

    #[test]
    fn a_list_query_splits_its_own_parameters_from_the_paging() {
        let PagedQuery(own, paging) = paged("status=open&limit=5&cursor=abc%3D").unwrap();
        assert_eq!(own.status.as_deref(), Some("open"));
        assert_eq!(paging.limit, Some(5));
        assert_eq!(paging.cursor.as_deref(), Some("abc="));
        let PagedQuery(own, paging) = paged("").unwrap();
        assert!(own.status.is_none() && paging.limit.is_none() && paging.cursor.is_none());
    }

    #[test]
    fn a_list_query_refuses_an_unknown_parameter_and_a_bad_limit_by_name() {
        for (query, field) in [("stauts=open", "stauts"), ("limit=ten", "limit")] {
            match paged(query) {
                Err(ApiError::Validation(v)) => assert_eq!(v.0[0].field, field, "{query}"),
                Err(other) => panic!("{query}: {other:?}"),
                Ok(_) => panic!("{query}: accepted"),
            }
        }
    }
}
