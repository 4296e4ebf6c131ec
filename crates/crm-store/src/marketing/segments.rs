//! Segments: a saved filter over companies or contacts, whose members are read live. Archived
//! records are never members.

use chrono::NaiveDateTime;
use std::collections::{HashMap, HashSet};

use crm_domain::marketing::campaigns::{ConsentChannel, OptIn, SegmentSubject};
use crm_domain::platform::filter::{Expr, Literal, Op, Scalar};
use diesel::prelude::*;

use crate::marketing::campaigns::Visible;
use crate::marketing::consents::{reachable_people, Addresses};
use crate::marketing::Audience;
use crate::parties::{companies, contacts};
use crate::platform::db::{natively, DbConnection};
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::query::{ListQuery, Listed, Position};
use crate::platform::records::{self, Record};
use crate::platform::schema::contacts as contact_rows;
use crate::platform::schema::{segment_snapshot_members, segments};
use crate::platform::stored::stored;
use crate::{new_id, now, StoreError};

/// Members read per query while counting or expanding a segment.
const PAGE: i64 = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFields {
    pub name: String,
    pub subject: SegmentSubject,
    /// In the filter language of `GET /v1/companies` or `/v1/contacts`.
    pub filter: String,
    pub owner_id: Option<String>,
    /// People unreachable on it are not members; a company is one while any of its live
    /// contacts is reachable.
    pub channel: Option<ConsentChannel>,
}

#[derive(Debug, Clone)]
pub struct Segment {
    pub id: String,
    pub fields: SegmentFields,
    /// A snapshot's members were fixed when it was taken, from this segment.
    pub snapshot_of: Option<String>,
    pub snapshot_at: Option<NaiveDateTime>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = segments, treat_none_as_null = true)]
struct SegmentRow {
    id: String,
    name: String,
    subject: String,
    filter: String,
    owner_id: Option<String>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    channel: Option<String>,
    snapshot_of: Option<String>,
    snapshot_at: Option<NaiveDateTime>,
}

impl SegmentRow {
    fn new(id: String, f: &SegmentFields, version: i64, created_at: NaiveDateTime) -> Self {
        SegmentRow {
            id,
            name: f.name.clone(),
            subject: f.subject.as_str().to_owned(),
            filter: f.filter.clone(),
            owner_id: f.owner_id.clone(),
            version,
            created_at,
            updated_at: now(),
            channel: f.channel.map(|c| c.as_str().to_owned()),
            snapshot_of: None,
            snapshot_at: None,
        }
    }

