//! Global search across contacts, companies, leads, opportunities, quotes, orders and invoices.
//!
//! One query per kind finds at most `limit` live candidates, the likeliest first (an exact field,
//! then a field that starts with the query, then the newest), so that a page of newer substring
//! matches cannot push an exact match out. `crm_domain::analytics::search` then says which field
//! each matched and ranks them all together.

use chrono::NaiveDateTime;
use crm_domain::analytics::search::{
    self as domain, Candidate, MatchedField, SearchHit, SearchObject, SearchTerms,
};
use crm_domain::platform::text::{like_contains, like_prefix};
use diesel::dsl::case_when;
use diesel::prelude::*;
use diesel::sql_types::Integer;

use crate::platform::db::DbConnection;
use crate::platform::schema::{
    companies, contacts, invoices, leads, opportunities, orders, quotes,
};
use crate::StoreError;

diesel::define_sql_function! {
    /// `lower(text)`: columns that keep no lower-cased copy are compared through it.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// `lower(text)` of a nullable column.
    #[sql_name = "lower"]
    fn lower_nullable(
        x: diesel::sql_types::Nullable<diesel::sql_types::Text>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// The query as the SQL of every kind compares it.
struct Patterns {
    /// Lower-cased, for equality.
    text: String,
    /// `LIKE` pattern for a field that holds the query.
    contains: String,
    /// `LIKE` pattern for a field that starts with it.
    prefix: String,
    /// E.164, compared with phone columns; `NULL` (which equals nothing) when it is no number.
    phone: Option<String>,
}

impl Patterns {
    fn new(terms: &SearchTerms) -> Patterns {
        Patterns {
            text: terms.text.clone(),
            contains: like_contains(&terms.text),
            prefix: like_prefix(&terms.text),
            phone: terms.phone.clone(),
        }
    }
}

/// The records of `objects` that match `terms`, ranked, at most `limit`. Archived records are
/// left out.
pub fn search(
    conn: &mut DbConnection,
    terms: &SearchTerms,
    objects: &[SearchObject],
    limit: i64,
) -> Result<Vec<SearchHit>, StoreError> {
    let patterns = Patterns::new(terms);
    let mut hits = Vec::new();
    for object in objects {
        let candidates = match object {
            SearchObject::Contact => contact_candidates(conn, &patterns, limit)?,
            SearchObject::Company => company_candidates(conn, &patterns, limit)?,
            SearchObject::Lead => lead_candidates(conn, &patterns, limit)?,
            SearchObject::Opportunity => opportunity_candidates(conn, &patterns, limit)?,
            SearchObject::Quote => quote_candidates(conn, &patterns, limit)?,
            SearchObject::Order => order_candidates(conn, &patterns, limit)?,
            SearchObject::Invoice => invoice_candidates(conn, &patterns, limit)?,
        };
        hits.extend(
            candidates
                .into_iter()
                .filter_map(|candidate| terms.best_match(candidate)),
        );
    }
    Ok(domain::rank(hits, usize::try_from(limit).unwrap_or(0)))
}

type ContactRow = (
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

fn contact_candidates(
    conn: &mut DbConnection,
    p: &Patterns,
    limit: i64,
) -> Result<Vec<Candidate>, StoreError> {
    let exact = lower(contacts::last_name)
        .eq(p.text.clone())
        .or(lower_nullable(contacts::first_name).eq(p.text.clone()))
        .or(contacts::email_key.eq(p.text.clone()))
        .or(contacts::phone.eq(p.phone.clone()));
    let starts = contacts::search_text
        .like(p.prefix.clone())
        .escape('\\')
        .or(lower(contacts::last_name)
            .like(p.prefix.clone())
            .escape('\\'))
        .or(contacts::email_key.like(p.prefix.clone()).escape('\\'));
    let rows: Vec<ContactRow> = contacts::table
        .filter(contacts::archived_at.is_null())
        .filter(
            contacts::search_text
                .like(p.contains.clone())
                .escape('\\')
                .or(contacts::phone.eq(p.phone.clone())),
        )
        .order((
            case_when::<_, _, Integer>(exact, 0_i32)
                .when(starts, 1_i32)
                .otherwise(2_i32)
                .asc(),
            contacts::created_at.desc(),
            contacts::id.desc(),
        ))
        .select((
            contacts::id,
            contacts::first_name,
            contacts::last_name,
            contacts::email,
            contacts::phone,
            contacts::created_at,
        ))
        .limit(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, first_name, last_name, email, phone, created_at)| {
            let full = domain::full_name(first_name.as_deref(), Some(last_name.as_str()));
            Candidate {
                object: SearchObject::Contact,
                id,
                title: full.clone().unwrap_or_else(|| last_name.clone()),
                created_at,
                fields: vec![
                    (MatchedField::Name, full),
                    (MatchedField::Name, first_name),
                    (MatchedField::Name, Some(last_name)),
                    (MatchedField::Email, email),
                    (MatchedField::Phone, phone),
                ],
            }
        })
        .collect())
}

type CompanyRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

fn company_candidates(
    conn: &mut DbConnection,
    p: &Patterns,
    limit: i64,
) -> Result<Vec<Candidate>, StoreError> {
    let exact = lower(companies::name)
        .eq(p.text.clone())
        .or(lower_nullable(companies::legal_name).eq(p.text.clone()))
        .or(lower_nullable(companies::tax_id).eq(p.text.clone()))
        .or(lower_nullable(companies::email).eq(p.text.clone()))
        .or(companies::phone.eq(p.phone.clone()));
    let starts = lower(companies::name)
        .like(p.prefix.clone())
        .escape('\\')
        .or(lower_nullable(companies::legal_name)
            .like(p.prefix.clone())
            .escape('\\'))
        .or(lower_nullable(companies::tax_id)
            .like(p.prefix.clone())
            .escape('\\'))
        .or(lower_nullable(companies::email)
            .like(p.prefix.clone())
            .escape('\\'));
    let rows: Vec<CompanyRow> = companies::table
        .filter(companies::archived_at.is_null())
        .filter(
            companies::search_text
                .like(p.contains.clone())
                .escape('\\')
                .or(companies::phone.eq(p.phone.clone())),
        )
        .order((
            case_when::<_, _, Integer>(exact, 0_i32)
                .when(starts, 1_i32)
                .otherwise(2_i32)
                .asc(),
            companies::created_at.desc(),
            companies::id.desc(),
        ))
        .select((
            companies::id,
            companies::name,
            companies::legal_name,
            companies::tax_id,
            companies::email,
            companies::phone,
            companies::website,
            companies::created_at,
        ))
        .limit(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, name, legal_name, tax_id, email, phone, website, created_at)| Candidate {
                object: SearchObject::Company,
                id,
                title: name.clone(),
                created_at,
                fields: vec![
                    (MatchedField::Name, Some(name)),
                    (MatchedField::LegalName, legal_name),
                    (MatchedField::TaxId, tax_id),
                    (MatchedField::Email, email),
                    (MatchedField::Phone, phone),
                    (MatchedField::Website, website),
                ],
            },
        )
        .collect())
}

type LeadRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

fn lead_candidates(
    conn: &mut DbConnection,
    p: &Patterns,
    limit: i64,
) -> Result<Vec<Candidate>, StoreError> {
    let exact = lower_nullable(leads::last_name)
        .eq(p.text.clone())
        .or(lower_nullable(leads::first_name).eq(p.text.clone()))
        .or(lower_nullable(leads::company_name).eq(p.text.clone()))
        .or(lower_nullable(leads::email).eq(p.text.clone()))
        .or(leads::phone.eq(p.phone.clone()));
    let starts = leads::search_text
        .like(p.prefix.clone())
        .escape('\\')
        .or(lower_nullable(leads::last_name)
            .like(p.prefix.clone())
            .escape('\\'))
        .or(lower_nullable(leads::company_name)
            .like(p.prefix.clone())
            .escape('\\'))
        .or(lower_nullable(leads::email)
            .like(p.prefix.clone())
            .escape('\\'));
    let rows: Vec<LeadRow> = leads::table
        .filter(leads::archived_at.is_null())
        .filter(
            leads::search_text
                .like(p.contains.clone())
                .escape('\\')
                .or(leads::phone.eq(p.phone.clone())),
        )
        .order((
            case_when::<_, _, Integer>(exact, 0_i32)
                .when(starts, 1_i32)
                .otherwise(2_i32)
                .asc(),
            leads::created_at.desc(),
            leads::id.desc(),
        ))
        .select((
            leads::id,
            leads::first_name,
            leads::last_name,
            leads::company_name,
            leads::email,
            leads::phone,
            leads::created_at,
        ))
        .limit(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, first_name, last_name, company_name, email, phone, created_at)| {
                let full = domain::full_name(first_name.as_deref(), last_name.as_deref());
                let title = full
                    .clone()
                    .or_else(|| company_name.clone())
                    .or_else(|| email.clone())
                    .or_else(|| phone.clone())
                    .unwrap_or_else(|| "Lead".to_owned());
                Candidate {
                    object: SearchObject::Lead,
                    id,
                    title,
                    created_at,
                    fields: vec![
                        (MatchedField::Name, full),
                        (MatchedField::Name, first_name),
                        (MatchedField::Name, last_name),
                        (MatchedField::CompanyName, company_name),
                        (MatchedField::Email, email),
                        (MatchedField::Phone, phone),
                    ],
                }
            },
        )
        .collect())
}

