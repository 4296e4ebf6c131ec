//! The run that turns rules into tasks: due visits, greetings and follow-ups, then reminders.
//! The maintenance loop calls it on every node, and admins through
//! `POST /v1/admin/maintenance/run`. Nothing here takes a lock to run alone: each task has
//! the unique key of its occurrence (`ON CONFLICT DO NOTHING`), and a plan moves on by
//! compare-and-set, so repeated and concurrent runs make each task once.

use chrono::{Datelike, NaiveDateTime};
use chrono_tz::Tz;
use crm_domain::engagement::automation::{
    follow_up_cutoff, greeting_due, local_instant, locale_matches, occurrence_key, FollowUpTrigger,
    Occasion, VisitStep, MAX_LEAD_DAYS, WORKDAY_START,
};
use crm_domain::engagement::tasks::TaskSource;
use crm_domain::marketing::campaigns::OptIn;
use crm_domain::platform::time::{local_date, time_zone};
use crm_domain::sales::quotes::QuoteStatus;
use diesel::prelude::*;

use crate::engagement::plans::{self, VisitPlanRow};
use crate::engagement::rules::{self, FollowUpRule, GreetingRule};
use crate::engagement::tasks::{self, TaskFields};
use crate::marketing::consents::{reachable_people, Addresses};
use crate::marketing::Audience;
use crate::platform::db::{write_transaction, DbConnection};
use crate::platform::schema::{case_slas, cases, companies, contacts, quotes, returns};
use crate::platform::settings;
use crate::StoreError;

/// What one run made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AutomationReport {
    pub visit_tasks: usize,
    pub greeting_tasks: usize,
    pub follow_up_tasks: usize,
    pub reminders: usize,
}

/// Runs every rule once at the service clock's `now`, in the fiscal time zone.
pub fn run(conn: &mut DbConnection, audience: Audience) -> Result<AutomationReport, StoreError> {
    let now = audience.clock.now(conn)?;
    let opt_in = audience.opt_in;
    let zone = time_zone(
        "fiscal_time_zone",
        &settings::get(conn)?.fields.fiscal_time_zone,
    )?;
    let mut report = AutomationReport::default();
    for plan in plans::due(
        conn,
        local_date(now, zone) + chrono::Days::new(MAX_LEAD_DAYS as u64),
    )? {
        report.visit_tasks += visit(conn, plan, now, zone)?;
    }
    for rule in rules::all_greetings(conn)? {
        report.greeting_tasks += write_transaction(conn, |c| greet(c, &rule, now, zone, opt_in))?;
    }
    for rule in rules::all_follow_ups(conn)? {
        report.follow_up_tasks += write_transaction(conn, |c| follow_up(c, &rule, now, zone))?;
    }
    report.reminders = write_transaction(conn, |c| tasks::remind_due(c, now))?;
    Ok(report)
}

/// Takes a plan's steps until it waits; each step is its own transaction, a compare-and-set
/// on the plan as read. A step another run took first ends this run's work on the plan.
fn visit(
    conn: &mut DbConnection,
    mut plan: VisitPlanRow,
    now: NaiveDateTime,
    zone: Tz,
) -> Result<usize, StoreError> {
    let today = local_date(now, zone);
    let mut made = 0;
    loop {
        let (to, visit_on) = match plan.schedule().step(today) {
            VisitStep::Wait => return Ok(made),
            VisitStep::Skip { next_visit_on } => (next_visit_on, None),
            VisitStep::Task {
                visit_on,
                next_visit_on,
            } => (next_visit_on, Some(visit_on)),
        };
        let stepped = write_transaction(conn, |c| {
            if !plans::advance(c, &plan, to)? {
                return Ok::<_, StoreError>(None);
            }
            let Some(visit_on) = visit_on else {
                return Ok(Some(0));
            };
            let company: Option<String> = companies::table
                .find(&plan.company_id)
                .select(companies::name)
                .first(c)
                .optional()?;
            let fields = TaskFields {
                title: format!("Visit {}", company.unwrap_or_default()),
                due_at: Some(local_instant(visit_on, WORKDAY_START, zone)),
                assignee_id: Some(plan.owner_id.clone()),
                company_id: Some(plan.company_id.clone()),
                ..TaskFields::default()
            };
            let key = occurrence_key("visit_plan", &plan.id, &visit_on.to_string());
            Ok(Some(usize::from(tasks::generate(
                c,
                fields,
                TaskSource::VisitPlan,
                key,
            )?)))
        })?;
        match stepped {
            Some(n) => {
                made += n;
                plan.next_visit_on = to;
                plan.version += 1;
            }
            None => return Ok(made),
        }
    }
}