    fn into_segment(self) -> Result<Segment, StoreError> {
        Ok(Segment {
            fields: SegmentFields {
                subject: stored("segments", "subject", &self.subject)?,
                channel: self
                    .channel
                    .map(|c| stored("segments", "channel", &c))
                    .transpose()?,
                name: self.name,
                filter: self.filter,
                owner_id: self.owner_id,
            },
            id: self.id,
            snapshot_of: self.snapshot_of,
            snapshot_at: self.snapshot_at,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// One member, as a segment lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub company_id: Option<String>,
}

/// One page of the live members of `filter` over `subject`.
pub fn members_page(
    conn: &mut DbConnection,
    subject: SegmentSubject,
    query: &ListQuery,
) -> Result<Listed<Member>, StoreError> {
    Ok(match subject {
        SegmentSubject::Companies => {
            companies::list(conn, &companies::CompanyFilter::default(), query)?.map(|c| Member {
                id: c.id,
                name: c.fields.name,
                email: c.fields.email,
                company_id: None,
            })
        }
        SegmentSubject::Contacts => {
            contacts::list(conn, &contacts::ContactFilter::default(), query)?.map(|c| Member {
                id: c.id,
                name: [
                    c.fields.first_name.as_deref(),
                    Some(c.fields.last_name.as_str()),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
                email: c.fields.email,
                company_id: c.fields.company_id,
            })
        }
    })
}

/// A live contact's id, email, phone and company.
type AddressedPerson = (String, Option<String>, Option<String>, Option<String>);

/// Those of `members` reachable on `channel`: contacts by their addresses and consent,
/// companies by any live contact of theirs.
fn reachable_members(
    conn: &mut DbConnection,
    subject: SegmentSubject,
    channel: ConsentChannel,
    opt_in: OptIn,
    members: Vec<Member>,
) -> Result<Vec<Member>, StoreError> {
    if members.is_empty() {
        return Ok(members);
    }
    let ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    let people: Vec<AddressedPerson> = {
        let query = contact_rows::table
            .filter(contact_rows::archived_at.is_null())
            .select((
                contact_rows::id,
                contact_rows::email,
                contact_rows::phone,
                contact_rows::company_id,
            ));
        match subject {
            SegmentSubject::Contacts => query.filter(contact_rows::id.eq_any(&ids)).load(conn)?,
            SegmentSubject::Companies => query
                .filter(contact_rows::company_id.eq_any(&ids))
                .load(conn)?,
        }
    };
    let addresses: Vec<Addresses> = people
        .iter()
        .map(|(id, email, phone, _)| (id.clone(), email.clone(), phone.clone()))
        .collect();
    let reachable = reachable_people(conn, &addresses, channel, opt_in)?;
    let kept: HashSet<String> = match subject {
        SegmentSubject::Contacts => reachable,
        SegmentSubject::Companies => people
            .into_iter()
            .filter(|(id, ..)| reachable.contains(id))
            .filter_map(|(.., company)| company)
            .collect(),
    };
    Ok(members
        .into_iter()
        .filter(|m| kept.contains(&m.id))
        .collect())
}

/// A filter over `subject` as it is read now: relative dates count from `now`, and with a
/// `channel` only the people reachable on it (by `opt_in`) are members.
struct Selection<'a> {
    subject: SegmentSubject,
    source: Source<'a>,
    channel: Option<ConsentChannel>,
    now: NaiveDateTime,
    opt_in: OptIn,
}

/// Where a segment's records come from: its filter, read live, or a snapshot's fixed ids.
enum Source<'a> {
    Filter(&'a Expr),
    Snapshot(&'a str),
}

impl<'a> Source<'a> {
    fn of(segment: &'a Segment, filter: &'a Expr) -> Source<'a> {
        match segment.snapshot_at {
            Some(_) => Source::Snapshot(&segment.id),
            None => Source::Filter(filter),
        }
    }
}

/// One page of the filter, and those of its records that the channel keeps.
struct Read {
    matched: usize,
    kept: Vec<Member>,
    next: Option<Position>,
}

impl Selection<'_> {
    fn read(
        &self,
        conn: &mut DbConnection,
        after: Option<Position>,
        limit: i64,
    ) -> Result<Read, StoreError> {
        let page = match self.source {
            Source::Filter(filter) => {
                let query = ListQuery {
                    filter: Some(filter.clone()),
                    sort: "created_at".to_owned(),
                    after,
                    limit,
                    now: self.now,
                };
                members_page(conn, self.subject, &query)?
            }
            Source::Snapshot(id) => self.snapshot_page(conn, id, after, limit)?,
        };
        let matched = page.items.len();
        let kept = match self.channel {
            Some(channel) => {
                reachable_members(conn, self.subject, channel, self.opt_in, page.items)?
            }
            None => page.items,
        };
        Ok(Read {
            matched,
            kept,
            next: page.next,
        })
    }

    /// A page of a snapshot's members in their order, from the position `after` holds: those
    /// archived since are left out.
    fn snapshot_page(
        &self,
        conn: &mut DbConnection,
        id: &str,
        after: Option<Position>,
        limit: i64,
    ) -> Result<Listed<Member>, StoreError> {
        let from = match after.as_ref().and_then(|p| p.keys.first()) {
            Some(Some(Scalar::Integer(position))) => *position,
            _ => -1,
        };
        let mut rows: Vec<(i64, String)> = segment_snapshot_members::table
            .filter(segment_snapshot_members::segment_id.eq(id))
            .filter(segment_snapshot_members::position.gt(from))
            .order(segment_snapshot_members::position.asc())
            .limit(limit + 1)
            .select((
                segment_snapshot_members::position,
                segment_snapshot_members::member_id,
            ))
            .load(conn)?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(0);
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let ids = Expr::Compare {
            path: "id".to_owned(),
            op: Op::In,
            value: Some(Literal::List(rows.iter().map(|r| r.1.clone()).collect())),
        };
        let query = ListQuery {
            filter: Some(ids),
            sort: "created_at".to_owned(),
            after: None,
            limit: limit.max(1),
            now: self.now,
        };
        let mut live: HashMap<String, Member> = members_page(conn, self.subject, &query)?
            .items
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
        let next = match rows.last() {
            Some((position, id)) if more => Some(Position {
                keys: vec![Some(Scalar::Integer(*position))],
                id: id.clone(),
            }),
            _ => None,
        };
        Ok(Listed {
            items: rows.iter().filter_map(|(_, id)| live.remove(id)).collect(),
            next,
        })
    }

    /// At most `limit` members from `after`: pages of the filter are read until `limit`
    /// reachable members are found or the filter runs out. Returns them and where the next
    /// page begins.
    fn page(
        &self,
        conn: &mut DbConnection,
        limit: i64,
        mut after: Option<Position>,
    ) -> Result<(Vec<Member>, Option<Position>), StoreError> {
        let mut found: Vec<Member> = Vec::new();
        loop {
            let wanted = limit - i64::try_from(found.len()).unwrap_or(limit);
            let read = self.read(conn, after.take(), wanted)?;
            found.extend(read.kept);
            match read.next {
                Some(next) if i64::try_from(found.len()).unwrap_or(limit) < limit => {
                    after = Some(next)
                }
                next => return Ok((found, next)),
            }
        }
    }

    /// Counts, and returns the first `sample` members. A live filter without a channel is
    /// one `COUNT(*)` and one page; a channel or a snapshot is counted a page at a time, as
    /// consent and the snapshot's order are read beside the filter.
    fn count(
        &self,
        conn: &mut DbConnection,
        sample: usize,
    ) -> Result<(Counted, Vec<Member>), StoreError> {
        if let (Source::Filter(filter), None) = (&self.source, self.channel) {
            if sample < usize::try_from(PAGE).unwrap_or(usize::MAX) {
                let query = ListQuery {
                    filter: Some((*filter).clone()),
                    sort: "created_at".to_owned(),
                    after: None,
                    limit: 0,
                    now: self.now,
                };
                let count = match self.subject {
                    SegmentSubject::Companies => companies::count_live(conn, &query)?,
                    SegmentSubject::Contacts => contacts::count_live(conn, &query)?,
                };
                let first = match sample {
                    0 => Vec::new(),
                    _ => {
                        self.page(conn, i64::try_from(sample).unwrap_or(PAGE), None)?
                            .0
                    }
                };
                return Ok((
                    Counted {
                        count: usize::try_from(count).unwrap_or(0),
                        excluded_no_consent: 0,
                    },
                    first,
                ));
            }
        }
        let mut counted = Counted::default();
        let mut first = Vec::new();
        let mut after: Option<Position> = None;
        loop {
            let read = self.read(conn, after.take(), PAGE)?;
            counted.count += read.kept.len();
            counted.excluded_no_consent += read.matched - read.kept.len();
            let room = sample.saturating_sub(first.len());
            first.extend(read.kept.into_iter().take(room));
            match read.next {
                Some(next) => after = Some(next),
                None => return Ok((counted, first)),
            }
        }
    }
}

/// Every record of a segment, whatever its channel, read a page at a time in one snapshot of
/// the caller's transaction.
pub fn all_members(
    conn: &mut DbConnection,
    segment: &Segment,
    now: NaiveDateTime,
) -> Result<Vec<Member>, StoreError> {
    let filter = parsed(segment)?;
    Ok(Selection {
        subject: segment.fields.subject,
        source: Source::of(segment, &filter),
        channel: None,
        now,
        opt_in: OptIn::default(),
    }
    .count(conn, usize::MAX)?
    .1)
}

/// The filter of a segment, parsed; a stored one that no longer parses is corrupt.
pub fn parsed(segment: &Segment) -> Result<Expr, StoreError> {
    crm_domain::platform::filter::parse(&segment.fields.filter).map_err(|_| StoreError::Corrupt {
        table: "segments",
        column: "filter",
        value: segment.fields.filter.clone(),
    })
}

/// A filter must name fields of its subject, with values of their types (`422` naming the
/// path, as in lists), and an owner must be active staff.
fn check(conn: &mut DbConnection, fields: &SegmentFields, filter: &Expr) -> Result<(), StoreError> {
    if let Some(owner) = &fields.owner_id {
        crate::access::users::ensure_staff(conn, owner, "owner_id")?;
    }
    let probe = ListQuery {
        filter: Some(filter.clone()),
        sort: "created_at".to_owned(),
        after: None,
        limit: 1,
        now: now(),
    };
    members_page(conn, fields.subject, &probe)?;
    Ok(())
}

pub fn create(
    conn: &mut DbConnection,
    fields: SegmentFields,
    filter: &Expr,
) -> Result<Segment, StoreError> {
    check(conn, &fields, filter)?;
    let row = SegmentRow::new(new_id(), &fields, 1, now());
    diesel::insert_into(segments::table)
        .values(&row)
        .execute(conn)?;
    row.into_segment()
}

fn load(conn: &mut DbConnection, id: &str) -> Result<SegmentRow, StoreError> {
    records::load_row(conn, segments::table, id)
}

/// A segment the caller may see; another salesperson's is not found.
pub fn get(conn: &mut DbConnection, id: &str, visible: &Visible) -> Result<Segment, StoreError> {
    let segment = load(conn, id)?.into_segment()?;
    visible.allows(segment.fields.owner_id.as_deref())?;
    Ok(segment)
}

pub fn list(
    conn: &mut DbConnection,
    visible: &Visible,
    page: &PageRequest<()>,
) -> Result<Page<Segment>, StoreError> {
    let mut query = segments::table.select(SegmentRow::as_select()).into_boxed();
    if let Some(owner) = &visible.owned_by {
        query = query.filter(segments::owner_id.eq(owner.clone()));
    }
    page_by_time!(conn, page, query, segments::created_at, SegmentRow)
        .try_map(SegmentRow::into_segment)
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
    edit: impl FnOnce(&mut SegmentFields) -> Result<Expr, StoreError>,
) -> Result<Segment, StoreError> {
    get(conn, id, visible)?;
    let current = records::checkout(conn, Record::Segment, id, expected_version, load, |r| {
        r.version
    })?
    .into_segment()?;
    let mut fields = current.fields.clone();
    let filter = edit(&mut fields)?;
    if current.snapshot_at.is_some()
        && (fields.filter != current.fields.filter || fields.channel != current.fields.channel)
    {
        return Err(crm_domain::Violation::new(
            "filter",
            "a snapshot keeps the members it was taken with: its filter and channel cannot change",
        )
        .into());
    }
    check(conn, &fields, &filter)?;
    let mut row = SegmentRow::new(current.id, &fields, current.version + 1, current.created_at);
    row.snapshot_of = current.snapshot_of;
    row.snapshot_at = current.snapshot_at;
    records::update_versioned!(conn, segments, id, current.version, &row)?;
    row.into_segment()
}

pub fn delete(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
) -> Result<(), StoreError> {
    get(conn, id, visible)?;
    let row = records::checkout(conn, Record::Segment, id, expected_version, load, |r| {
        r.version
    })?;
    diesel::delete(
        segment_snapshot_members::table.filter(segment_snapshot_members::segment_id.eq(id)),
    )
    .execute(conn)?;
    records::delete_versioned!(conn, segments, id, row.version)?;
    Ok(())
}

/// Snapshot rows written per statement.
const SNAPSHOT_CHUNK: usize = 500;

/// A static copy of a segment the caller may see: its members now (those its channel reaches),
/// kept in their order under a new segment named `name` (else the source's name and the day),
/// owned by `owner_id`.
pub fn snapshot(
    conn: &mut DbConnection,
    audience: Audience,
    id: &str,
    visible: &Visible,
    name: Option<String>,
    owner_id: Option<String>,
) -> Result<Segment, StoreError> {
    let source = get(conn, id, visible)?;
    if let Some(owner) = &owner_id {
        crate::access::users::ensure_staff(conn, owner, "owner_id")?;
    }
    let taken_at = audience.clock.now(conn)?;
    let filter = parsed(&source)?;
    let (_, members) = Selection {
        subject: source.fields.subject,
        source: Source::of(&source, &filter),
        channel: source.fields.channel,
        now: taken_at,
        opt_in: audience.opt_in,
    }
    .count(conn, usize::MAX)?;
    let fields = SegmentFields {
        name: name.unwrap_or_else(|| format!("{} ({})", source.fields.name, taken_at.date())),
        owner_id,
        ..source.fields.clone()
    };
    let mut row = SegmentRow::new(new_id(), &fields, 1, now());
    row.snapshot_of = Some(source.id.clone());
    row.snapshot_at = Some(taken_at);
    diesel::insert_into(segments::table)
        .values(&row)
        .execute(conn)?;
    for (chunk_number, chunk) in members.chunks(SNAPSHOT_CHUNK).enumerate() {
        let first = chunk_number * SNAPSHOT_CHUNK;
        let rows: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, member)| {
                (
                    segment_snapshot_members::segment_id.eq(&row.id),
                    segment_snapshot_members::position
                        .eq(i64::try_from(first + i).unwrap_or(i64::MAX)),
                    segment_snapshot_members::member_id.eq(&member.id),
                )
            })
            .collect();
        // One multi-row statement a chunk, which each backend's own connection writes.
        let insert = diesel::insert_into(segment_snapshot_members::table).values(rows);
        natively!(conn, |c| insert.execute(c))?;
    }
    row.into_segment()
}

