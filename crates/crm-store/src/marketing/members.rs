//! Campaign members: the people and companies a campaign reaches, and how far each went.

use chrono::{NaiveDate, NaiveDateTime};
use crm_domain::marketing::campaigns::{
    advance, converts, reachable, ConsentChannel, MemberStatus, OptIn,
};
use diesel::prelude::*;

use crate::events::outbox;
use crate::marketing::campaigns::{self, Visible};
use crate::marketing::consents::{self, reach};
use crate::marketing::segments;
use crate::marketing::Audience;
use crate::parties::timeline::subject_page;
use crate::platform::db::{natively, DbConnection};
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{campaign_members, companies, contacts};
use crate::platform::stored::stored;
use crate::{new_id, now, StoreError};
use crm_domain::events::catalogue::EventType;
use crm_domain::marketing::campaigns::{CampaignAction, SegmentSubject};
use crm_domain::parties::timeline::{Subject, TimelineEntry, TimelineKind};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaign_members)]
struct MemberRow {
    id: String,
    campaign_id: String,
    member_key: String,
    contact_id: Option<String>,
    company_id: Option<String>,
    status: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub campaign_id: String,
    pub contact_id: Option<String>,
    pub company_id: Option<String>,
    pub status: MemberStatus,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl MemberRow {
    fn into_member(self) -> Result<Member, StoreError> {
        Ok(Member {
            status: stored("campaign_members", "status", &self.status)?,
            id: self.id,
            campaign_id: self.campaign_id,
            contact_id: self.contact_id,
            company_id: self.company_id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Whom to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Contact(String),
    Company(String),
}

/// What became of one target.
#[derive(Debug, Clone)]
pub enum Added {
    Added(Member),
    Existing(Member),
    /// Not reachable on the campaign's consent channel.
    NoConsent,
    NotFound,
}

type ContactReach = (String, Option<String>, Option<String>, Option<String>);

/// The live contacts of `target` with whether each may be reached, and the company of the
/// membership; none when the target does not exist or is archived.
fn reachability(
    conn: &mut DbConnection,
    target: &Target,
    channel: Option<ConsentChannel>,
    opt_in: OptIn,
) -> Result<Option<(Option<String>, bool)>, StoreError> {
    let query = contacts::table
        .filter(contacts::archived_at.is_null())
        .select((
            contacts::id,
            contacts::company_id,
            contacts::email,
            contacts::phone,
        ))
        .into_boxed();
    let (company, people): (Option<String>, Vec<ContactReach>) = match target {
        Target::Contact(id) => {
            let people: Vec<ContactReach> = query.filter(contacts::id.eq(id)).load(conn)?;
            match people.first() {
                Some(person) => (person.1.clone(), people),
                None => return Ok(None),
            }
        }
        Target::Company(id) => {
            let live: Option<String> = companies::table
                .find(id)
                .filter(companies::archived_at.is_null())
                .select(companies::id)
                .first(conn)
                .optional()?;
            if live.is_none() {
                return Ok(None);
            }
            let people = query.filter(contacts::company_id.eq(id)).load(conn)?;
            (Some(id.clone()), people)
        }
    };
    let any_reachable = match channel {
        None => true,
        Some(channel) => {
            let ids: Vec<String> = people.iter().map(|p| p.0.clone()).collect();
            let latest = consents::latest(conn, &ids, channel)?;
            people.iter().any(|(id, _, email, phone)| {
                let status = latest.get(id).map(|(status, _)| *status);
                reachable(
                    Some(channel),
                    reach(channel, email.as_deref(), phone.as_deref(), status),
                    opt_in,
                )
            })
        }
    };
    Ok(Some((company, any_reachable)))
}

fn key_of(target: &Target) -> String {
    match target {
        Target::Contact(id) => format!("contact:{id}"),
        Target::Company(id) => format!("company:{id}"),
    }
}

fn find(
    conn: &mut DbConnection,
    campaign_id: &str,
    member_key: &str,
) -> Result<Option<MemberRow>, StoreError> {
    Ok(campaign_members::table
        .filter(campaign_members::campaign_id.eq(campaign_id))
        .filter(campaign_members::member_key.eq(member_key))
        .select(MemberRow::as_select())
        .first(conn)
        .optional()?)
}

/// Adds each target, then each live member of the segment `segment_id` names, to a campaign
/// the caller may see, and says per target what became of it. Adding a member twice, or from
/// two nodes at once, makes one membership.
pub fn add(
    conn: &mut DbConnection,
    audience: Audience,
    campaign_id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
    targets: Vec<Target>,
    segment_id: Option<&str>,
) -> Result<Vec<(Target, Added)>, StoreError> {
    let campaign = campaigns::checkout(conn, campaign_id, expected_version, visible)?;
    let mut targets = targets;
    if let Some(segment_id) = segment_id {
        let segment = match segments::get(conn, segment_id, visible) {
            Err(StoreError::NotFound) => {
                return Err(crm_domain::Violation::new("segment_id", "no such segment").into())
            }
            found => found?,
        };
        let subject = segment.fields.subject;
        let now = audience.clock.now(conn)?;
        targets.extend(segments::all_members(conn, &segment, now)?.into_iter().map(
            |m| match subject {
                SegmentSubject::Companies => Target::Company(m.id),
                SegmentSubject::Contacts => Target::Contact(m.id),
            },
        ));
    }
    let mut outcomes = Vec::with_capacity(targets.len());
    for target in &targets {
        let Some((company_id, any_reachable)) = reachability(
            conn,
            target,
            campaign.fields.consent_channel,
            audience.opt_in,
        )?
        else {
            outcomes.push(Added::NotFound);
            continue;
        };
        let member_key = key_of(target);
        if let Some(existing) = find(conn, campaign_id, &member_key)? {
            outcomes.push(Added::Existing(existing.into_member()?));
            continue;
        }
        if !any_reachable {
            outcomes.push(Added::NoConsent);
            continue;
        }
        let at = now();
        let row = MemberRow {
            id: new_id(),
            campaign_id: campaign_id.to_owned(),
            member_key: member_key.clone(),
            contact_id: match target {
                Target::Contact(id) => Some(id.clone()),
                Target::Company(_) => None,
            },
            company_id,
            status: MemberStatus::Targeted.as_str().to_owned(),
            version: 1,
            created_at: at,
            updated_at: at,
        };
        let inserted = natively!(conn, |c| diesel::insert_into(campaign_members::table)
            .values(&row)
            .on_conflict_do_nothing()
            .execute(c))?;
        let outcome = if inserted == 1 {
            Added::Added(row.into_member()?)
        } else {
            let existing = find(conn, campaign_id, &member_key)?.ok_or(StoreError::NotFound)?;
            Added::Existing(existing.into_member()?)
        };
        outcomes.push(outcome);
    }
    if outcomes.iter().any(|o| matches!(o, Added::Added(_))) {
        outbox::record(conn, EventType::CampaignMembersChanged, campaign_id)?;
    }
    Ok(targets.into_iter().zip(outcomes).collect())
}

pub fn list(
    conn: &mut DbConnection,
    campaign: &(String, Visible),
    page: &PageRequest<()>,
) -> Result<Page<Member>, StoreError> {
    let (campaign_id, visible) = campaign;
    campaigns::get(conn, campaign_id, visible)?;
    let query = campaign_members::table
        .filter(campaign_members::campaign_id.eq(campaign_id.clone()))
        .select(MemberRow::as_select())
        .into_boxed();
    page_by_time!(conn, page, query, campaign_members::created_at, MemberRow)
        .try_map(MemberRow::into_member)
}

fn load(conn: &mut DbConnection, id: &str) -> Result<MemberRow, StoreError> {
    records::load_row(conn, campaign_members::table, id)
}

/// Activates a campaign, and adds the members of its target segment as of now, in one
/// transaction.
pub fn activate(
    conn: &mut DbConnection,
    audience: Audience,
    campaign_id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
) -> Result<campaigns::Campaign, StoreError> {
    let campaign = campaigns::act(
        conn,
        campaign_id,
        expected_version,
        visible,
        CampaignAction::Activate,
    )?;
    if let Some(segment) = campaign.fields.target_segment_id.clone() {
        add(
            conn,
            audience,
            campaign_id,
            None,
            visible,
            Vec::new(),
            Some(&segment),
        )?;
    }
    Ok(campaign)
}

/// Moves a member forward (`409` backwards or once opted out).
pub fn set_status(
    conn: &mut DbConnection,
    campaign_id: &str,
    member_id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
    status: MemberStatus,
) -> Result<Member, StoreError> {
    campaigns::get(conn, campaign_id, visible)?;
    let row = records::checkout(
        conn,
        Record::CampaignMember,
        member_id,
        expected_version,
        load,
        |r| r.version,
    )?;
    if row.campaign_id != campaign_id {
        return Err(StoreError::NotFound);
    }
    let from: MemberStatus = stored("campaign_members", "status", &row.status)?;
    let to = advance(from, status).map_err(StoreError::IllegalTransition)?;
    let at = now();
    records::update_versioned!(
        conn,
        campaign_members,
        member_id,
        row.version,
        (
            campaign_members::status.eq(to.as_str()),
            campaign_members::version.eq(row.version + 1),
            campaign_members::updated_at.eq(at),
        )
    )?;
    outbox::record(conn, EventType::CampaignMembersChanged, campaign_id)?;
    load(conn, member_id)?.into_member()
}

/// An order of the campaign placed on `day` converts its buyer's memberships, the contact's and
/// the company's, when the day counts for the campaign. One conditioned update: members that a
/// concurrent writer already moved on are left alone.
pub fn convert_buyer(
    conn: &mut DbConnection,
    campaign_id: &str,
    contact_id: Option<&str>,
    company_id: Option<&str>,
    day: NaiveDate,
) -> Result<(), StoreError> {
    if !campaigns::schedule(conn, campaign_id)?.counts(day) {
        return Ok(());
    }
    let keys: Vec<String> = contact_id
        .map(|id| key_of(&Target::Contact(id.to_owned())))
        .into_iter()
        .chain(company_id.map(|id| key_of(&Target::Company(id.to_owned()))))
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let open: Vec<&str> = MemberStatus::ALL
        .iter()
        .filter(|s| converts(**s))
        .map(|s| s.as_str())
        .collect();
    diesel::update(
        campaign_members::table
            .filter(campaign_members::campaign_id.eq(campaign_id))
            .filter(campaign_members::member_key.eq_any(keys))
            .filter(campaign_members::status.eq_any(open)),
    )
    .set((
        campaign_members::status.eq(MemberStatus::Converted.as_str()),
        campaign_members::version.eq(campaign_members::version + 1),
        campaign_members::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(())
}

/// The campaigns a contact or company was added to, as timeline entries, newest first.
pub(crate) fn timeline_page(
    conn: &mut DbConnection,
    subject: &Subject,
    page: &PageRequest<()>,
) -> Result<Vec<TimelineEntry>, StoreError> {
    let rows = subject_page!(conn, subject, campaign_members::created_at, MemberRow, page);
    let ids: Vec<String> = rows.iter().map(|r| r.campaign_id.clone()).collect();
    let names: std::collections::HashMap<String, String> =
        crate::platform::schema::campaigns::table
            .filter(crate::platform::schema::campaigns::id.eq_any(&ids))
            .select((
                crate::platform::schema::campaigns::id,
                crate::platform::schema::campaigns::name,
            ))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect();
    Ok(rows
        .into_iter()
        .map(|row| TimelineEntry {
            kind: TimelineKind::Campaign,
            summary: names.get(&row.campaign_id).cloned().unwrap_or_default(),
            detail: Some(row.status),
            id: row.id,
            at: row.created_at,
            contact_id: row.contact_id,
            company_id: row.company_id,
            user_id: None,
        })
        .collect())
}
