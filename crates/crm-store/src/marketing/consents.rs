//! Consent events: what each contact agreed to on each channel, and when. The latest event of a
//! channel is its state; `contacts.marketing_consent` is kept as the summary of email.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use crm_domain::events::catalogue::EventType;
use crm_domain::marketing::campaigns::{reachable, ConsentChannel, MemberStatus, OptIn, Reach};
use crm_domain::marketing::consent::{ConsentStatus, LawfulBasis};
use diesel::prelude::*;

use crate::events::outbox;
use crate::platform::db::DbConnection;
use crate::platform::pagination::{keyset, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{campaign_members, campaigns, contact_consents, contacts};
use crate::platform::stored::stored;
use crate::{new_id, now, StoreError};
use crm_domain::parties::timeline::{Subject, TimelineEntry, TimelineKind};

/// One change of consent, as it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEvent {
    pub channel: ConsentChannel,
    pub status: ConsentStatus,
    pub lawful_basis: LawfulBasis,
    /// Where it came from: a form, a call, `unsubscribe_link`, `contact` (a write of
    /// `marketing_consent`), `migration`.
    pub source: String,
    /// When the person gave or withdrew it.
    pub at: NaiveDateTime,
    pub recorded_by: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Consent {
    pub id: String,
    pub contact_id: String,
    pub event: ConsentEvent,
    pub recorded_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = contact_consents, treat_none_as_default_value = false)]
struct ConsentRow {
    id: String,
    contact_id: String,
    channel: String,
    status: String,
    lawful_basis: String,
    source: String,
    at: NaiveDateTime,
    recorded_by: Option<String>,
    recorded_at: NaiveDateTime,
}

impl ConsentRow {
    fn new(contact_id: &str, event: &ConsentEvent, recorded_at: NaiveDateTime) -> Self {
        ConsentRow {
            id: new_id(),
            contact_id: contact_id.to_owned(),
            channel: event.channel.as_str().to_owned(),
            status: event.status.as_str().to_owned(),
            lawful_basis: event.lawful_basis.as_str().to_owned(),
            source: event.source.clone(),
            at: event.at,
            recorded_by: event.recorded_by.clone(),
            recorded_at,
        }
    }

    fn into_consent(self) -> Result<Consent, StoreError> {
        Ok(Consent {
            event: ConsentEvent {
                channel: stored("contact_consents", "channel", &self.channel)?,
                status: stored("contact_consents", "status", &self.status)?,
                lawful_basis: stored("contact_consents", "lawful_basis", &self.lawful_basis)?,
                source: self.source,
                at: self.at,
                recorded_by: self.recorded_by,
            },
            id: self.id,
            contact_id: self.contact_id,
            recorded_at: self.recorded_at,
        })
    }
}

/// Appends an event, and nothing else: for writes of the contact that already hold its row.
pub fn append(
    conn: &mut DbConnection,
    contact_id: &str,
    event: &ConsentEvent,
) -> Result<Consent, StoreError> {
    let row = ConsentRow::new(contact_id, event, now());
    diesel::insert_into(contact_consents::table)
        .values(&row)
        .execute(conn)?;
    row.into_consent()
}

/// Appends events of many contacts with multi-row INSERTs, for bulk loads.
pub fn append_many(
    conn: &mut DbConnection,
    events: &[(String, ConsentEvent)],
) -> Result<usize, StoreError> {
    let at = now();
    let rows: Vec<ConsentRow> = events
        .iter()
        .map(|(contact_id, event)| ConsentRow::new(contact_id, event, at))
        .collect();
    Ok(crate::platform::db::insert_batch!(
        conn,
        contact_consents::table,
        rows
    ))
}