/// Where a page of a segment's members ended, and the version of the segment it was read from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MembersCursor {
    #[serde(rename = "v")]
    pub version: i64,
    #[serde(rename = "p")]
    pub position: Position,
}

/// A page of the live members of a segment the caller may see, and where the next begins. A
/// cursor made before the segment changed is a `422`.
pub fn members(
    conn: &mut DbConnection,
    audience: Audience,
    id: &str,
    visible: &Visible,
    limit: i64,
    after: Option<MembersCursor>,
) -> Result<(Vec<Member>, Option<MembersCursor>), StoreError> {
    let segment = get(conn, id, visible)?;
    if after.as_ref().is_some_and(|a| a.version != segment.version) {
        return Err(crm_domain::Violation::new(
            "cursor",
            "was made before the segment changed; start again from the first page",
        )
        .into());
    }
    let filter = parsed(&segment)?;
    let (members, next) = Selection {
        subject: segment.fields.subject,
        source: Source::of(&segment, &filter),
        channel: segment.fields.channel,
        now: audience.clock.now(conn)?,
        opt_in: audience.opt_in,
    }
    .page(conn, limit, after.map(|a| a.position))?;
    let next = next.map(|position| MembersCursor {
        version: segment.version,
        position,
    });
    Ok((members, next))
}

