//! The desk's sweep, run by the maintenance loop: records SLA breaches at their due instants
//! and escalates them, and closes resolved cases whose reopen window has passed.
//!
//! One node of a cluster sweeps at a time (a transaction-scoped advisory lock that the others
//! skip). Each case is changed under its row lock and re-read there, so a breach recorded by
//! an earlier sweep, or a user's action in between, is seen and nothing happens twice.

use chrono::NaiveDateTime;
use crm_domain::events::catalogue::EventType;
use crm_domain::service::cases::CaseStatus;
use diesel::prelude::*;

use crate::platform::clock::Clock;
use crate::platform::db::{try_lock_key, write_transaction, DbConnection};
use crate::platform::schema::{case_slas, cases};
use crate::platform::stored::stored;
use crate::service::cases::{announce, breach_overdue, checkout, move_to, save, Actor};
use crate::service::settings;
use crate::StoreError;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub breached: usize,
    pub escalated: usize,
    pub closed: usize,
}

/// Cases handled per transaction.
const BATCH: i64 = 200;

/// Sweeps until nothing is left to do, a batch per transaction.
pub fn sweep(conn: &mut DbConnection, clock: Clock) -> Result<SweepReport, StoreError> {
    let mut total = SweepReport::default();
    loop {
        let batch = write_transaction(conn, |c| sweep_batch(c, clock))?;
        total.breached += batch.breached;
        total.escalated += batch.escalated;
        total.closed += batch.closed;
        if batch == SweepReport::default() {
            return Ok(total);
        }
    }
}

fn sweep_batch(conn: &mut DbConnection, clock: Clock) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    if !try_lock_key(conn, "service-sweep")? {
        return Ok(report);
    }
    let now = clock.now(conn)?;
    for id in overdue(conn, now)? {
        let (mut row, mut sla) = checkout(conn, &id, None)?;
        let status: CaseStatus = stored("cases", "status", &row.status)?;
        if !status.clocks_run() {
            continue;
        }
        let breaches = breach_overdue(conn, &mut row, &mut sla, now)?;
        if breaches > 0 {
            report.breached += breaches;
            report.escalated += 1;
            save(conn, &mut row, &sla, now)?;
            announce(conn, &id, breaches, None)?;
        }
    }
    let desk = settings::get(conn)?.value;
    let window = chrono::Duration::days(desk.reopen_window_days);
    for id in past_reopen_window(conn, now - window)? {
        let (mut row, mut sla) = checkout(conn, &id, None)?;
        let status: CaseStatus = stored("cases", "status", &row.status)?;
        if status != CaseStatus::Resolved || desk.within_reopen_window(sla.resolved_at, now) {
            continue;
        }
        move_to(
            conn,
            &mut row,
            &mut sla,
            CaseStatus::Closed,
            &Actor { id: None, now },
        )?;
        save(conn, &mut row, &sla, now)?;
        announce(conn, &id, 0, Some(EventType::CaseClosed))?;
        report.closed += 1;
    }
    Ok(report)
}

/// Running cases with a target past due and not yet recorded.
fn overdue(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Vec<String>, StoreError> {
    Ok(case_slas::table
        .filter(case_slas::paused_at.is_null())
        .filter(
            case_slas::first_responded_at
                .is_null()
                .and(case_slas::first_response_breached_at.is_null())
                .and(case_slas::first_response_due_at.le(now))
                .or(case_slas::resolved_at
                    .is_null()
                    .and(case_slas::resolution_breached_at.is_null())
                    .and(case_slas::resolution_due_at.le(now))),
        )
        .select(case_slas::case_id)
        .order(case_slas::case_id.asc())
        .limit(BATCH)
        .load(conn)?)
}

/// Resolved cases whose last resolution is older than the reopen window.
fn past_reopen_window(
    conn: &mut DbConnection,
    resolved_before: NaiveDateTime,
) -> Result<Vec<String>, StoreError> {
    Ok(cases::table
        .inner_join(case_slas::table)
        .filter(cases::status.eq(CaseStatus::Resolved.as_str()))
        .filter(case_slas::resolved_at.le(resolved_before))
        .select(cases::id)
        .order(cases::id.asc())
        .limit(BATCH)
        .load(conn)?)
}