/// Records an event for a contact under its lock; an email event also moves the contact's
/// `marketing_consent` summary (and its version) to the channel's latest state.
pub fn record(
    conn: &mut DbConnection,
    contact_id: &str,
    expected_version: Option<i64>,
    event: &ConsentEvent,
) -> Result<Consent, StoreError> {
    records::lock(conn, Record::Contact, contact_id)?;
    let version: i64 = contacts::table
        .find(contact_id)
        .select(contacts::version)
        .first(conn)?;
    if expected_version.is_some_and(|expected| expected != version) {
        return Err(StoreError::VersionMismatch { current: version });
    }
    let consent = append(conn, contact_id, event)?;
    if event.channel == ConsentChannel::Email {
        let latest = latest(conn, &[contact_id.to_owned()], ConsentChannel::Email)?;
        let given = latest
            .get(contact_id)
            .filter(|(status, _)| *status == ConsentStatus::Granted)
            .map(|(_, at)| *at);
        records::update_versioned!(
            conn,
            contacts,
            contact_id,
            version,
            (
                contacts::marketing_consent.eq(given.is_some()),
                contacts::marketing_consent_at.eq(given),
                contacts::version.eq(version + 1),
                contacts::updated_at.eq(now()),
            )
        )?;
    }
    outbox::record(conn, EventType::ContactUpdated, contact_id)?;
    Ok(consent)
}

/// The latest event of `channel` of each of `contact_ids` that has one: its status and when.
pub fn latest(
    conn: &mut DbConnection,
    contact_ids: &[String],
    channel: ConsentChannel,
) -> Result<HashMap<String, (ConsentStatus, NaiveDateTime)>, StoreError> {
    let rows: Vec<(String, String, NaiveDateTime)> = contact_consents::table
        .filter(contact_consents::contact_id.eq_any(contact_ids))
        .filter(contact_consents::channel.eq(channel.as_str()))
        .order((
            contact_consents::contact_id.asc(),
            contact_consents::at.asc(),
            contact_consents::id.asc(),
        ))
        .select((
            contact_consents::contact_id,
            contact_consents::status,
            contact_consents::at,
        ))
        .load(conn)?;
    let mut latest = HashMap::new();
    for (contact, status, at) in rows {
        let status: ConsentStatus = stored("contact_consents", "status", &status)?;
        latest.insert(contact, (status, at));
    }
    Ok(latest)
}

/// Every event of a contact, in the order they happened.
pub fn history(conn: &mut DbConnection, contact_id: &str) -> Result<Vec<Consent>, StoreError> {
    ensure_contact(conn, contact_id)?;
    let rows: Vec<ConsentRow> = contact_consents::table
        .filter(contact_consents::contact_id.eq(contact_id))
        .order((contact_consents::at.asc(), contact_consents::id.asc()))
        .select(ConsentRow::as_select())
        .load(conn)?;
    rows.into_iter().map(ConsentRow::into_consent).collect()
}

/// A channel of a contact: its latest event, if any, and whether a campaign may use it (by
/// consent alone, whatever the addresses).
pub struct ChannelState {
    pub channel: ConsentChannel,
    pub latest: Option<Consent>,
    pub usable: bool,
}

/// Each channel's state of a contact, judged with `opt_in`.
pub fn states(
    conn: &mut DbConnection,
    contact_id: &str,
    opt_in: OptIn,
) -> Result<Vec<ChannelState>, StoreError> {
    let mut by_channel: HashMap<ConsentChannel, Consent> = HashMap::new();
    for consent in history(conn, contact_id)? {
        by_channel.insert(consent.event.channel, consent);
    }
    Ok(ConsentChannel::ALL
        .iter()
        .map(|channel| {
            let latest = by_channel.remove(channel);
            let status = latest.as_ref().map(|c| c.event.status);
            let consent_only = Reach {
                has_address: true,
                granted: status == Some(ConsentStatus::Granted),
                withdrawn: status == Some(ConsentStatus::Withdrawn),
            };
            ChannelState {
                channel: *channel,
                usable: reachable(Some(*channel), consent_only, opt_in),
                latest,
            }
        })
        .collect())
}

fn ensure_contact(conn: &mut DbConnection, contact_id: &str) -> Result<(), StoreError> {
    contacts::table
        .find(contact_id)
        .select(contacts::id)
        .first::<String>(conn)?;
    Ok(())
}