type Greeted = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<chrono::NaiveDate>,
    Option<String>,
    Option<String>,
);

/// One task per contact the rule greets this year, for the live contacts whose occasion has
/// come within `days_before`, in the rule's locales, reachable on its channel.
fn greet(
    conn: &mut DbConnection,
    rule: &GreetingRule,
    now: NaiveDateTime,
    zone: Tz,
    opt_in: OptIn,
) -> Result<usize, StoreError> {
    let today = local_date(now, zone);
    let f = &rule.fields;
    if let Occasion::Fixed { .. } = f.occasion {
        if greeting_due(f.occasion, None, f.days_before, today).is_none() {
            return Ok(0);
        }
    }
    let mut query = contacts::table
        .filter(contacts::archived_at.is_null())
        .select((
            contacts::id,
            contacts::email,
            contacts::phone,
            contacts::first_name,
            contacts::last_name,
            contacts::birthday,
            contacts::locale,
            contacts::owner_id,
        ))
        .into_boxed();
    if f.occasion == Occasion::Birthday {
        query = query.filter(contacts::birthday.is_not_null());
    }
    // In key order, so that two nodes inserting the same tasks take their locks alike.
    query = query.order(contacts::id);
    let people: Vec<Greeted> = query.load(conn)?;
    let due: Vec<(Greeted, chrono::NaiveDate)> = people
        .into_iter()
        .filter(|p| locale_matches(&f.locales, p.6.as_deref()))
        .filter_map(|p| greeting_due(f.occasion, p.5, f.days_before, today).map(|on| (p, on)))
        .collect();
    let reachable = match f.channel {
        Some(channel) => {
            let addresses: Vec<Addresses> = due
                .iter()
                .map(|(p, _)| (p.0.clone(), p.1.clone(), p.2.clone()))
                .collect();
            Some(reachable_people(conn, &addresses, channel, opt_in)?)
        }
        None => None,
    };
    let mut made = 0;
    for (person, on) in due {
        if reachable.as_ref().is_some_and(|r| !r.contains(&person.0)) {
            continue;
        }
        let name = [person.3.as_deref(), Some(person.4.as_str())]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let fields = TaskFields {
            title: format!("Greet {name}: {}", f.name),
            due_at: Some(local_instant(on, WORKDAY_START, zone)),
            assignee_id: person.7.clone(),
            contact_id: Some(person.0.clone()),
            ..TaskFields::default()
        };
        let key = occurrence_key(&rule.id, &person.0, &on.year().to_string());
        made += usize::from(tasks::generate(conn, fields, TaskSource::Greeting, key)?);
    }
    Ok(made)
}

/// A subject to follow up: its id, its number, who should do it, and what it links to.
struct Subject {
    id: String,
    /// When the trigger happened: a case resolved again is followed up again.
    at: Option<NaiveDateTime>,
    number: String,
    assignee_id: Option<String>,
    company_id: Option<String>,
    contact_id: Option<String>,
    quote_id: Option<String>,
}

type ResolvedReturn = (
    (String, Option<NaiveDateTime>),
    String,
    Option<String>,
    Option<String>,
);
type ResolvedCase = (
    (String, Option<NaiveDateTime>),
    String,
    Option<String>,
    String,
    Option<String>,
);

