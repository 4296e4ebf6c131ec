//! Invoice series: each numbers its documents gaplessly, and chains them.

use chrono::NaiveDateTime;
use crm_domain::billing::invoices::{invoice_number, InvoiceKind};
use crm_domain::Violation;
use diesel::prelude::*;

use crate::platform::db::{lock_key, DbConnection};
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{invoice_series, invoices};
use crate::platform::stored::stored;
use crate::{new_id, now, StoreError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invoice_series)]
struct SeriesRow {
    id: String,
    code: String,
    prefix: String,
    kind: String,
    is_default: bool,
    yearly_reset: bool,
    current_year: Option<i64>,
    last_number: i64,
    last_hash: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesFields {
    pub code: String,
    pub prefix: String,
    pub kind: InvoiceKind,
    /// The series used for its kind when a document names none.
    pub is_default: bool,
    /// Numbering restarts at 1 each calendar year, and numbers carry the year.
    pub yearly_reset: bool,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub id: String,
    pub fields: SeriesFields,
    pub current_year: Option<i64>,
    pub last_number: i64,
    pub last_hash: String,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub archived_at: Option<NaiveDateTime>,
}

fn from_row(r: SeriesRow) -> Result<Series, StoreError> {
    Ok(Series {
        fields: SeriesFields {
            code: r.code,
            prefix: r.prefix,
            kind: stored("invoice_series", "kind", &r.kind)?,
            is_default: r.is_default,
            yearly_reset: r.yearly_reset,
        },
        id: r.id,
        current_year: r.current_year,
        last_number: r.last_number,
        last_hash: r.last_hash,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
        archived_at: r.archived_at,
    })
}

/// Held by every writer of series: codes, prefixes and the default flag span rows.
const NAMES_LOCK: &str = "invoice-series-names";

/// A code names one series, and so does a prefix, whatever the kind: two series with one
/// prefix could print the same number twice. Writers of series take turns on one lock, so
/// that two cannot both pass this check; the unique indexes stay as the last word.
fn check_unique(
    conn: &mut DbConnection,
    fields: &SeriesFields,
    own_id: &str,
) -> Result<(), StoreError> {
    lock_key(conn, NAMES_LOCK)?;
    let existing: Option<(String, String)> = invoice_series::table
        .filter(
            invoice_series::code
                .eq(&fields.code)
                .or(invoice_series::prefix.eq(&fields.prefix)),
        )
        .filter(invoice_series::id.ne(own_id))
        .select((invoice_series::id, invoice_series::code))
        .first(conn)
        .optional()?;
    match existing {
        Some((id, code)) if code == fields.code => Err(StoreError::Conflict {
            message: format!("a series with code {code} already exists"),
            existing_id: Some(id),
        }),
        Some((id, code)) => Err(StoreError::Conflict {
            message: format!(
                "series {code} already numbers with prefix {}",
                fields.prefix
            ),
            existing_id: Some(id),
        }),
        None => Ok(()),
    }
}

fn clear_other_defaults(
    conn: &mut DbConnection,
    id: &str,
    kind: InvoiceKind,
) -> Result<(), StoreError> {
    diesel::update(
        invoice_series::table
            .filter(invoice_series::id.ne(id))
            .filter(invoice_series::kind.eq(kind.as_str())),
    )
    .set(invoice_series::is_default.eq(false))
    .execute(conn)?;
    Ok(())
}

pub fn create(conn: &mut DbConnection, fields: SeriesFields) -> Result<Series, StoreError> {
    let id = new_id();
    check_unique(conn, &fields, &id)?;
    let at = now();
    diesel::insert_into(invoice_series::table)
        .values((
            invoice_series::id.eq(&id),
            invoice_series::code.eq(&fields.code),
            invoice_series::prefix.eq(&fields.prefix),
            invoice_series::kind.eq(fields.kind.as_str()),
            invoice_series::is_default.eq(fields.is_default),
            invoice_series::yearly_reset.eq(fields.yearly_reset),
            invoice_series::last_number.eq(0_i64),
            invoice_series::last_hash.eq(""),
            invoice_series::version.eq(1_i64),
            invoice_series::created_at.eq(at),
            invoice_series::updated_at.eq(at),
        ))
        .execute(conn)?;
    if fields.is_default {
        clear_other_defaults(conn, &id, fields.kind)?;
    }
    get(conn, &id)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Series, StoreError> {
    let row: SeriesRow = invoice_series::table
        .find(id)
        .select(SeriesRow::as_select())
        .first(conn)?;
    from_row(row)
}

/// The default live series of a kind.
pub fn default_for(conn: &mut DbConnection, kind: InvoiceKind) -> Result<Series, StoreError> {
    let row: Option<SeriesRow> = invoice_series::table
        .filter(invoice_series::kind.eq(kind.as_str()))
        .filter(invoice_series::is_default.eq(true))
        .filter(invoice_series::archived_at.is_null())
        .select(SeriesRow::as_select())
        .first(conn)
        .optional()?;
    let row = row.ok_or_else(|| {
        StoreError::from(Violation::new(
            "series_id",
            format!("there is no default {} series; name one", kind.as_str()),
        ))
    })?;
    from_row(row)
}

/// Once a series has numbered a document, its code, prefix, kind and reset rule are fixed: they
/// are part of legal numbers.
pub fn update<F>(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    change: F,
) -> Result<Series, StoreError>
where
    F: FnOnce(&mut SeriesFields) -> Result<(), StoreError>,
{
    // The names lock before the row, as `create` takes them, so that two writers never wait
    // on each other in opposite orders.
    lock_key(conn, NAMES_LOCK)?;
    let series = records::checkout(
        conn,
        Record::InvoiceSeries,
        id,
        expected_version,
        get,
        |r| r.version,
    )?;
    let mut fields = series.fields.clone();
    change(&mut fields)?;
    let numbering_changed = fields.code != series.fields.code
        || fields.prefix != series.fields.prefix
        || fields.kind != series.fields.kind
        || fields.yearly_reset != series.fields.yearly_reset;
    if numbering_changed && series.last_number > 0 {
        return Err(StoreError::Conflict {
            message: "the series has issued documents: its code, prefix, kind and reset rule can no longer change".into(),
            existing_id: None,
        });
    }
    check_unique(conn, &fields, id)?;
    diesel::update(invoice_series::table.filter(invoice_series::id.eq(id)))
        .set((
            invoice_series::code.eq(&fields.code),
            invoice_series::prefix.eq(&fields.prefix),
            invoice_series::kind.eq(fields.kind.as_str()),
            invoice_series::is_default.eq(fields.is_default),
            invoice_series::yearly_reset.eq(fields.yearly_reset),
            invoice_series::version.eq(series.version + 1),
            invoice_series::updated_at.eq(now()),
        ))
        .execute(conn)?;
    if fields.is_default {
        clear_other_defaults(conn, id, fields.kind)?;
    }
    get(conn, id)
}

pub fn list(conn: &mut DbConnection, page: &PageRequest<()>) -> Result<Page<Series>, StoreError> {
    page_by_time!(conn, page, invoice_series::created_at, SeriesRow).try_map(from_row)
}

/// The next number of the series for a document issued in `year`. Locks the series row until
/// the transaction ends, so that concurrent issuers (on any node) take turns, and a rolled-back
/// issue gives its number back.
pub(crate) struct Numbered {
    pub sequence: i64,
    pub number: String,
    pub previous_hash: String,
}

pub(crate) fn claim_number(
    conn: &mut DbConnection,
    series_id: &str,
    year: i32,
) -> Result<Numbered, StoreError> {
    let locked = diesel::update(invoice_series::table.find(series_id))
        .set(invoice_series::updated_at.eq(now()))
        .execute(conn)?;
    if locked == 0 {
        return Err(StoreError::NotFound);
    }
    let series = get(conn, series_id)?;
    let restart = series.fields.yearly_reset && series.current_year != Some(i64::from(year));
    let sequence = if restart { 1 } else { series.last_number + 1 };
    Ok(Numbered {
        sequence,
        number: invoice_number(
            &series.fields.prefix,
            series.fields.yearly_reset.then_some(year),
            sequence,
        ),
        previous_hash: series.last_hash,
    })
}

/// Records the document just numbered as the end of the series' chain.
pub(crate) fn advance(
    conn: &mut DbConnection,
    series_id: &str,
    sequence: i64,
    year: i32,
    hash: &str,
) -> Result<(), StoreError> {
    diesel::update(invoice_series::table.find(series_id))
        .set((
            invoice_series::last_number.eq(sequence),
            invoice_series::current_year.eq(Some(i64::from(year))),
            invoice_series::last_hash.eq(hash),
        ))
        .execute(conn)?;
    Ok(())
}

/// How many documents of the series are issued.
pub fn issued_count(conn: &mut DbConnection, series_id: &str) -> Result<i64, StoreError> {
    Ok(invoices::table
        .filter(invoices::series_id.eq(series_id))
        .filter(invoices::number.is_not_null())
        .count()
        .get_result(conn)?)
}
