//! Duplicates and merges of contacts and companies: the candidate pairs, the pairs someone
//! dismissed, the merge itself and its log.
//!
//! Candidates come from keys every write keeps (`email_base`, `name_key`, `tax_key`,
//! `domain_key`; the rules are `crm_domain::parties::duplicates`): one self-join per reason,
//! each served by an index, grouped by pair in the domain. PostgreSQL with `pg_trgm` also pairs
//! names by trigram similarity; elsewhere names pair by their folded key.
//!
//! A merge locks the survivor and every merged record in id order, so that two merges of
//! overlapping records take turns instead of deadlocking. Then it moves what pointed at the
//! merged records to the survivor, marks each merged record (archived, `merged_into_id`), logs
//! its old values in `merges`, records `*.merged`, and writes the survivor's merged values
//! (`*.updated`). A dry run does all of it in a savepoint and rolls it back.
//!
//! The records moved are not locked one by one: each is updated set-wise with its version
//! bumped, so that a writer holding its old ETag gets `412`. What a concurrent writer reads
//! before the merge commits it may still point at a merged record, which is archived and
//! refuses new references.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use crm_domain::access::actors;
use crm_domain::access::permissions::Reach;
use crm_domain::events::catalogue::EventType;
use crm_domain::parties::duplicates::{
    self as rules, Candidate, Conflict, DuplicateReason, Match, Source, MAX_MERGED,
};
use crm_domain::parties::timeline::{Subject, TimelineEntry, TimelineKind};
use crm_domain::platform::custom_fields::{CustomField, CustomObject};
use crm_domain::Violation;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double, Text, Timestamp};
use serde_json::{json, Map, Value};

use crate::events::outbox;
use crate::parties::companies::{self as company_store, Company, CompanyFields};
use crate::parties::contacts::{self as contact_store, Contact, ContactFields};
use crate::platform::address::Address;
use crate::platform::custom_fields as custom;
use crate::platform::db::DbConnection;
use crate::platform::pagination::{keyset, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::merges as merge_log;
use crate::platform::schema::{
    campaign_members, cases, companies, contact_consents, contacts, interactions, invoices, leads,
    opportunities, orders, quotes, returns, tasks, users, visit_plans,
};
use crate::{new_id, now, StoreError};

/// The records that merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Contacts,
    Companies,
}

impl Party {
    /// The table, and the `object` of dismissals and of the merge log.
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Contacts => "contacts",
            Party::Companies => "companies",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Party::Contacts => "contact",
            Party::Companies => "company",
        }
    }
}

/// How many pairs one reason brings before the pairs of every reason are ranked together.
const PAIRS_PER_REASON: i64 = 1_000;

/// One pair a self-join found, with the score of its reason.
#[derive(QueryableByName)]
struct PairRow {
    #[diesel(sql_type = Text)]
    first_id: String,
    #[diesel(sql_type = Text)]
    second_id: String,
    #[diesel(sql_type = Double)]
    score: f64,
}

/// Whether PostgreSQL has `pg_trgm`'s `similarity` (the migration installs it where it may).
fn has_trigrams(conn: &mut DbConnection) -> Result<bool, StoreError> {
    if let DbConnection::Sqlite(_) = conn {
        return Ok(false);
    }
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = Bool)]
        found: bool,
    }
    let found: Found =
        diesel::sql_query("SELECT to_regprocedure('similarity(text,text)') IS NOT NULL AS found")
            .get_result(conn)?;
    Ok(found.found)
}

/// Each reason of `party`: the join condition of two rows `a` and `b`, and the SQL of its
/// score. Fixed text, never input.
fn reasons(party: Party, trigrams: bool) -> Vec<(DuplicateReason, String, String)> {
    let score = |s: f64| format!("{s:.3}");
    let names = |same: &str| {
        if trigrams {
            (
                // `%` lets the trigram index find the alike names (at pg_trgm's lower
                // threshold), and the similarity keeps those alike enough.
                format!(
                    "{same}a.name_key % b.name_key AND similarity(a.name_key, b.name_key) >= {}",
                    rules::NAME_SIMILARITY
                ),
                "similarity(a.name_key, b.name_key)".to_owned(),
            )
        } else {
            (format!("{same}b.name_key = a.name_key"), score(1.0))
        }
    };
    match party {
        Party::Contacts => {
            let (name, name_score) = names("b.company_id = a.company_id AND ");
            vec![
                (
                    DuplicateReason::Email,
                    "b.email_base = a.email_base".to_owned(),
                    score(rules::EMAIL_SCORE),
                ),
                (
                    DuplicateReason::Phone,
                    "b.phone = a.phone".to_owned(),
                    score(rules::PHONE_SCORE),
                ),
                (DuplicateReason::Name, name, name_score),
            ]
        }
        Party::Companies => {
            let (name, name_score) = names("");
            vec![
                (
                    DuplicateReason::TaxId,
                    "b.tax_key = a.tax_key".to_owned(),
                    score(rules::TAX_ID_SCORE),
                ),
                (
                    DuplicateReason::Domain,
                    "b.domain_key = a.domain_key".to_owned(),
                    score(rules::DOMAIN_SCORE),
                ),
                (DuplicateReason::Name, name, name_score),
            ]
        }
    }
}

