//! The complaint report: cases created in a period, by category, priority, channel, root
//! cause and month, with their times to resolve and SLA compliance.

use chrono::{Datelike, NaiveDate};
use crm_domain::service::reports::{case_report, CaseReport, ReportedCase};
use crm_domain::service::sla::SlaTarget;
use diesel::prelude::*;

use crate::platform::clock::Clock;
use crate::platform::db::DbConnection;
use crate::platform::schema::{case_slas, cases};
use crate::platform::stored::{stored, stored_opt};
use crate::service::cases::{CaseRow, SlaRow};
use crate::StoreError;

/// Over cases created from `from` to `to` (whole days, UTC), as of the service clock's now.
pub fn complaint_report(
    conn: &mut DbConnection,
    clock: Clock,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<CaseReport, StoreError> {
    let now = clock.now(conn)?;
    let start = from.and_time(chrono::NaiveTime::MIN);
    let end = (to + chrono::Duration::days(1)).and_time(chrono::NaiveTime::MIN);
    let rows: Vec<(CaseRow, SlaRow)> = cases::table
        .inner_join(case_slas::table)
        .filter(cases::created_at.ge(start))
        .filter(cases::created_at.lt(end))
        .select((CaseRow::as_select(), SlaRow::as_select()))
        .load(conn)?;
    let reported = rows
        .into_iter()
        .map(|(row, sla)| {
            Ok(ReportedCase {
                month: format!("{:04}-{:02}", row.created_at.year(), row.created_at.month()),
                created_at: row.created_at,
                status: stored("cases", "status", &row.status)?,
                category: stored("cases", "category", &row.category)?,
                priority: stored("cases", "priority", &row.priority)?,
                channel: stored("cases", "channel", &row.channel)?,
                root_cause: stored_opt(
                    "cases",
                    "root_cause_category",
                    row.root_cause_category.as_deref(),
                )?,
                measured: sla.sla_policy_id.is_some(),
                first_response: sla.target(SlaTarget::FirstResponse),
                resolution: sla.target(SlaTarget::Resolution),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(case_report(&reported, now))
}
