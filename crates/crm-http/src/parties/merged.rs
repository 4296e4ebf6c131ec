//! What a read of a merged contact or company answers: `308 Permanent Redirect` to the record
//! it was merged into. A module of its own, apart from `merges` (which imports `contacts` and
//! `companies`), so that `contacts` and `companies` can answer it.

use actix_web::http::header;
use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

/// Where a merged record went: the body of its `308`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergedInto {
    /// The record it was merged into; `Location` is its URL.
    pub merged_into: String,
}

/// The answer to a read of a merged record: `308 Permanent Redirect` to the record it was merged
/// into, under `/v1/{collection}`.
pub fn merged_redirect(collection: &str, survivor: &str) -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, format!("/v1/{collection}/{survivor}")))
        .json(MergedInto {
            merged_into: survivor.to_owned(),
        })
}