/// A withdrawal by the contact's own link: records it, and opts the contact's memberships of
/// campaigns on that channel out, with one conditioned update.
pub fn unsubscribe(
    conn: &mut DbConnection,
    contact_id: &str,
    channel: ConsentChannel,
) -> Result<Consent, StoreError> {
    let consent = record(
        conn,
        contact_id,
        None,
        &ConsentEvent {
            channel,
            status: ConsentStatus::Withdrawn,
            lawful_basis: LawfulBasis::Consent,
            source: "unsubscribe_link".to_owned(),
            at: now(),
            recorded_by: None,
        },
    )?;
    let on_channel = campaigns::table
        .filter(campaigns::consent_channel.eq(channel.as_str()))
        .select(campaigns::id);
    diesel::update(
        campaign_members::table
            .filter(campaign_members::member_key.eq(format!("contact:{contact_id}")))
            .filter(campaign_members::status.ne(MemberStatus::OptedOut.as_str()))
            .filter(campaign_members::campaign_id.eq_any(on_channel)),
    )
    .set((
        campaign_members::status.eq(MemberStatus::OptedOut.as_str()),
        campaign_members::version.eq(campaign_members::version + 1),
        campaign_members::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(consent)
}

/// The contact's channel as a token names it, for the page a link opens: none when the contact
/// is gone.
pub fn current(
    conn: &mut DbConnection,
    contact_id: &str,
    channel: ConsentChannel,
) -> Result<Option<ConsentStatus>, StoreError> {
    ensure_contact(conn, contact_id)?;
    Ok(latest(conn, &[contact_id.to_owned()], channel)?
        .remove(contact_id)
        .map(|(status, _)| status))
}

/// What the store knows of a contact on a channel: an address there, and the latest consent
/// event of the channel.
pub(crate) fn reach(
    channel: ConsentChannel,
    email: Option<&str>,
    phone: Option<&str>,
    latest: Option<ConsentStatus>,
) -> Reach {
    let has_address = match channel {
        ConsentChannel::Email => email.is_some(),
        ConsentChannel::Phone | ConsentChannel::Sms => phone.is_some(),
        ConsentChannel::Post => true,
    };
    Reach {
        has_address,
        granted: latest == Some(ConsentStatus::Granted),
        withdrawn: latest == Some(ConsentStatus::Withdrawn),
    }
}

/// A contact's id, email and phone: what reachability needs besides consent.
pub(crate) type Addresses = (String, Option<String>, Option<String>);

/// Contacts whose consent is read per query.
const CONSENT_CHUNK: usize = 1_000;

/// The ids of those of `people` who may be reached on `channel`.
pub(crate) fn reachable_people(
    conn: &mut DbConnection,
    people: &[Addresses],
    channel: ConsentChannel,
    opt_in: OptIn,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut reachable_ids = std::collections::HashSet::new();
    for chunk in people.chunks(CONSENT_CHUNK) {
        let ids: Vec<String> = chunk.iter().map(|p| p.0.clone()).collect();
        let latest = latest(conn, &ids, channel)?;
        for (id, email, phone) in chunk {
            let status = latest.get(id).map(|(status, _)| *status);
            if reachable(
                Some(channel),
                reach(channel, email.as_deref(), phone.as_deref(), status),
                opt_in,
            ) {
                reachable_ids.insert(id.clone());
            }
        }
    }
    Ok(reachable_ids)
}

/// The consent events of a contact, or of a company's contacts, as timeline entries, newest
/// first.
pub(crate) fn timeline_page(
    conn: &mut DbConnection,
    subject: &Subject,
    page: &PageRequest<()>,
) -> Result<Vec<TimelineEntry>, StoreError> {
    let query = contact_consents::table
        .select(ConsentRow::as_select())
        .into_boxed();
    let query = match subject {
        Subject::Contact(id) => query.filter(contact_consents::contact_id.eq(id.clone())),
        Subject::Company(id) => query.filter(
            contact_consents::contact_id.eq_any(
                contacts::table
                    .filter(contacts::company_id.eq(id.clone()))
                    .select(contacts::id),
            ),
        ),
    };
    let rows: Vec<ConsentRow> = keyset!(
        query,
        contact_consents::at,
        contact_consents::id,
        page,
        time
    )
    .load(conn)?;
    let company = match subject {
        Subject::Company(id) => Some(id.clone()),
        Subject::Contact(_) => None,
    };
    Ok(rows
        .into_iter()
        .map(|row| TimelineEntry {
            kind: TimelineKind::Consent,
            summary: format!("{} {} ({})", row.channel, row.status, row.source),
            detail: Some(row.channel),
            id: row.id,
            at: row.at,
            contact_id: Some(row.contact_id),
            company_id: company.clone(),
            user_id: row.recorded_by,
        })
        .collect())
}
