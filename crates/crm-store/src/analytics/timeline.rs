//! The timeline of a contact or a company: entries of every kind, newest first.
//!
//! Each kind of record is a source that returns its own next page in (at, id) order; the
//! pages are merged and cut. A new kind (quotes, orders, merges, ...) adds one source.

use crm_domain::parties::timeline::{Subject, TimelineEntry, TimelineKind};

use crate::platform::db::DbConnection;
use crate::platform::pagination::{finish, After, KeyValue, Page, PageRequest};
use crate::{
    billing::returns, engagement::tasks, marketing::consents, marketing::members,
    parties::companies, parties::contacts, parties::interactions, parties::merges,
    sales::opportunities, sales::orders, sales::quotes, service::cases, StoreError,
};

/// One page of the timeline, newest first. `after` comes from the previous page.
pub fn page(
    conn: &mut DbConnection,
    subject: &Subject,
    limit: i64,
    after: Option<After>,
) -> Result<Page<TimelineEntry>, StoreError> {
    match subject {
        Subject::Contact(id) => contacts::get(conn, id).map(|_| ())?,
        Subject::Company(id) => companies::ensure_exists(conn, id)?,
    }
    let request = PageRequest {
        sort: (),
        descending: true,
        limit,
        after,
    };
    let mut entries: Vec<TimelineEntry> = interactions::timeline_page(conn, subject, &request)?
        .into_iter()
        .map(|row| TimelineEntry {
            kind: TimelineKind::Interaction,
            summary: row.subject.clone().unwrap_or_else(|| row.kind.clone()),
            detail: Some(row.kind),
            id: row.id,
            at: row.timeline_at,
            contact_id: row.contact_id,
            company_id: row.company_id,
            user_id: row.user_id,
        })
        .collect();
    entries.extend(quotes::timeline_page(conn, subject, &request)?);
    entries.extend(orders::timeline_page(conn, subject, &request)?);
    entries.extend(opportunities::timeline_page(conn, subject, &request)?);
    entries.extend(returns::timeline_page(conn, subject, &request)?);
    entries.extend(cases::timeline_page(conn, subject, &request)?);
    entries.extend(merges::timeline_page(conn, subject, &request)?);
    entries.extend(tasks::timeline_page(conn, subject, &request)?);
    entries.extend(members::timeline_page(conn, subject, &request)?);
    entries.extend(consents::timeline_page(conn, subject, &request)?);
    entries.sort_by(|a, b| (b.at, &b.id).cmp(&(a.at, &a.id)));
    Ok(finish(entries, limit, |e| After {
        key: KeyValue::Time(e.at),
        id: e.id.clone(),
    }))
}