/// One task per subject whose trigger happened after the rule existed and at least
/// `after_days` ago; a quote only while it is still unanswered.
fn follow_up(
    conn: &mut DbConnection,
    rule: &FollowUpRule,
    now: NaiveDateTime,
    zone: Tz,
) -> Result<usize, StoreError> {
    let cutoff = follow_up_cutoff(rule.fields.after_days, now);
    if cutoff < rule.created_at {
        return Ok(0);
    }
    let (what, subjects): (&str, Vec<Subject>) = match rule.fields.trigger {
        FollowUpTrigger::QuoteSent => (
            "quote",
            quotes::table
                .filter(quotes::status.eq(QuoteStatus::Sent.as_str()))
                .filter(quotes::sent_at.ge(rule.created_at))
                .filter(quotes::sent_at.le(cutoff))
                .order(quotes::id)
                .select((
                    (quotes::id, quotes::sent_at),
                    quotes::number,
                    quotes::owner_id,
                    quotes::company_id,
                    quotes::contact_id,
                ))
                .load::<(
                    (String, Option<NaiveDateTime>),
                    String,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                )>(conn)?
                .into_iter()
                .map(|((id, at), number, owner, company, contact)| Subject {
                    quote_id: Some(id.clone()),
                    id,
                    at,
                    number,
                    assignee_id: owner,
                    company_id: company,
                    contact_id: contact,
                })
                .collect(),
        ),
        FollowUpTrigger::ReturnResolved => {
            let resolved: Vec<ResolvedReturn> = returns::table
                .filter(returns::resolved_at.ge(rule.created_at))
                .filter(returns::resolved_at.le(cutoff))
                .order(returns::id)
                .select((
                    (returns::id, returns::resolved_at),
                    returns::number,
                    returns::company_id,
                    returns::contact_id,
                ))
                .load(conn)?;
            let company_ids: Vec<String> = resolved.iter().filter_map(|r| r.2.clone()).collect();
            let owners: std::collections::HashMap<String, Option<String>> = companies::table
                .filter(companies::id.eq_any(&company_ids))
                .select((companies::id, companies::owner_id))
                .load::<(String, Option<String>)>(conn)?
                .into_iter()
                .collect();
            (
                "return",
                resolved
                    .into_iter()
                    .map(|((id, at), number, company, contact)| Subject {
                        assignee_id: company
                            .as_ref()
                            .and_then(|c| owners.get(c).cloned().flatten()),
                        id,
                        at,
                        number,
                        company_id: company,
                        contact_id: contact,
                        quote_id: None,
                    })
                    .collect(),
            )
        }
        FollowUpTrigger::CaseResolved => (
            "case",
            cases::table
                .inner_join(case_slas::table.on(case_slas::case_id.eq(cases::id)))
                .filter(case_slas::resolved_at.ge(rule.created_at))
                .filter(case_slas::resolved_at.le(cutoff))
                .order(cases::id)
                .select((
                    (cases::id, case_slas::resolved_at),
                    cases::number,
                    cases::assignee_id,
                    cases::company_id,
                    cases::contact_id,
                ))
                .load::<ResolvedCase>(conn)?
                .into_iter()
                .map(|((id, at), number, assignee, company, contact)| Subject {
                    id,
                    at,
                    number,
                    assignee_id: assignee,
                    company_id: Some(company),
                    contact_id: contact,
                    quote_id: None,
                })
                .collect(),
        ),
    };
    let due_at = local_instant(local_date(now, zone), WORKDAY_START, zone);
    let mut made = 0;
    for subject in subjects {
        let fields = TaskFields {
            title: format!("Follow up {what} {}: {}", subject.number, rule.fields.name),
            due_at: Some(due_at.max(now)),
            assignee_id: subject.assignee_id,
            company_id: subject.company_id,
            contact_id: subject.contact_id,
            quote_id: subject.quote_id,
            ..TaskFields::default()
        };
        let occurred = subject
            .at
            .map_or_else(String::new, |at| at.format("%Y%m%dT%H%M%S%.6f").to_string());
        let key = occurrence_key(&rule.id, &subject.id, &format!("{what}@{occurred}"));
        made += usize::from(tasks::generate(conn, fields, TaskSource::FollowUp, key)?);
    }
    Ok(made)
}
