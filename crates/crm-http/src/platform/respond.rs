//! Success responses with the headers the conventions promise.

use actix_web::http::header;
use actix_web::HttpResponse;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use crate::platform::extract::etag;

/// `201 Created` with `Location` and `ETag`.
pub fn created<T: Serialize>(location: String, version: i64, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// `200 OK` with `ETag`.
pub fn versioned<T: Serialize>(version: i64, body: &T) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

pub fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

pub fn utc_opt(at: Option<NaiveDateTime>) -> Option<DateTime<Utc>> {
    at.map(utc)
}