/// The live pairs that meet `condition`, leaving out dismissed ones, the best first.
fn pairs(
    conn: &mut DbConnection,
    party: Party,
    condition: &str,
    score: &str,
) -> Result<Vec<PairRow>, StoreError> {
    let table = party.as_str();
    let sql = format!(
        "SELECT a.id AS first_id, b.id AS second_id, CAST({score} AS DOUBLE PRECISION) AS score \
         FROM {table} a JOIN {table} b ON {condition} AND a.id < b.id \
         WHERE a.archived_at IS NULL AND b.archived_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM duplicate_dismissals d \
             WHERE d.object = '{table}' AND d.first_id = a.id AND d.second_id = b.id) \
         ORDER BY score DESC, a.id, b.id LIMIT $1"
    );
    Ok(diesel::sql_query(sql)
        .bind::<BigInt, _>(PAIRS_PER_REASON)
        .load(conn)?)
}

/// The pairs of live records of `party` that look like one, the most alike first, at most
/// `limit`.
pub fn duplicates(
    conn: &mut DbConnection,
    party: Party,
    limit: i64,
) -> Result<Vec<Candidate>, StoreError> {
    let trigrams = has_trigrams(conn)?;
    let mut found = Vec::new();
    for (reason, condition, score) in reasons(party, trigrams) {
        for row in pairs(conn, party, &condition, &score)? {
            found.push(Match {
                first_id: row.first_id,
                second_id: row.second_id,
                reason,
                score: row.score,
            });
        }
    }
    Ok(rules::candidates(
        found,
        usize::try_from(limit).unwrap_or_default(),
    ))
}

/// Fails with a violation of `field` unless the record exists.
fn ensure_exists(
    conn: &mut DbConnection,
    party: Party,
    id: &str,
    field: &str,
) -> Result<(), StoreError> {
    let found: Option<String> = match party {
        Party::Contacts => contacts::table
            .find(id)
            .select(contacts::id)
            .first(conn)
            .optional()?,
        Party::Companies => companies::table
            .find(id)
            .select(companies::id)
            .first(conn)
            .optional()?,
    };
    match found {
        Some(_) => Ok(()),
        None => Err(Violation::new(field, format!("no such {}", party.noun())).into()),
    }
}