fn opportunity_candidates(
    conn: &mut DbConnection,
    p: &Patterns,
    limit: i64,
) -> Result<Vec<Candidate>, StoreError> {
    let rows: Vec<(String, String, NaiveDateTime)> = opportunities::table
        .filter(opportunities::archived_at.is_null())
        .filter(
            lower(opportunities::name)
                .like(p.contains.clone())
                .escape('\\'),
        )
        .order((
            case_when::<_, _, Integer>(lower(opportunities::name).eq(p.text.clone()), 0_i32)
                .when(
                    lower(opportunities::name)
                        .like(p.prefix.clone())
                        .escape('\\'),
                    1_i32,
                )
                .otherwise(2_i32)
                .asc(),
            opportunities::created_at.desc(),
            opportunities::id.desc(),
        ))
        .select((
            opportunities::id,
            opportunities::name,
            opportunities::created_at,
        ))
        .limit(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, created_at)| Candidate {
            object: SearchObject::Opportunity,
            id,
            title: name.clone(),
            created_at,
            fields: vec![(MatchedField::Name, Some(name))],
        })
        .collect())
}

fn quote_candidates(
    conn: &mut DbConnection,
    p: &Patterns,
    limit: i64,
) -> Result<Vec<Candidate>, StoreError> {
    let rows: Vec<(String, String, i64, NaiveDateTime)> = quotes::table
        .filter(lower(quotes::number).like(p.contains.clone()).escape('\\'))
        .order((
            case_when::<_, _, Integer>(lower(quotes::number).eq(p.text.clone()), 0_i32)
                .when(
                    lower(quotes::number).like(p.prefix.clone()).escape('\\'),
                    1_i32,
                )
                .otherwise(2_i32)
                .asc(),
            quotes::created_at.desc(),
            quotes::id.desc(),
        ))
        .select((
            quotes::id,
            quotes::number,
            quotes::revision,
            quotes::created_at,
        ))
        .limit(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, number, revision, created_at)| Candidate {
            object: SearchObject::Quote,
            id,
            // Revisions share the number; each is its own record.
            title: if revision > 1 {
                format!("{number} rev. {revision}")
            } else {
                number.clone()
            },
            created_at,
            fields: vec![(MatchedField::Number, Some(number))],
        })
        .collect())
}

type OrderRow = (String, String, String, Option<String>, NaiveDateTime);

fn order_candidates(
    conn: &mut DbConnection,
    p: &Patterns,
    limit: i64,
) -> Result<Vec<Candidate>, StoreError> {
    let rows: Vec<OrderRow> = orders::table
        .filter(
            lower(orders::external_id)
                .like(p.contains.clone())
                .escape('\\')
                .or(lower_nullable(orders::shop_number)
                    .like(p.contains.clone())
                    .escape('\\')),
        )
        .order((
            case_when::<_, _, Integer>(
                lower(orders::external_id)
                    .eq(p.text.clone())
                    .or(lower_nullable(orders::shop_number).eq(p.text.clone())),
                0_i32,
            )
            .when(
                lower(orders::external_id)
                    .like(p.prefix.clone())
                    .escape('\\')
                    .or(lower_nullable(orders::shop_number)
                        .like(p.prefix.clone())
                        .escape('\\')),
                1_i32,
            )
            .otherwise(2_i32)
            .asc(),
            orders::created_at.desc(),
            orders::id.desc(),
        ))
        .select((
            orders::id,
            orders::channel,
            orders::external_id,
            orders::shop_number,
            orders::created_at,
        ))
        .limit(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, channel, external_id, shop_number, created_at)| Candidate {
                object: SearchObject::Order,
                id,
                title: format!(
                    "{channel} {}",
                    shop_number.as_deref().unwrap_or(external_id.as_str())
                ),
                created_at,
                fields: vec![
                    (MatchedField::ShopNumber, shop_number),
                    (MatchedField::ExternalId, Some(external_id)),
                ],
            },
        )
        .collect())
}

/// Issued invoices and credit notes: a draft has no number to find it by.
fn invoice_candidates(
    conn: &mut DbConnection,
    p: &Patterns,
    limit: i64,
) -> Result<Vec<Candidate>, StoreError> {
    let rows: Vec<(String, Option<String>, NaiveDateTime)> = invoices::table
        .filter(
            lower_nullable(invoices::number)
                .like(p.contains.clone())
                .escape('\\'),
        )
        .order((
            case_when::<_, _, Integer>(lower_nullable(invoices::number).eq(p.text.clone()), 0_i32)
                .when(
                    lower_nullable(invoices::number)
                        .like(p.prefix.clone())
                        .escape('\\'),
                    1_i32,
                )
                .otherwise(2_i32)
                .asc(),
            invoices::created_at.desc(),
            invoices::id.desc(),
        ))
        .select((invoices::id, invoices::number, invoices::created_at))
        .limit(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, number, created_at)| Candidate {
            object: SearchObject::Invoice,
            id,
            title: number.clone().unwrap_or_default(),
            created_at,
            fields: vec![(MatchedField::Number, number)],
        })
        .collect())
}