/// How many members a filter has, and how many more it would have but for `channel`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    pub count: usize,
    pub excluded_no_consent: usize,
}

/// How many live members a segment the caller may see has, and how many its channel drops.
pub fn count(
    conn: &mut DbConnection,
    audience: Audience,
    id: &str,
    visible: &Visible,
) -> Result<Counted, StoreError> {
    let segment = get(conn, id, visible)?;
    let filter = parsed(&segment)?;
    Ok(Selection {
        subject: segment.fields.subject,
        source: Source::of(&segment, &filter),
        channel: segment.fields.channel,
        now: audience.clock.now(conn)?,
        opt_in: audience.opt_in,
    }
    .count(conn, 0)?
    .0)
}

/// How many records a filter over `subject` matches, and the first `sample` of them, without
/// saving a segment; a bad path is a `422`, as in lists.
pub fn preview(
    conn: &mut DbConnection,
    audience: Audience,
    subject: SegmentSubject,
    filter: &Expr,
    channel: Option<ConsentChannel>,
    sample: usize,
) -> Result<(Counted, Vec<Member>), StoreError> {
    Selection {
        subject,
        source: Source::Filter(filter),
        channel,
        now: audience.clock.now(conn)?,
        opt_in: audience.opt_in,
    }
    .count(conn, sample)
}