/// Hides the pair from the candidates for good; dismissing it again changes nothing.
pub fn dismiss(
    conn: &mut DbConnection,
    party: Party,
    ids: [&str; 2],
    actor: &str,
) -> Result<(), StoreError> {
    if ids[0] == ids[1] {
        return Err(Violation::new("ids", "must name two different records").into());
    }
    for id in ids {
        ensure_exists(conn, party, id, "ids")?;
    }
    let (first, second) = rules::ordered_pair(ids[0], ids[1]);
    diesel::sql_query(
        "INSERT INTO duplicate_dismissals (object, first_id, second_id, dismissed_by, \
         dismissed_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind::<Text, _>(party.as_str())
    .bind::<Text, _>(first)
    .bind::<Text, _>(second)
    .bind::<Text, _>(actor)
    .bind::<Timestamp, _>(now())
    .execute(conn)?;
    Ok(())
}

/// What a merge did, or what a dry run would do.
#[derive(Debug, Clone)]
pub struct Merged<T> {
    /// The survivor after the merge.
    pub result: T,
    /// How many records of each kind now point at the survivor instead of a merged record.
    pub moved: BTreeMap<&'static str, i64>,
    /// Values of merged records that the survivor's replaced.
    pub conflicts: Vec<Conflict>,
}

/// A merge asked for: `from` goes into `survivor_id`, whose version `If-Match` may name.
#[derive(Debug, Clone)]
pub struct MergeRequest {
    pub survivor_id: String,
    pub from: Vec<String>,
    pub expected_version: Option<i64>,
    /// Who merges, as `crm_domain::access::actors` writes it.
    pub actor: String,
    pub dry_run: bool,
}

/// The outcome of a rehearsal: the merge rolled back, or its error.
enum Rehearsal<T> {
    Done(T),
    Failed(StoreError),
}

impl<T> From<diesel::result::Error> for Rehearsal<T> {
    fn from(error: diesel::result::Error) -> Self {
        Rehearsal::Failed(error.into())
    }
}

/// Runs `merge`, or for a dry run runs it in a savepoint that is rolled back whatever it did,
/// so that the preview is the merge itself, checks and counts included.
fn rehearsed<T>(
    conn: &mut DbConnection,
    dry_run: bool,
    merge: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if !dry_run {
        return merge(conn);
    }
    let outcome = conn.transaction::<(), Rehearsal<T>, _>(|c| match merge(c) {
        Ok(done) => Err(Rehearsal::Done(done)),
        Err(error) => Err(Rehearsal::Failed(error)),
    });
    match outcome {
        Err(Rehearsal::Done(done)) => Ok(done),
        Err(Rehearsal::Failed(error)) => Err(error),
        Ok(()) => Err(StoreError::Config("a dry run did not roll back".into())),
    }
}

/// The request's own rules: one to ten other records, each once, the survivor not among them.
fn check_request(request: &MergeRequest) -> Result<(), StoreError> {
    if request.from.is_empty() || request.from.len() > MAX_MERGED {
        return Err(Violation::new("from", format!("must name 1 to {MAX_MERGED} ids")).into());
    }
    for (i, id) in request.from.iter().enumerate() {
        if *id == request.survivor_id {
            return Err(Violation::new(
                format!("from[{i}]"),
                "is the record merged into: a record cannot merge into itself",
            )
            .into());
        }
        if request.from[..i].contains(id) {
            return Err(Violation::new(format!("from[{i}]"), "is named twice").into());
        }
    }
    Ok(())
}

/// Every id of the merge in the order they are locked: sorted, so that two merges of
/// overlapping records lock them in the same order.
fn lock_order(request: &MergeRequest) -> Vec<String> {
    let mut ids: Vec<String> = request.from.clone();
    ids.push(request.survivor_id.clone());
    ids.sort();
    ids
}

/// Locks and reads each record of the merge: a survivor that does not exist is `NotFound`, a
/// merged record that does not exist a violation of its place in `from`.
fn checkout_all<R>(
    conn: &mut DbConnection,
    record: Record,
    request: &MergeRequest,
    read: impl Fn(&mut DbConnection, &str) -> Result<R, StoreError>,
    version: impl Fn(&R) -> i64,
    noun: &str,
) -> Result<(R, Vec<R>), StoreError> {
    let mut read_so_far: BTreeMap<String, R> = BTreeMap::new();
    for id in lock_order(request) {
        let survivor = id == request.survivor_id;
        let expected = if survivor {
            request.expected_version
        } else {
            None
        };
        match records::checkout(conn, record, &id, expected, &read, &version) {
            Ok(row) => {
                read_so_far.insert(id, row);
            }
            Err(StoreError::NotFound) if !survivor => {
                let at = request.from.iter().position(|f| *f == id).unwrap_or(0);
                return Err(
                    Violation::new(format!("from[{at}]"), format!("no such {noun}")).into(),
                );
            }
            Err(error) => return Err(error),
        }
    }
    let survivor = read_so_far
        .remove(&request.survivor_id)
        .ok_or(StoreError::NotFound)?;
    let merged = request
        .from
        .iter()
        .map(|id| read_so_far.remove(id).ok_or(StoreError::NotFound))
        .collect::<Result<Vec<R>, StoreError>>()?;
    Ok((survivor, merged))
}

/// The survivor must be live and unmerged; a merged record must not have gone elsewhere.
fn check_states(
    noun: &str,
    survivor: (Option<&String>, Option<NaiveDateTime>),
    merged: &[Option<&String>],
) -> Result<(), StoreError> {
    if let Some(into) = survivor.0 {
        return Err(StoreError::Merged {
            merged_into: into.clone(),
        });
    }
    if survivor.1.is_some() {
        return Err(StoreError::Conflict {
            message: format!("the {noun} is archived: merge into a live {noun}"),
            existing_id: None,
        });
    }
    for (i, into) in merged.iter().enumerate() {
        if let Some(into) = into {
            return Err(Violation::new(
                format!("from[{i}]"),
                format!("was merged into {into} already"),
            )
            .into());
        }
    }
    Ok(())
}

fn count(rows: usize) -> i64 {
    i64::try_from(rows).unwrap_or(i64::MAX)
}

/// Records the merge of `merged_id` into `survivor_id` with both records' values before it.
fn log(
    conn: &mut DbConnection,
    party: Party,
    survivor_id: &str,
    merged_id: &str,
    actor: &str,
    at: NaiveDateTime,
    old_values: &Value,
) -> Result<(), StoreError> {
    diesel::insert_into(merge_log::table)
        .values((
            merge_log::id.eq(new_id()),
            merge_log::object.eq(party.as_str()),
            merge_log::survivor_id.eq(survivor_id),
            merge_log::merged_id.eq(merged_id),
            merge_log::actor.eq(actor),
            merge_log::merged_at.eq(at),
            merge_log::old_values.eq(old_values.to_string()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Values by field, custom ones under `custom_fields.<key>`: what conflicts compare. Free-form
/// preferences are unioned, so they are left out.
fn flat(values: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in values {
        match (key.as_str(), value) {
            ("preferences", _) => {}
            ("custom_fields", Value::Object(custom)) => {
                for (field, v) in custom {
                    out.insert(format!("custom_fields.{field}"), v.clone());
                }
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out
}

fn instant(at: Option<NaiveDateTime>) -> Value {
    at.map_or(Value::Null, |t| Value::from(t.and_utc().to_rfc3339()))
}

/// The survivor's value of a text field, or the first merged record's.
fn fill_text(survivor: &Option<String>, merged: Vec<&Option<String>>) -> Option<String> {
    rules::fill(survivor, &merged)
}

// --- Contacts ---

fn contact_values(contact: &Contact) -> Map<String, Value> {
    let f = &contact.fields;
    let mut values = Map::new();
    values.insert("first_name".into(), json!(f.first_name));
    values.insert("last_name".into(), json!(f.last_name));
    values.insert("email".into(), json!(f.email));
    values.insert("phone".into(), json!(f.phone));
    values.insert("title".into(), json!(f.title));
    values.insert("company_id".into(), json!(f.company_id));
    values.insert("owner_id".into(), json!(f.owner_id));
    values.insert("lifecycle_stage".into(), json!(f.lifecycle_stage.as_str()));
    values.insert("tags".into(), json!(f.tags));
    values.insert("preferences".into(), f.preferences.clone());
    values.insert("marketing_consent".into(), json!(f.marketing_consent));
    values.insert("birthday".into(), json!(f.birthday));
    values.insert("locale".into(), json!(f.locale));
    values.insert(
        "custom_fields".into(),
        Value::Object(f.custom_fields.clone()),
    );
    values
}

/// The contact's values as the merge log keeps them.
fn contact_old_values(contact: &Contact) -> Value {
    let mut values = contact_values(contact);
    values.insert("id".into(), json!(contact.id));
    values.insert(
        "marketing_consent_at".into(),
        instant(contact.marketing_consent_at),
    );
    values.insert("version".into(), json!(contact.version));
    values.insert("archived_at".into(), instant(contact.archived_at));
    Value::Object(values)
}

/// The survivor's fields after the merge, and the consent time that goes with the email kept.
fn merged_contact_fields(
    survivor: &Contact,
    merged: &[Contact],
    defs: &[CustomField],
) -> (ContactFields, Option<NaiveDateTime>) {
    let s = &survivor.fields;
    let others: Vec<&ContactFields> = merged.iter().map(|m| &m.fields).collect();
    let emails: Vec<&Option<String>> = others.iter().map(|o| &o.email).collect();
    let (email, consent, consent_at) = match rules::source(&s.email, &emails) {
        Source::Merged(i) => (
            merged[i].fields.email.clone(),
            merged[i].fields.marketing_consent,
            merged[i].marketing_consent_at,
        ),
        Source::Survivor | Source::Nowhere => (
            s.email.clone(),
            s.marketing_consent,
            survivor.marketing_consent_at,
        ),
    };
    let tags: Vec<&[String]> = others.iter().map(|o| o.tags.as_slice()).collect();
    let preferences: Vec<&serde_json::Value> = others.iter().map(|o| &o.preferences).collect();
    let custom_values: Vec<&Map<String, Value>> = others.iter().map(|o| &o.custom_fields).collect();
    let fields = ContactFields {
        company_id: fill_text(
            &s.company_id,
            others.iter().map(|o| &o.company_id).collect(),
        ),
        first_name: fill_text(
            &s.first_name,
            others.iter().map(|o| &o.first_name).collect(),
        ),
        last_name: s.last_name.clone(),
        email,
        phone: fill_text(&s.phone, others.iter().map(|o| &o.phone).collect()),
        title: fill_text(&s.title, others.iter().map(|o| &o.title).collect()),
        lifecycle_stage: s.lifecycle_stage,
        owner_id: fill_text(&s.owner_id, others.iter().map(|o| &o.owner_id).collect()),
        tags: rules::union_tags(&s.tags, &tags),
        preferences: rules::fill_object(&s.preferences, &preferences),
        marketing_consent: consent,
        birthday: s
            .birthday
            .or_else(|| others.iter().find_map(|o| o.birthday)),
        locale: fill_text(&s.locale, others.iter().map(|o| &o.locale).collect()),
        custom_fields: rules::merge_custom(defs, &s.custom_fields, &custom_values),
        custom_written: None,
    };
    (fields, consent_at)
}

/// Points what referred to the merged contacts at the survivor, each row's version bumped;
/// returns how many rows of each kind moved.
fn move_contact_references(
    conn: &mut DbConnection,
    from: &[String],
    to: &str,
    at: NaiveDateTime,
) -> Result<BTreeMap<&'static str, i64>, StoreError> {
    let mut moved = BTreeMap::new();
    let rows = diesel::update(interactions::table.filter(interactions::contact_id.eq_any(from)))
        .set((
            interactions::contact_id.eq(to),
            interactions::version.eq(interactions::version + 1_i64),
            interactions::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("interactions", count(rows));
    let rows = diesel::update(orders::table.filter(orders::contact_id.eq_any(from)))
        .set((
            orders::contact_id.eq(to),
            orders::version.eq(orders::version + 1_i64),
            orders::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("orders", count(rows));
    let rows = diesel::update(quotes::table.filter(quotes::contact_id.eq_any(from)))
        .set((
            quotes::contact_id.eq(to),
            quotes::version.eq(quotes::version + 1_i64),
            quotes::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("quotes", count(rows));
    let rows = diesel::update(leads::table.filter(leads::converted_contact_id.eq_any(from)))
        .set((
            leads::converted_contact_id.eq(to),
            leads::version.eq(leads::version + 1_i64),
            leads::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("leads", count(rows));
    let rows = diesel::update(opportunities::table.filter(opportunities::contact_id.eq_any(from)))
        .set((
            opportunities::contact_id.eq(to),
            opportunities::version.eq(opportunities::version + 1_i64),
            opportunities::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("opportunities", count(rows));
    let rows = diesel::update(returns::table.filter(returns::contact_id.eq_any(from)))
        .set((
            returns::contact_id.eq(to),
            returns::version.eq(returns::version + 1_i64),
            returns::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("returns", count(rows));
    let rows = diesel::update(cases::table.filter(cases::contact_id.eq_any(from)))
        .set((
            cases::contact_id.eq(to),
            cases::version.eq(cases::version + 1_i64),
            cases::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("cases", count(rows));
    // Consent events are the person's: the survivor's state on each channel becomes the latest
    // event of any of them, so a withdrawal recorded on a duplicate still holds.
    let rows =
        diesel::update(contact_consents::table.filter(contact_consents::contact_id.eq_any(from)))
            .set(contact_consents::contact_id.eq(to))
            .execute(conn)?;
    moved.insert("consents", count(rows));
    let rows = diesel::update(tasks::table.filter(tasks::contact_id.eq_any(from)))
        .set((
            tasks::contact_id.eq(to),
            tasks::version.eq(tasks::version + 1_i64),
            tasks::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("tasks", count(rows));
    moved.insert(
        "campaign_members",
        move_memberships(conn, Party::Contacts, from, to, at)?,
    );
    Ok(moved)
}

/// Moves the campaign memberships of `from` to `to`, except in campaigns where `to` is already a
/// member: those stay with the merged record, whose history they keep. Each statement checks
/// the survivor's memberships as they are then, so two duplicates in one campaign hand over one.
fn move_memberships(
    conn: &mut DbConnection,
    party: Party,
    from: &[String],
    to: &str,
    at: NaiveDateTime,
) -> Result<i64, StoreError> {
    let (prefix, column) = match party {
        Party::Contacts => ("contact", "contact_id"),
        Party::Companies => ("company", "company_id"),
    };
    let to_key = format!("{prefix}:{to}");
    let sql = format!(
        "UPDATE campaign_members SET member_key = $1, {column} = $2, version = version + 1, \
         updated_at = $3 WHERE member_key = $4 AND NOT EXISTS (SELECT 1 FROM campaign_members \
         kept WHERE kept.campaign_id = campaign_members.campaign_id AND kept.member_key = $1)"
    );
    let mut moved = 0;
    for id in from {
        let rows = diesel::sql_query(sql.as_str())
            .bind::<Text, _>(&to_key)
            .bind::<Text, _>(to)
            .bind::<Timestamp, _>(at)
            .bind::<Text, _>(format!("{prefix}:{id}"))
            .execute(conn)?;
        moved += count(rows);
    }
    Ok(moved)
}

/// Marks a merged contact: archived (which frees its email), pointing at the survivor, on the
/// version its checkout read.
fn mark_contact_merged(
    conn: &mut DbConnection,
    merged: &Contact,
    survivor_id: &str,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    records::update_versioned!(
        conn,
        contacts,
        &merged.id,
        merged.version,
        (
            contacts::merged_into_id.eq(Some(survivor_id)),
            contacts::archived_at.eq(Some(merged.archived_at.unwrap_or(at))),
            contacts::updated_at.eq(at),
            contacts::version.eq(merged.version + 1),
        )
    )
}

/// Merges the contacts of `request.from` into `request.survivor_id`, in one transaction, or
/// rehearses it (`dry_run`) and rolls it back.
pub fn merge_contacts(
    conn: &mut DbConnection,
    request: &MergeRequest,
) -> Result<Merged<Contact>, StoreError> {
    check_request(request)?;
    rehearsed(conn, request.dry_run, |conn| {
        merge_contacts_now(conn, request)
    })
}

fn merge_contacts_now(
    conn: &mut DbConnection,
    request: &MergeRequest,
) -> Result<Merged<Contact>, StoreError> {
    // The custom field definitions before the records, in the order a change of definition
    // takes them, so that a merge and a retype never wait for each other in a circle.
    crate::platform::custom_fields::fields_for_write(
        conn,
        crm_domain::platform::custom_fields::CustomObject::Contacts,
    )?;
    let (survivor, merged) = checkout_all(
        conn,
        Record::Contact,
        request,
        contact_store::get,
        |contact: &Contact| contact.version,
        "contact",
    )?;
    let merged_into: Vec<Option<&String>> =
        merged.iter().map(|m| m.merged_into_id.as_ref()).collect();
    check_states(
        "contact",
        (survivor.merged_into_id.as_ref(), survivor.archived_at),
        &merged_into,
    )?;
    let defs = custom::fields(conn, CustomObject::Contacts)?;
    let (mut fields, mut consent_at) = merged_contact_fields(&survivor, &merged, &defs);
    let at = now();
    let from: Vec<String> = merged.iter().map(|m| m.id.clone()).collect();
    let moved = move_contact_references(conn, &from, &survivor.id, at)?;
    // The email summary follows the latest email event of the merged person.
    if let Some((status, when)) = crate::marketing::consents::latest(
        conn,
        std::slice::from_ref(&survivor.id),
        crm_domain::marketing::campaigns::ConsentChannel::Email,
    )?
    .remove(&survivor.id)
    {
        fields.marketing_consent = status == crm_domain::marketing::consent::ConsentStatus::Granted;
        consent_at = Some(when);
    }
    let survivor_before = contact_old_values(&survivor);
    for contact in &merged {
        mark_contact_merged(conn, contact, &survivor.id, at)?;
        log(
            conn,
            Party::Contacts,
            &survivor.id,
            &contact.id,
            &request.actor,
            at,
            &json!({"survivor": survivor_before, "merged": contact_old_values(contact)}),
        )?;
        outbox::record(conn, EventType::ContactMerged, &contact.id)?;
    }
    let result = contact_store::absorb(conn, &survivor.id, fields, consent_at)?;
    let kept = flat(&contact_values(&result));
    let dropped: Vec<(String, Map<String, Value>)> = merged
        .iter()
        .map(|m| (m.id.clone(), flat(&contact_values(m))))
        .collect();
    let dropped: Vec<(&str, &Map<String, Value>)> =
        dropped.iter().map(|(id, v)| (id.as_str(), v)).collect();
    Ok(Merged {
        conflicts: rules::conflicts(&kept, &dropped),
        result,
        moved,
    })
}

// --- Companies ---

fn address_value(address: &Address) -> Value {
    json!({
        "line1": address.line1,
        "line2": address.line2,
        "city": address.city,
        "region": address.region,
        "postal_code": address.postal_code,
        "country": address.country,
    })
}

fn company_values(company: &Company) -> Map<String, Value> {
    let f = &company.fields;
    let mut values = Map::new();
    values.insert("name".into(), json!(f.name));
    values.insert("legal_name".into(), json!(f.legal_name));
    values.insert("tax_id".into(), json!(f.tax_id));
    values.insert("billing_address".into(), address_value(&f.billing_address));
    values.insert("email".into(), json!(f.email));
    values.insert("phone".into(), json!(f.phone));
    values.insert("website".into(), json!(f.website));
    values.insert("industry".into(), json!(f.industry));
    values.insert("owner_id".into(), json!(f.owner_id));
    values.insert("tags".into(), json!(f.tags));
    values.insert("preferences".into(), f.preferences.clone());
    values.insert(
        "custom_fields".into(),
        Value::Object(f.custom_fields.clone()),
    );
    values
}

/// The company's values as the merge log keeps them.
fn company_old_values(company: &Company) -> Value {
    let mut values = company_values(company);
    values.insert("id".into(), json!(company.id));
    values.insert(
        "tier".into(),
        json!(company.tier.map(|t| t.as_str().to_owned())),
    );
    values.insert("version".into(), json!(company.version));
    values.insert("archived_at".into(), instant(company.archived_at));
    Value::Object(values)
}

fn address_is_empty(address: &Address) -> bool {
    [
        &address.line1,
        &address.line2,
        &address.city,
        &address.region,
        &address.postal_code,
        &address.country,
    ]
    .iter()
    .all(|part| part.as_deref().is_none_or(|p| p.trim().is_empty()))
}

/// The survivor's fields after the merge. An address is taken whole, never mixed.
fn merged_company_fields(
    survivor: &Company,
    merged: &[Company],
    defs: &[CustomField],
) -> CompanyFields {
    let s = &survivor.fields;
    let others: Vec<&CompanyFields> = merged.iter().map(|m| &m.fields).collect();
    let billing_address = if address_is_empty(&s.billing_address) {
        others
            .iter()
            .map(|o| &o.billing_address)
            .find(|a| !address_is_empty(a))
            .unwrap_or(&s.billing_address)
            .clone()
    } else {
        s.billing_address.clone()
    };
    let tags: Vec<&[String]> = others.iter().map(|o| o.tags.as_slice()).collect();
    let preferences: Vec<&serde_json::Value> = others.iter().map(|o| &o.preferences).collect();
    let custom_values: Vec<&Map<String, Value>> = others.iter().map(|o| &o.custom_fields).collect();
    CompanyFields {
        name: s.name.clone(),
        legal_name: fill_text(
            &s.legal_name,
            others.iter().map(|o| &o.legal_name).collect(),
        ),
        tax_id: fill_text(&s.tax_id, others.iter().map(|o| &o.tax_id).collect()),
        billing_address,
        email: fill_text(&s.email, others.iter().map(|o| &o.email).collect()),
        phone: fill_text(&s.phone, others.iter().map(|o| &o.phone).collect()),
        website: fill_text(&s.website, others.iter().map(|o| &o.website).collect()),
        industry: fill_text(&s.industry, others.iter().map(|o| &o.industry).collect()),
        owner_id: fill_text(&s.owner_id, others.iter().map(|o| &o.owner_id).collect()),
        tags: rules::union_tags(&s.tags, &tags),
        preferences: rules::fill_object(&s.preferences, &preferences),
        custom_fields: rules::merge_custom(defs, &s.custom_fields, &custom_values),
        custom_written: None,
    }
}

/// Adds the merged companies' rollups to the survivor's, month by month and currency by
/// currency, and drops theirs: the rollups are derived sums, so the totals are unchanged.
fn move_rollups(conn: &mut DbConnection, from: &[String], to: &str) -> Result<i64, StoreError> {
    let mut moved = 0;
    for id in from {
        // `WHERE true` lets SQLite read `ON CONFLICT` after a SELECT.
        diesel::sql_query(
            "INSERT INTO customer_rollups (company_id, month, currency, revenue_minor, \
             cost_minor, returns_minor, concessions_minor, orders, units_milli) \
             SELECT $1, month, currency, revenue_minor, cost_minor, returns_minor, \
             concessions_minor, orders, units_milli FROM customer_rollups \
             WHERE company_id = $2 AND true \
             ON CONFLICT (company_id, month, currency) DO UPDATE SET \
             revenue_minor = customer_rollups.revenue_minor + excluded.revenue_minor, \
             cost_minor = customer_rollups.cost_minor + excluded.cost_minor, \
             returns_minor = customer_rollups.returns_minor + excluded.returns_minor, \
             concessions_minor = customer_rollups.concessions_minor + excluded.concessions_minor, \
             orders = customer_rollups.orders + excluded.orders, \
             units_milli = customer_rollups.units_milli + excluded.units_milli",
        )
        .bind::<Text, _>(to)
        .bind::<Text, _>(id)
        .execute(conn)?;
        moved += count(
            diesel::sql_query("DELETE FROM customer_rollups WHERE company_id = $1")
                .bind::<Text, _>(id)
                .execute(conn)?,
        );
    }
    Ok(moved)
}

/// Points what referred to the merged companies at the survivor, each row's version bumped;
/// returns how many rows of each kind moved. Issued invoices and credit notes keep their
/// company: the ledger's chain covers it, and their printed recipient stays as issued.
fn move_company_references(
    conn: &mut DbConnection,
    from: &[String],
    to: &str,
    at: NaiveDateTime,
) -> Result<BTreeMap<&'static str, i64>, StoreError> {
    let mut moved = BTreeMap::new();
    let rows = diesel::update(contacts::table.filter(contacts::company_id.eq_any(from)))
        .set((
            contacts::company_id.eq(to),
            contacts::version.eq(contacts::version + 1_i64),
            contacts::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("contacts", count(rows));
    let rows = diesel::update(interactions::table.filter(interactions::company_id.eq_any(from)))
        .set((
            interactions::company_id.eq(to),
            interactions::version.eq(interactions::version + 1_i64),
            interactions::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("interactions", count(rows));
    let rows = diesel::update(orders::table.filter(orders::company_id.eq_any(from)))
        .set((
            orders::company_id.eq(to),
            orders::version.eq(orders::version + 1_i64),
            orders::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("orders", count(rows));
    let rows = diesel::update(quotes::table.filter(quotes::company_id.eq_any(from)))
        .set((
            quotes::company_id.eq(to),
            quotes::version.eq(quotes::version + 1_i64),
            quotes::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("quotes", count(rows));
    let rows = diesel::update(leads::table.filter(leads::converted_company_id.eq_any(from)))
        .set((
            leads::converted_company_id.eq(to),
            leads::version.eq(leads::version + 1_i64),
            leads::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("leads", count(rows));
    let rows = diesel::update(opportunities::table.filter(opportunities::company_id.eq_any(from)))
        .set((
            opportunities::company_id.eq(to),
            opportunities::version.eq(opportunities::version + 1_i64),
            opportunities::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("opportunities", count(rows));
    let rows = diesel::update(returns::table.filter(returns::company_id.eq_any(from)))
        .set((
            returns::company_id.eq(to),
            returns::version.eq(returns::version + 1_i64),
            returns::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("returns", count(rows));
    let rows = diesel::update(cases::table.filter(cases::company_id.eq_any(from)))
        .set((
            cases::company_id.eq(to),
            cases::version.eq(cases::version + 1_i64),
            cases::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("cases", count(rows));
    let rows = diesel::update(
        invoices::table
            .filter(invoices::company_id.eq_any(from))
            .filter(invoices::number.is_null()),
    )
    .set((
        invoices::company_id.eq(to),
        invoices::version.eq(invoices::version + 1_i64),
        invoices::updated_at.eq(at),
    ))
    .execute(conn)?;
    moved.insert("invoices", count(rows));
    let rows = diesel::update(users::table.filter(users::company_id.eq_any(from)))
        .set((
            users::company_id.eq(to),
            users::version.eq(users::version + 1_i64),
            users::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("portal_users", count(rows));
    let rows = diesel::update(tasks::table.filter(tasks::company_id.eq_any(from)))
        .set((
            tasks::company_id.eq(to),
            tasks::version.eq(tasks::version + 1_i64),
            tasks::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("tasks", count(rows));
    let rows = diesel::update(visit_plans::table.filter(visit_plans::company_id.eq_any(from)))
        .set((
            visit_plans::company_id.eq(to),
            visit_plans::version.eq(visit_plans::version + 1_i64),
            visit_plans::updated_at.eq(at),
        ))
        .execute(conn)?;
    moved.insert("visit_plans", count(rows));
    let moved_members = move_memberships(conn, Party::Companies, from, to, at)?;
    // A person's membership names their company too.
    diesel::update(
        campaign_members::table
            .filter(campaign_members::company_id.eq_any(from))
            .filter(campaign_members::contact_id.is_not_null()),
    )
    .set((
        campaign_members::company_id.eq(to),
        campaign_members::version.eq(campaign_members::version + 1_i64),
        campaign_members::updated_at.eq(at),
    ))
    .execute(conn)?;
    moved.insert("campaign_members", moved_members);
    moved.insert("rollups", move_rollups(conn, from, to)?);
    let mut folded: Vec<String> = from.iter().cloned().chain([to.to_owned()]).collect();
    folded.sort();
    crate::analytics::years::refold(conn, &folded)?;
    Ok(moved)
}

/// Marks a merged company: archived, pointing at the survivor, on the version its checkout
/// read.
fn mark_company_merged(
    conn: &mut DbConnection,
    merged: &Company,
    survivor_id: &str,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    records::update_versioned!(
        conn,
        companies,
        &merged.id,
        merged.version,
        (
            companies::merged_into_id.eq(Some(survivor_id)),
            companies::archived_at.eq(Some(merged.archived_at.unwrap_or(at))),
            companies::updated_at.eq(at),
            companies::version.eq(merged.version + 1),
        )
    )
}

/// Merges the companies of `request.from` into `request.survivor_id`, in one transaction, or
/// rehearses it (`dry_run`) and rolls it back.
pub fn merge_companies(
    conn: &mut DbConnection,
    request: &MergeRequest,
) -> Result<Merged<Company>, StoreError> {
    check_request(request)?;
    rehearsed(conn, request.dry_run, |conn| {
        merge_companies_now(conn, request)
    })
}

fn merge_companies_now(
    conn: &mut DbConnection,
    request: &MergeRequest,
) -> Result<Merged<Company>, StoreError> {
    // The custom field definitions before the records, in the order a change of definition
    // takes them, so that a merge and a retype never wait for each other in a circle.
    crate::platform::custom_fields::fields_for_write(
        conn,
        crm_domain::platform::custom_fields::CustomObject::Companies,
    )?;
    let (survivor, merged) = checkout_all(
        conn,
        Record::Company,
        request,
        |c, id| company_store::get(c, id, Reach::All, None),
        |company: &Company| company.version,
        "company",
    )?;
    let merged_into: Vec<Option<&String>> =
        merged.iter().map(|m| m.merged_into_id.as_ref()).collect();
    check_states(
        "company",
        (survivor.merged_into_id.as_ref(), survivor.archived_at),
        &merged_into,
    )?;
    let defs = custom::fields(conn, CustomObject::Companies)?;
    let fields = merged_company_fields(&survivor, &merged, &defs);
    let at = now();
    let from: Vec<String> = merged.iter().map(|m| m.id.clone()).collect();
    let moved = move_company_references(conn, &from, &survivor.id, at)?;
    let survivor_before = company_old_values(&survivor);
    for company in &merged {
        mark_company_merged(conn, company, &survivor.id, at)?;
        log(
            conn,
            Party::Companies,
            &survivor.id,
            &company.id,
            &request.actor,
            at,
            &json!({"survivor": survivor_before, "merged": company_old_values(company)}),
        )?;
        outbox::record(conn, EventType::CompanyMerged, &company.id)?;
    }
    let result = company_store::absorb(conn, &survivor.id, fields)?;
    let kept = flat(&company_values(&result));
    let dropped: Vec<(String, Map<String, Value>)> = merged
        .iter()
        .map(|m| (m.id.clone(), flat(&company_values(m))))
        .collect();
    let dropped: Vec<(&str, &Map<String, Value>)> =
        dropped.iter().map(|(id, v)| (id.as_str(), v)).collect();
    Ok(Merged {
        conflicts: rules::conflicts(&kept, &dropped),
        result,
        moved,
    })
}

// --- The log and the timeline ---

#[derive(Queryable, Selectable)]
#[diesel(table_name = merge_log)]
struct MergeRow {
    id: String,
    object: String,
    survivor_id: String,
    merged_id: String,
    actor: String,
    merged_at: NaiveDateTime,
    old_values: String,
}

/// One record merged into another.
#[derive(Debug, Clone)]
pub struct MergeEntry {
    pub id: String,
    pub survivor_id: String,
    pub merged_id: String,
    /// Who merged, as `crm_domain::access::actors` writes it.
    pub actor: String,
    pub merged_at: NaiveDateTime,
    /// `{"survivor": {...}, "merged": {...}}`: both records' values before the merge.
    pub old_values: Value,
}

impl MergeRow {
    fn into_entry(self) -> Result<MergeEntry, StoreError> {
        Ok(MergeEntry {
            old_values: crate::platform::stored::stored_json(
                "merges",
                "old_values",
                &self.old_values,
            )?,
            id: self.id,
            survivor_id: self.survivor_id,
            merged_id: self.merged_id,
            actor: self.actor,
            merged_at: self.merged_at,
        })
    }
}

/// The most entries one read of a record's merges lists.
const MAX_LOG: i64 = 200;

/// The records merged into `survivor_id`, newest first; `NotFound` when it does not exist.
pub fn log_of(
    conn: &mut DbConnection,
    party: Party,
    survivor_id: &str,
) -> Result<Vec<MergeEntry>, StoreError> {
    match ensure_exists(conn, party, survivor_id, "id") {
        Err(StoreError::Invalid(_)) => return Err(StoreError::NotFound),
        other => other?,
    }
    let rows: Vec<MergeRow> = merge_log::table
        .filter(merge_log::object.eq(party.as_str()))
        .filter(merge_log::survivor_id.eq(survivor_id))
        .order((merge_log::merged_at.desc(), merge_log::id.desc()))
        .limit(MAX_LOG)
        .select(MergeRow::as_select())
        .load(conn)?;
    rows.into_iter().map(MergeRow::into_entry).collect()
}

/// What a timeline says of a merge: the merged record's name, as the log kept it.
fn summary(row: &MergeRow) -> String {
    let old: Value = serde_json::from_str(&row.old_values).unwrap_or(Value::Null);
    let merged = &old["merged"];
    let name = if row.object == Party::Companies.as_str() {
        merged["name"].as_str().map(str::to_owned)
    } else {
        merged["last_name"]
            .as_str()
            .map(|last| match merged["first_name"].as_str() {
                Some(first) => format!("{first} {last}"),
                None => last.to_owned(),
            })
    };
    format!("Merged {}", name.unwrap_or_else(|| row.merged_id.clone()))
}

/// The merges into a contact or company as timeline entries, newest first.
pub(crate) fn timeline_page(
    conn: &mut DbConnection,
    subject: &Subject,
    page: &PageRequest<()>,
) -> Result<Vec<TimelineEntry>, StoreError> {
    let (party, id) = match subject {
        Subject::Contact(id) => (Party::Contacts, id),
        Subject::Company(id) => (Party::Companies, id),
    };
    let query = merge_log::table
        .select(MergeRow::as_select())
        .filter(merge_log::object.eq(party.as_str()))
        .filter(merge_log::survivor_id.eq(id.clone()))
        .into_boxed();
    let rows: Vec<MergeRow> =
        keyset!(query, merge_log::merged_at, merge_log::id, page, time).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| TimelineEntry {
            kind: TimelineKind::Merge,
            summary: summary(&row),
            detail: Some(row.merged_id.clone()),
            contact_id: (party == Party::Contacts).then(|| row.survivor_id.clone()),
            company_id: (party == Party::Companies).then(|| row.survivor_id.clone()),
            user_id: actors::user_of(&row.actor).map(str::to_owned),
            id: row.id,
            at: row.merged_at,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(survivor: &str, from: &[&str]) -> MergeRequest {
        MergeRequest {
            survivor_id: survivor.into(),
            from: from.iter().map(|f| (*f).to_owned()).collect(),
            expected_version: None,
            actor: "user:u".into(),
            dry_run: false,
        }
    }

    #[test]
    fn requests_name_one_to_ten_others() {
        assert!(check_request(&request("a", &["b", "c"])).is_ok());
        assert!(check_request(&request("a", &[])).is_err());
        assert!(check_request(&request("a", &["a"])).is_err());
        assert!(check_request(&request("a", &["b", "b"])).is_err());
        let many: Vec<String> = (0..=MAX_MERGED).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(check_request(&request("a", &many)).is_err());
    }

    #[test]
    fn records_are_locked_in_id_order() {
        assert_eq!(lock_order(&request("m", &["z", "b"])), vec!["b", "m", "z"]);
    }

    #[test]
    fn conflicts_compare_flat_values_without_preferences() {
        let values = json!({"phone": "1", "preferences": {"a": 1}, "custom_fields": {"size": "L"}});
        let flat = flat(values.as_object().unwrap());
        assert_eq!(
            Value::Object(flat),
            json!({"phone": "1", "custom_fields.size": "L"})
        );
    }
}
