//! Cases: opened by staff, shops or customers, worked through their states, measured against
//! their SLA in business time, and logged event by event.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use chrono::{Datelike, NaiveDateTime};
use crm_domain::events::catalogue::EventType;
use crm_domain::parties::companies::Tier;
use crm_domain::parties::timeline::{Subject, TimelineEntry, TimelineKind};
use crm_domain::service::calendar::BusinessCalendar;
use crm_domain::service::cases::{
    after_comment, allowed_actions, case_number, check_commentable, check_resolvable, transition,
    Author, CaseAction, CaseCategory, CaseChangeType, CaseChannel, CasePriority, CaseStatus,
    Locale,
};
use crm_domain::service::settings::ServiceSettings;
use crm_domain::service::sla::{schedule, status, SlaStatus, SlaTarget, TargetState};
use crm_domain::Violation;
use diesel::dsl::not;
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::access::users::ensure_staff;
use crate::billing::returns::RootCause;
use crate::events::outbox;
use crate::platform::clock::Clock;
use crate::platform::counters;
use crate::platform::db::DbConnection;
use crate::platform::pagination::{finish, keyset, substring_search, After, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{
    case_comments, case_events, case_slas, case_surveys, cases, companies, contacts, invoices,
    orders, returns, teams, users,
};
use crate::platform::stored::{stored, stored_opt};
use crate::service::{calendars, policies, settings};
use crate::{new_id, tag_pattern, tags_from_json, tags_to_json, StoreError};

/// What staff write on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFields {
    pub subject: String,
    pub description: Option<String>,
    pub contact_id: Option<String>,
    pub locale: Locale,
    pub tags: Vec<String>,
    pub order_id: Option<String>,
    pub return_id: Option<String>,
    pub invoice_id: Option<String>,
    pub channel: CaseChannel,
    pub priority: CasePriority,
    pub category: CaseCategory,
    pub root_cause: RootCause,
}

pub struct NewCase {
    pub company_id: String,
    pub fields: CaseFields,
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
    pub opened_by: Option<String>,
    /// Default: the settings' `default_locale`.
    pub locale: Option<Locale>,
}

/// A case's SLA as it stands at the time it was read.
#[derive(Debug, Clone, Default)]
pub struct CaseSla {
    pub policy_id: Option<String>,
    /// Null without a policy.
    pub status: Option<SlaStatus>,
    pub paused: bool,
    pub first_response: TargetState,
    pub resolution: TargetState,
    /// Business seconds left to each due time (negative once overdue); null once the target
    /// is met or missed, or without a policy.
    pub first_response_remaining_seconds: Option<i64>,
    pub resolution_remaining_seconds: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub number: String,
    pub company_id: String,
    pub fields: CaseFields,
    pub status: CaseStatus,
    /// Resolved, and still within the reopen window at the time it was read.
    pub within_reopen_window: bool,
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
    pub escalation_level: i64,
    pub escalated_to_id: Option<String>,
    pub escalated_at: Option<NaiveDateTime>,
    pub csat_flagged: bool,
    pub opened_by: Option<String>,
    pub closed_at: Option<NaiveDateTime>,
    pub sla: CaseSla,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Case {
    pub fn allowed_actions(&self) -> &'static [CaseAction] {
        allowed_actions(self.status, self.within_reopen_window)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = cases, treat_none_as_null = true)]
pub(crate) struct CaseRow {
    pub id: String,
    pub number: String,
    pub subject: String,
    pub description: Option<String>,
    pub company_id: String,
    pub contact_id: Option<String>,
    pub locale: String,
    pub tags: String,
    pub order_id: Option<String>,
    pub return_id: Option<String>,
    pub invoice_id: Option<String>,
    pub channel: String,
    pub priority: String,
    pub category: String,
    pub status: String,
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
    pub root_cause_category: Option<String>,
    pub root_cause_notes: Option<String>,
    pub preventive_action: Option<String>,
    pub escalation_level: i64,
    pub escalated_to_id: Option<String>,
    pub escalated_at: Option<NaiveDateTime>,
    pub csat_flagged: bool,
    pub opened_by: Option<String>,
    pub closed_at: Option<NaiveDateTime>,
    pub search_text: String,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = case_slas, treat_none_as_null = true)]
pub(crate) struct SlaRow {
    pub case_id: String,
    pub sla_policy_id: Option<String>,
    pub calendar_id: Option<String>,
    pub first_response_target_seconds: Option<i64>,
    pub resolution_target_seconds: Option<i64>,
    pub breach_priority: Option<String>,
    pub paused_seconds: i64,
    pub paused_at: Option<NaiveDateTime>,
    pub first_response_due_at: Option<NaiveDateTime>,
    pub first_response_at_risk_at: Option<NaiveDateTime>,
    pub first_responded_at: Option<NaiveDateTime>,
    pub first_response_breached_at: Option<NaiveDateTime>,
    pub resolution_due_at: Option<NaiveDateTime>,
    pub resolution_at_risk_at: Option<NaiveDateTime>,
    pub resolved_at: Option<NaiveDateTime>,
    pub resolution_breached_at: Option<NaiveDateTime>,
}

impl SlaRow {
    pub(crate) fn target(&self, target: SlaTarget) -> TargetState {
        match target {
            SlaTarget::FirstResponse => TargetState {
                due_at: self.first_response_due_at,
                at_risk_at: self.first_response_at_risk_at,
                done_at: self.first_responded_at,
                breached_at: self.first_response_breached_at,
            },
            SlaTarget::Resolution => TargetState {
                due_at: self.resolution_due_at,
                at_risk_at: self.resolution_at_risk_at,
                done_at: self.resolved_at,
                breached_at: self.resolution_breached_at,
            },
        }
    }

    fn mark_breached(&mut self, target: SlaTarget, due: NaiveDateTime) {
        match target {
            SlaTarget::FirstResponse => self.first_response_breached_at = Some(due),
            SlaTarget::Resolution => self.resolution_breached_at = Some(due),
        }
    }

    /// Sets the due and at-risk instants of both targets from the creation, the targets and
    /// the business time spent paused.
    fn reschedule(
        &mut self,
        calendar: &BusinessCalendar,
        created_at: NaiveDateTime,
        at_risk_bp: i64,
    ) {
        if let Some(seconds) = self.first_response_target_seconds {
            let s = schedule(
                calendar,
                created_at,
                seconds,
                self.paused_seconds,
                at_risk_bp,
            );
            self.first_response_due_at = s.due_at;
            self.first_response_at_risk_at = s.at_risk_at;
        }
        if let Some(seconds) = self.resolution_target_seconds {
            let s = schedule(
                calendar,
                created_at,
                seconds,
                self.paused_seconds,
                at_risk_bp,
            );
            self.resolution_due_at = s.due_at;
            self.resolution_at_risk_at = s.at_risk_at;
        }
    }
}

/// What showing cases reads at most once per request: their calendars, by id, and the desk's
/// settings.
#[derive(Default)]
pub(crate) struct ReadOnce {
    calendars: HashMap<String, BusinessCalendar>,
    desk: Option<ServiceSettings>,
}

impl ReadOnce {
    pub(crate) fn calendar(
        &mut self,
        conn: &mut DbConnection,
        id: &str,
    ) -> Result<&BusinessCalendar, StoreError> {
        Ok(match self.calendars.entry(id.to_owned()) {
            Entry::Occupied(read) => read.into_mut(),
            Entry::Vacant(unread) => unread.insert(calendars::business_calendar(conn, id)?),
        })
    }

    fn desk(&mut self, conn: &mut DbConnection) -> Result<&ServiceSettings, StoreError> {
        let desk = match self.desk.take() {
            Some(read) => read,
            None => settings::get(conn)?.value,
        };
        Ok(self.desk.insert(desk))
    }

    /// Whether a case last resolved at `sla.resolved_at` may still reopen at `now`.
    fn within_reopen_window(
        &mut self,
        conn: &mut DbConnection,
        sla: &SlaRow,
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        Ok(self.desk(conn)?.within_reopen_window(sla.resolved_at, now))
    }
}

fn sla_view(
    conn: &mut DbConnection,
    read_once: &mut ReadOnce,
    case_status: CaseStatus,
    row: &SlaRow,
    now: NaiveDateTime,
) -> Result<CaseSla, StoreError> {
    let first_response = row.target(SlaTarget::FirstResponse);
    let resolution = row.target(SlaTarget::Resolution);
    let running = case_status.clocks_run();
    let mut view = CaseSla {
        policy_id: row.sla_policy_id.clone(),
        status: None,
        paused: !running,
        first_response,
        resolution,
        first_response_remaining_seconds: None,
        resolution_remaining_seconds: None,
    };
    let Some(calendar_id) = &row.calendar_id else {
        return Ok(view);
    };
    let calendar = read_once.calendar(conn, calendar_id)?;
    let from = if running {
        now
    } else {
        row.paused_at.unwrap_or(now)
    };
    let remaining = |t: &TargetState| match (t.done_at, t.breached_at, t.due_at) {
        (None, None, Some(due)) => Some(calendar.between(from, due)),
        _ => None,
    };
    view.first_response_remaining_seconds = remaining(&first_response);
    view.resolution_remaining_seconds = remaining(&resolution);
    view.status = Some(status(
        running,
        matches!(case_status, CaseStatus::Resolved | CaseStatus::Closed),
        &first_response,
        &resolution,
        now,
    ));
    Ok(view)
}

fn assemble(
    conn: &mut DbConnection,
    read_once: &mut ReadOnce,
    row: CaseRow,
    sla: &SlaRow,
    now: NaiveDateTime,
) -> Result<Case, StoreError> {
    let status: CaseStatus = stored("cases", "status", &row.status)?;
    let within_reopen_window =
        status == CaseStatus::Resolved && read_once.within_reopen_window(conn, sla, now)?;
    Ok(Case {
        sla: sla_view(conn, read_once, status, sla, now)?,
        status,
        within_reopen_window,
        fields: CaseFields {
            locale: stored("cases", "locale", &row.locale)?,
            channel: stored("cases", "channel", &row.channel)?,
            priority: stored("cases", "priority", &row.priority)?,
            category: stored("cases", "category", &row.category)?,
            tags: tags_from_json(&row.tags),
            root_cause: RootCause {
                category: stored_opt(
                    "cases",
                    "root_cause_category",
                    row.root_cause_category.as_deref(),
                )?,
                notes: row.root_cause_notes,
                preventive_action: row.preventive_action,
            },
            subject: row.subject,
            description: row.description,
            contact_id: row.contact_id,
            order_id: row.order_id,
            return_id: row.return_id,
            invoice_id: row.invoice_id,
        },
        id: row.id,
        number: row.number,
        company_id: row.company_id,
        assignee_id: row.assignee_id,
        team_id: row.team_id,
        escalation_level: row.escalation_level,
        escalated_to_id: row.escalated_to_id,
        escalated_at: row.escalated_at,
        csat_flagged: row.csat_flagged,
        opened_by: row.opened_by,
        closed_at: row.closed_at,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

impl CaseRow {
    fn set_fields(&mut self, f: &CaseFields) {
        self.subject.clone_from(&f.subject);
        self.description.clone_from(&f.description);
        self.contact_id.clone_from(&f.contact_id);
        self.locale = f.locale.as_str().to_owned();
        self.tags = tags_to_json(&f.tags);
        self.order_id.clone_from(&f.order_id);
        self.return_id.clone_from(&f.return_id);
        self.invoice_id.clone_from(&f.invoice_id);
        self.channel = f.channel.as_str().to_owned();
        self.priority = f.priority.as_str().to_owned();
        self.category = f.category.as_str().to_owned();
        self.root_cause_category = f.root_cause.category.map(|c| c.as_str().to_owned());
        self.root_cause_notes.clone_from(&f.root_cause.notes);
        self.preventive_action
            .clone_from(&f.root_cause.preventive_action);
        self.search_text = [Some(&f.subject), f.description.as_ref()]
            .into_iter()
            .flatten()
            .map(|s| s.to_lowercase())
            .collect::<Vec<_>>()
            .join(" ");
    }

    fn fields(&self) -> Result<CaseFields, StoreError> {
        Ok(CaseFields {
            subject: self.subject.clone(),
            description: self.description.clone(),
            contact_id: self.contact_id.clone(),
            locale: stored("cases", "locale", &self.locale)?,
            tags: tags_from_json(&self.tags),
            order_id: self.order_id.clone(),
            return_id: self.return_id.clone(),
            invoice_id: self.invoice_id.clone(),
            channel: stored("cases", "channel", &self.channel)?,
            priority: stored("cases", "priority", &self.priority)?,
            category: stored("cases", "category", &self.category)?,
            root_cause: RootCause {
                category: stored_opt(
                    "cases",
                    "root_cause_category",
                    self.root_cause_category.as_deref(),
                )?,
                notes: self.root_cause_notes.clone(),
                preventive_action: self.preventive_action.clone(),
            },
        })
    }
}

/// The linked contact, order, return and invoice belong to the case's company (else `422`
/// naming the field).
fn check_links(
    conn: &mut DbConnection,
    company_id: &str,
    f: &CaseFields,
) -> Result<(), StoreError> {
    let mut violations = crm_domain::Violations::default();
    // One answer whether the record is missing or another company's, so that a portal user
    // learns nothing of other companies' ids.
    let mut owned = |field: &str, owner: Option<Option<String>>, what: &str| {
        if owner.flatten().as_deref() != Some(company_id) {
            violations.push(Violation::new(
                field,
                format!("no such {what} of the case's company"),
            ));
        }
    };
    if let Some(id) = &f.contact_id {
        let owner = contacts::table
            .find(id)
            .select(contacts::company_id)
            .first(conn)
            .optional()?;
        owned("contact_id", owner, "contact");
    }
    if let Some(id) = &f.order_id {
        let owner = orders::table
            .find(id)
            .select(orders::company_id)
            .first(conn)
            .optional()?;
        owned("order_id", owner, "order");
    }
    if let Some(id) = &f.return_id {
        let owner = returns::table
            .find(id)
            .select(returns::company_id)
            .first(conn)
            .optional()?;
        owned("return_id", owner, "return");
    }
    if let Some(id) = &f.invoice_id {
        let owner = invoices::table
            .find(id)
            .select(invoices::company_id.nullable())
            .first(conn)
            .optional()?;
        owned("invoice_id", owner, "invoice");
    }
    violations.into_result()?;
    Ok(())
}

fn check_assignment(
    conn: &mut DbConnection,
    assignee_id: Option<&str>,
    team_id: Option<&str>,
) -> Result<(), StoreError> {
    if let Some(user) = assignee_id {
        ensure_staff(conn, user, "assignee_id")?;
    }
    if let Some(team) = team_id {
        let found: Option<String> = teams::table
            .find(team)
            .select(teams::id)
            .first(conn)
            .optional()?;
        if found.is_none() {
            return Err(Violation::new("team_id", "no such team").into());
        }
    }
    Ok(())
}

/// Appends to a case's event log.
pub(crate) fn log(
    conn: &mut DbConnection,
    case_id: &str,
    event: CaseChangeType,
    at: NaiveDateTime,
    actor_id: Option<&str>,
    data: Value,
) -> Result<(), StoreError> {
    diesel::insert_into(case_events::table)
        .values((
            case_events::id.eq(new_id()),
            case_events::case_id.eq(case_id),
            case_events::event_type.eq(event.as_str()),
            case_events::at.eq(at),
            case_events::actor_id.eq(actor_id),
            case_events::data.eq(data.to_string()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sets a case's SLA from the rule that applies to its category, priority and company tier.
fn apply_policy(
    conn: &mut DbConnection,
    sla: &mut SlaRow,
    company_id: &str,
    category: CaseCategory,
    priority: CasePriority,
    created_at: NaiveDateTime,
    at_risk_bp: i64,
) -> Result<(), StoreError> {
    let tier: Option<String> = companies::table
        .find(company_id)
        .select(companies::tier)
        .first(conn)?;
    let tier: Option<Tier> = stored_opt("companies", "tier", tier.as_deref())?;
    let applicable = policies::applicable(conn, category, priority, tier)?;
    sla.sla_policy_id = applicable.as_ref().map(|a| a.policy_id.clone());
    sla.calendar_id = applicable.as_ref().map(|a| a.calendar_id.clone());
    sla.first_response_target_seconds = applicable
        .as_ref()
        .map(|a| a.rule.first_response_minutes * 60);
    sla.resolution_target_seconds = applicable.as_ref().map(|a| a.rule.resolution_minutes * 60);
    sla.breach_priority = applicable
        .as_ref()
        .and_then(|a| a.rule.breach_priority)
        .map(|p| p.as_str().to_owned());
    match (&applicable, sla.calendar_id.clone()) {
        (Some(_), Some(calendar_id)) => {
            let calendar = calendars::business_calendar(conn, &calendar_id)?;
            sla.reschedule(&calendar, created_at, at_risk_bp);
        }
        _ => {
            sla.first_response_due_at = None;
            sla.first_response_at_risk_at = None;
            sla.resolution_due_at = None;
            sla.resolution_at_risk_at = None;
        }
    }
    Ok(())
}

/// Opens a case: numbers it, gives it its SLA and logs its creation.
pub fn open_case(
    conn: &mut DbConnection,
    clock: Clock,
    mut new: NewCase,
) -> Result<Case, StoreError> {
    let now = clock.now(conn)?;
    let company: Option<Option<NaiveDateTime>> = companies::table
        .find(&new.company_id)
        .select(companies::archived_at)
        .first(conn)
        .optional()?;
    crate::ensure_live(company, "company_id", "company")?;
    check_links(conn, &new.company_id, &new.fields)?;
    check_assignment(conn, new.assignee_id.as_deref(), new.team_id.as_deref())?;
    let desk = settings::get(conn)?.value;
    let at_risk_bp = desk.at_risk_from_bp;
    new.fields.locale = new.locale.unwrap_or(desk.default_locale);
    let sequence = counters::next(conn, &format!("case:{}", now.year()))?;
    let mut row = CaseRow {
        id: new_id(),
        number: case_number(now.year(), sequence),
        subject: String::new(),
        description: None,
        company_id: new.company_id,
        contact_id: None,
        locale: String::new(),
        tags: String::new(),
        order_id: None,
        return_id: None,
        invoice_id: None,
        channel: String::new(),
        priority: String::new(),
        category: String::new(),
        status: CaseStatus::New.as_str().to_owned(),
        assignee_id: new.assignee_id,
        team_id: new.team_id,
        root_cause_category: None,
        root_cause_notes: None,
        preventive_action: None,
        escalation_level: 0,
        escalated_to_id: None,
        escalated_at: None,
        csat_flagged: false,
        opened_by: new.opened_by.clone(),
        closed_at: None,
        search_text: String::new(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    row.set_fields(&new.fields);
    let mut sla = SlaRow {
        case_id: row.id.clone(),
        sla_policy_id: None,
        calendar_id: None,
        first_response_target_seconds: None,
        resolution_target_seconds: None,
        breach_priority: None,
        paused_seconds: 0,
        paused_at: None,
        first_response_due_at: None,
        first_response_at_risk_at: None,
        first_responded_at: None,
        first_response_breached_at: None,
        resolution_due_at: None,
        resolution_at_risk_at: None,
        resolved_at: None,
        resolution_breached_at: None,
    };
    apply_policy(
        conn,
        &mut sla,
        &row.company_id,
        new.fields.category,
        new.fields.priority,
        now,
        at_risk_bp,
    )?;
    diesel::insert_into(cases::table)
        .values(&row)
        .execute(conn)?;
    diesel::insert_into(case_slas::table)
        .values(&sla)
        .execute(conn)?;
    let actor = new.opened_by.as_deref();
    log(
        conn,
        &row.id,
        CaseChangeType::Created,
        now,
        actor,
        json!({"priority": row.priority, "category": row.category, "channel": row.channel}),
    )?;
    if row.assignee_id.is_some() || row.team_id.is_some() {
        log(
            conn,
            &row.id,
            CaseChangeType::Assigned,
            now,
            actor,
            json!({"assignee_id": row.assignee_id, "team_id": row.team_id}),
        )?;
    }
    outbox::record(conn, EventType::CaseCreated, &row.id)?;
    assemble(conn, &mut ReadOnce::default(), row, &sla, now)
}

fn load(conn: &mut DbConnection, id: &str) -> Result<(CaseRow, SlaRow), StoreError> {
    Ok(cases::table
        .inner_join(case_slas::table)
        .filter(cases::id.eq(id))
        .select((CaseRow::as_select(), SlaRow::as_select()))
        .first(conn)?)
}

pub fn get(conn: &mut DbConnection, clock: Clock, id: &str) -> Result<Case, StoreError> {
    let now = clock.now(conn)?;
    let (row, sla) = load(conn, id)?;
    assemble(conn, &mut ReadOnce::default(), row, &sla, now)
}

/// A case of `company_id` only: another company's case is not found.
pub fn get_of_company(
    conn: &mut DbConnection,
    clock: Clock,
    id: &str,
    company_id: &str,
) -> Result<Case, StoreError> {
    let case = get(conn, clock, id)?;
    if case.company_id != company_id {
        return Err(StoreError::NotFound);
    }
    Ok(case)
}

/// Locks the case and checks `If-Match`: the start of its every write.
pub(crate) fn checkout(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(CaseRow, SlaRow), StoreError> {
    records::checkout(conn, Record::Case, id, expected_version, load, |(r, _)| {
        r.version
    })
}

/// Writes both rows on the version read, then logs nothing: callers log what they changed.
pub(crate) fn save(
    conn: &mut DbConnection,
    row: &mut CaseRow,
    sla: &SlaRow,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let read_version = row.version;
    row.version += 1;
    row.updated_at = now;
    records::update_versioned!(conn, cases, &row.id, read_version, &*row)?;
    diesel::update(case_slas::table.find(&row.id))
        .set(sla)
        .execute(conn)?;
    Ok(())
}

/// Who acts, and when, in one write.
pub struct Actor<'a> {
    pub id: Option<&'a str>,
    pub now: NaiveDateTime,
}

/// Records a target missed at its due instant and escalates the case: to the assignee's
/// manager, else the team's escalation user (else to no one new); one level up, at the rule's
/// breach priority.
pub(crate) fn breach(
    conn: &mut DbConnection,
    row: &mut CaseRow,
    sla: &mut SlaRow,
    target: SlaTarget,
    due: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    sla.mark_breached(target, due);
    log(
        conn,
        &row.id,
        CaseChangeType::SlaBreached,
        now,
        None,
        json!({"target": target.as_str(), "due_at": due.and_utc().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)}),
    )?;
    let manager: Option<String> = match &row.assignee_id {
        Some(assignee) => users::table
            .find(assignee)
            .select(users::manager_id)
            .first::<Option<String>>(conn)
            .optional()?
            .flatten(),
        None => None,
    };
    let team_escalation: Option<String> = match (&manager, &row.team_id) {
        (None, Some(team)) => teams::table
            .find(team)
            .select(teams::escalation_user_id)
            .first::<Option<String>>(conn)
            .optional()?
            .flatten(),
        _ => None,
    };
    let to = manager.or(team_escalation);
    let from_priority = row.priority.clone();
    if let Some(priority) = &sla.breach_priority {
        row.priority.clone_from(priority);
    }
    row.escalation_level += 1;
    if to.is_some() {
        row.escalated_to_id.clone_from(&to);
    }
    row.escalated_at = Some(now);
    log(
        conn,
        &row.id,
        CaseChangeType::Escalated,
        now,
        None,
        json!({"to_id": to, "level": row.escalation_level, "priority": row.priority}),
    )?;
    if from_priority != row.priority {
        log(
            conn,
            &row.id,
            CaseChangeType::PriorityChanged,
            now,
            None,
            json!({"from": from_priority, "to": row.priority}),
        )?;
    }
    Ok(())
}

/// Records every running target already past due: a case that stops its clocks late has
/// breached, whatever it does next.
pub(crate) fn breach_overdue(
    conn: &mut DbConnection,
    row: &mut CaseRow,
    sla: &mut SlaRow,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    let mut breaches = 0;
    for target in [SlaTarget::FirstResponse, SlaTarget::Resolution] {
        if let Some(due) = sla.target(target).breach_due(now) {
            breach(conn, row, sla, target, due, now)?;
            breaches += 1;
        }
    }
    Ok(breaches)
}

/// Moves a case to `to`, stopping or restarting its clocks, and logs it.
pub(crate) fn move_to(
    conn: &mut DbConnection,
    row: &mut CaseRow,
    sla: &mut SlaRow,
    to: CaseStatus,
    actor: &Actor,
) -> Result<usize, StoreError> {
    let from: CaseStatus = stored("cases", "status", &row.status)?;
    let now = actor.now;
    let mut breaches = 0;
    if from.clocks_run() && !to.clocks_run() {
        breaches = breach_overdue(conn, row, sla, now)?;
        sla.paused_at = Some(now);
    }
    if !from.clocks_run() && to.clocks_run() {
        if let (Some(paused_at), Some(calendar_id)) = (sla.paused_at, sla.calendar_id.clone()) {
            let calendar = calendars::business_calendar(conn, &calendar_id)?;
            sla.paused_seconds += calendar.between(paused_at, now).max(0);
            let at_risk_bp = settings::get(conn)?.value.at_risk_from_bp;
            sla.reschedule(&calendar, row.created_at, at_risk_bp);
        }
        sla.paused_at = None;
        // Only the last resolution counts.
        sla.resolved_at = None;
    }
    match to {
        CaseStatus::Resolved => {
            sla.resolved_at = Some(now);
            // A resolution answers the customer: a case resolved before any public reply has
            // had its first response then, and its target is settled.
            if sla.first_responded_at.is_none() {
                sla.first_responded_at = Some(now);
            }
        }
        CaseStatus::Closed => row.closed_at = Some(now),
        _ => {}
    }
    row.status = to.as_str().to_owned();
    log(
        conn,
        &row.id,
        CaseChangeType::StatusChanged,
        now,
        actor.id,
        json!({"from": from.as_str(), "to": to.as_str()}),
    )?;
    Ok(breaches)
}

/// The event of a state action.
fn event_of(action: CaseAction) -> EventType {
    match action {
        CaseAction::Open => EventType::CaseOpened,
        CaseAction::Pend => EventType::CasePended,
        CaseAction::Resolve => EventType::CaseResolved,
        CaseAction::Reopen => EventType::CaseReopened,
        CaseAction::Close => EventType::CaseClosed,
    }
}

/// Records the events of a write after its rows are saved, so that each renders the case as
/// it now is: an escalation first when the write recorded a breach.
pub(crate) fn announce(
    conn: &mut DbConnection,
    id: &str,
    breaches: usize,
    event: Option<EventType>,
) -> Result<(), StoreError> {
    if breaches > 0 {
        outbox::record(conn, EventType::CaseEscalated, id)?;
    }
    if let Some(event) = event {
        outbox::record(conn, event, id)?;
    }
    Ok(())
}

/// A state action: `open`, `pend`, `resolve`, `reopen` or `close`. A resolution opens a
/// satisfaction survey under `survey_token_hash` unless the case's survey was answered already;
/// `Acted::survey_opened` says whether it did.
pub fn act(
    conn: &mut DbConnection,
    clock: Clock,
    id: &str,
    expected_version: Option<i64>,
    actor_id: Option<&str>,
    action: CaseAction,
    survey_token_hash: Option<String>,
) -> Result<Acted, StoreError> {
    let now = clock.now(conn)?;
    let (mut row, mut sla) = checkout(conn, id, expected_version)?;
    let status: CaseStatus = stored("cases", "status", &row.status)?;
    // The settings read for the window serve the answer's allowed actions too.
    let mut read_once = ReadOnce::default();
    let to = transition(
        status,
        action,
        read_once.within_reopen_window(conn, &sla, now)?,
    )
    .map_err(StoreError::IllegalTransition)?;
    if action == CaseAction::Resolve {
        let fields = row.fields()?;
        check_resolvable(fields.category, fields.root_cause.category)?;
    }
    let breaches = move_to(conn, &mut row, &mut sla, to, &Actor { id: actor_id, now })?;
    save(conn, &mut row, &sla, now)?;
    let survey_opened = match (action, survey_token_hash) {
        (CaseAction::Resolve, Some(token_hash)) => open_survey(conn, id, &token_hash, now)?,
        _ => false,
    };
    announce(conn, id, breaches, Some(event_of(action)))?;
    Ok(Acted {
        case: assemble(conn, &mut read_once, row, &sla, now)?,
        survey_opened,
    })
}

/// Opens the case's survey under a new token, unless it was answered: one answer per case.
/// Returns whether it opened one.
pub(crate) fn open_survey(
    conn: &mut DbConnection,
    case_id: &str,
    token_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let answered: Option<Option<NaiveDateTime>> = case_surveys::table
        .find(case_id)
        .select(case_surveys::answered_at)
        .first(conn)
        .optional()?;
    if matches!(answered, Some(Some(_))) {
        return Ok(false);
    }
    let days = settings::get(conn)?.value.survey_valid_days;
    diesel::delete(case_surveys::table.find(case_id)).execute(conn)?;
    diesel::insert_into(case_surveys::table)
        .values((
            case_surveys::case_id.eq(case_id),
            case_surveys::token_hash.eq(token_hash),
            case_surveys::expires_at.eq(now + chrono::Duration::days(days)),
        ))
        .execute(conn)?;
    Ok(true)
}

/// A case after a state action, and whether its resolution opened a survey.
pub struct Acted {
    pub case: Case,
    pub survey_opened: bool,
}

/// Changes what `edit` changes. A staff priority change sets the targets again; a change of
/// category keeps them.
pub fn update(
    conn: &mut DbConnection,
    clock: Clock,
    id: &str,
    expected_version: Option<i64>,
    actor_id: Option<&str>,
    edit: impl FnOnce(&mut CaseFields) -> Result<(), StoreError>,
) -> Result<Case, StoreError> {
    let now = clock.now(conn)?;
    let (mut row, mut sla) = checkout(conn, id, expected_version)?;
    let before = row.fields()?;
    let mut fields = before.clone();
    edit(&mut fields)?;
    check_links(conn, &row.company_id, &fields)?;
    row.set_fields(&fields);
    if fields.priority != before.priority {
        let at_risk_bp = settings::get(conn)?.value.at_risk_from_bp;
        apply_policy(
            conn,
            &mut sla,
            &row.company_id,
            fields.category,
            fields.priority,
            row.created_at,
            at_risk_bp,
        )?;
        log(
            conn,
            id,
            CaseChangeType::PriorityChanged,
            now,
            actor_id,
            json!({"from": before.priority.as_str(), "to": fields.priority.as_str()}),
        )?;
    }
    save(conn, &mut row, &sla, now)?;
    announce(conn, id, 0, Some(EventType::CaseUpdated))?;
    assemble(conn, &mut ReadOnce::default(), row, &sla, now)
}

/// Gives the case to a person, a team, or both: `None` leaves one as it is, `Some(None)` clears
/// it.
pub fn assign(
    conn: &mut DbConnection,
    clock: Clock,
    id: &str,
    expected_version: Option<i64>,
    actor_id: Option<&str>,
    assignee_id: Option<Option<String>>,
    team_id: Option<Option<String>>,
) -> Result<Case, StoreError> {
    let now = clock.now(conn)?;
    let (mut row, sla) = checkout(conn, id, expected_version)?;
    if assignee_id.is_none() && team_id.is_none() {
        return assemble(conn, &mut ReadOnce::default(), row, &sla, now);
    }
    // Left out (`None`): as it is; `Some(None)`: cleared.
    check_assignment(
        conn,
        assignee_id.as_ref().and_then(Option::as_deref),
        team_id.as_ref().and_then(Option::as_deref),
    )?;
    if let Some(assignee_id) = assignee_id {
        row.assignee_id = assignee_id;
    }
    if let Some(team_id) = team_id {
        row.team_id = team_id;
    }
    log(
        conn,
        id,
        CaseChangeType::Assigned,
        now,
        actor_id,
        json!({"assignee_id": row.assignee_id, "team_id": row.team_id}),
    )?;
    save(conn, &mut row, &sla, now)?;
    announce(conn, id, 0, Some(EventType::CaseAssigned))?;
    assemble(conn, &mut ReadOnce::default(), row, &sla, now)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = case_comments)]
pub struct Comment {
    pub id: String,
    pub case_id: String,
    pub author_id: Option<String>,
    pub body: String,
    pub public: bool,
    pub from_customer: bool,
    pub created_at: NaiveDateTime,
}

/// Adds a comment and moves the case as the reply rules say: the first public staff reply
/// opens a new case and honours the first-response target; a customer's reply reopens.
/// `company_id` restricts a portal user to its company's cases.
#[allow(clippy::too_many_arguments)]
pub fn comment(
    conn: &mut DbConnection,
    clock: Clock,
    id: &str,
    expected_version: Option<i64>,
    company_id: Option<&str>,
    author_id: Option<&str>,
    author: Author,
    body: String,
) -> Result<Comment, StoreError> {
    let now = clock.now(conn)?;
    let (mut row, mut sla) = checkout(conn, id, expected_version)?;
    if company_id.is_some_and(|company| company != row.company_id) {
        return Err(StoreError::NotFound);
    }
    let status: CaseStatus = stored("cases", "status", &row.status)?;
    check_commentable(status).map_err(StoreError::IllegalTransition)?;
    let actor = Actor { id: author_id, now };
    let mut breaches = 0;
    if author == (Author::Staff { public: true }) && sla.first_responded_at.is_none() {
        if let Some(due) = sla.target(SlaTarget::FirstResponse).breach_due(now) {
            if status.clocks_run() {
                breach(conn, &mut row, &mut sla, SlaTarget::FirstResponse, due, now)?;
                breaches += 1;
            }
        }
        sla.first_responded_at = Some(now);
    }
    let within_reopen_window = ReadOnce::default().within_reopen_window(conn, &sla, now)?;
    if let Some(to) = after_comment(status, author, within_reopen_window) {
        breaches += move_to(conn, &mut row, &mut sla, to, &actor)?;
    }
    let comment = Comment {
        id: new_id(),
        case_id: id.to_owned(),
        author_id: author_id.map(str::to_owned),
        body,
        public: author != Author::Staff { public: false },
        from_customer: author == Author::Customer,
        created_at: now,
    };
    diesel::insert_into(case_comments::table)
        .values(&comment)
        .execute(conn)?;
    log(
        conn,
        id,
        CaseChangeType::Commented,
        now,
        author_id,
        json!({"comment_id": comment.id, "public": comment.public, "from_customer": comment.from_customer}),
    )?;
    save(conn, &mut row, &sla, now)?;
    announce(conn, id, breaches, Some(EventType::CaseCommented))?;
    Ok(comment)
}

/// Finds the case, and when `company_id` is given (a portal user), only among its cases.
fn ensure_visible(
    conn: &mut DbConnection,
    id: &str,
    company_id: Option<&str>,
) -> Result<(), StoreError> {
    let owner: String = cases::table
        .find(id)
        .select(cases::company_id)
        .first(conn)?;
    if company_id.is_some_and(|company| company != owner) {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A case's comments, oldest first. For a portal user (`company_id`), only its company's
/// case and only public comments: internal notes never leave staff endpoints.
pub fn comments(
    conn: &mut DbConnection,
    id: &str,
    company_id: Option<&str>,
) -> Result<Vec<Comment>, StoreError> {
    ensure_visible(conn, id, company_id)?;
    let with_internal = company_id.is_none();
    let mut query = case_comments::table
        .filter(case_comments::case_id.eq(id))
        .order((case_comments::created_at.asc(), case_comments::id.asc()))
        .select(Comment::as_select())
        .into_boxed();
    if !with_internal {
        query = query.filter(case_comments::public.eq(true));
    }
    Ok(query.load(conn)?)
}

#[derive(Debug, Clone)]
pub struct CaseEvent {
    pub id: String,
    pub event_type: CaseChangeType,
    pub at: NaiveDateTime,
    pub actor_id: Option<String>,
    pub data: Value,
}

/// A case's event log, oldest first.
pub fn events(conn: &mut DbConnection, id: &str) -> Result<Vec<CaseEvent>, StoreError> {
    ensure_visible(conn, id, None)?;
    let rows: Vec<(String, String, NaiveDateTime, Option<String>, String)> = case_events::table
        .filter(case_events::case_id.eq(id))
        .order((case_events::at.asc(), case_events::id.asc()))
        .select((
            case_events::id,
            case_events::event_type,
            case_events::at,
            case_events::actor_id,
            case_events::data,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, event_type, at, actor_id, data)| {
            Ok(CaseEvent {
                event_type: stored("case_events", "type", &event_type)?,
                data: serde_json::from_str(&data).map_err(|_| StoreError::Corrupt {
                    table: "case_events",
                    column: "data",
                    value: data.clone(),
                })?,
                id,
                at,
                actor_id,
            })
        })
        .collect()
}

/// Whose cases a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssigneeFilter {
    Nobody,
    User(String),
}

#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<CaseStatus>,
    pub priority: Option<CasePriority>,
    pub category: Option<CaseCategory>,
    pub channel: Option<CaseChannel>,
    pub company_id: Option<String>,
    pub assignee: Option<AssigneeFilter>,
    pub team_id: Option<String>,
    pub sla_status: Option<SlaStatus>,
    pub escalated_to_id: Option<String>,
    pub csat_flagged: Option<bool>,
    pub tag: Option<String>,
    pub q: Option<String>,
}

/// Cases, newest first by default, filtered at the service clock's `now`: the SLA status is
/// worked out in SQL from the stored instants, as `sla::status` does for one case.
pub fn list(
    conn: &mut DbConnection,
    clock: Clock,
    filter: &CaseFilter,
    page: &PageRequest<()>,
) -> Result<Page<Case>, StoreError> {
    let now = clock.now(conn)?;
    let mut query = cases::table
        .inner_join(case_slas::table)
        .select((CaseRow::as_select(), SlaRow::as_select()))
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(cases::status.eq(status.as_str()));
    }
    if let Some(priority) = filter.priority {
        query = query.filter(cases::priority.eq(priority.as_str()));
    }
    if let Some(category) = filter.category {
        query = query.filter(cases::category.eq(category.as_str()));
    }
    if let Some(channel) = filter.channel {
        query = query.filter(cases::channel.eq(channel.as_str()));
    }
    if let Some(company_id) = &filter.company_id {
        query = query.filter(cases::company_id.eq(company_id.clone()));
    }
    match &filter.assignee {
        Some(AssigneeFilter::Nobody) => query = query.filter(cases::assignee_id.is_null()),
        Some(AssigneeFilter::User(id)) => {
            query = query.filter(cases::assignee_id.eq(id.clone()));
        }
        None => {}
    }
    if let Some(team_id) = &filter.team_id {
        query = query.filter(cases::team_id.eq(team_id.clone()));
    }
    if let Some(escalated_to_id) = &filter.escalated_to_id {
        query = query.filter(cases::escalated_to_id.eq(escalated_to_id.clone()));
    }
    if let Some(flagged) = filter.csat_flagged {
        query = query.filter(cases::csat_flagged.eq(flagged));
    }
    if let Some(tag) = &filter.tag {
        query = query.filter(cases::tags.like(tag_pattern(tag)).escape('\\'));
    }
    if let Some(sla_status) = filter.sla_status {
        // Each comparison is guarded by IS NOT NULL, so that no part is NULL and NOT works.
        let running = case_slas::paused_at.is_null();
        let first_response_due = case_slas::first_responded_at
            .is_null()
            .and(case_slas::first_response_due_at.is_not_null())
            .and(case_slas::first_response_due_at.le(now).assume_not_null());
        let resolution_due = case_slas::resolved_at
            .is_null()
            .and(case_slas::resolution_due_at.is_not_null())
            .and(case_slas::resolution_due_at.le(now).assume_not_null());
        let breached = case_slas::first_response_breached_at
            .is_not_null()
            .or(case_slas::resolution_breached_at.is_not_null())
            .or(running.and(first_response_due.or(resolution_due)));
        let first_response_at_risk = case_slas::first_responded_at
            .is_null()
            .and(case_slas::first_response_at_risk_at.is_not_null())
            .and(
                case_slas::first_response_at_risk_at
                    .le(now)
                    .assume_not_null(),
            );
        let resolution_at_risk = case_slas::resolved_at
            .is_null()
            .and(case_slas::resolution_at_risk_at.is_not_null())
            .and(case_slas::resolution_at_risk_at.le(now).assume_not_null());
        let at_risk = running.and(first_response_at_risk.or(resolution_at_risk));
        let settled =
            cases::status.eq_any([CaseStatus::Resolved.as_str(), CaseStatus::Closed.as_str()]);
        query = query.filter(case_slas::sla_policy_id.is_not_null());
        query = match sla_status {
            SlaStatus::Breached => query.filter(breached),
            SlaStatus::Met => query.filter(not(breached).and(settled)),
            SlaStatus::AtRisk => query.filter(not(breached).and(not(settled)).and(at_risk)),
            SlaStatus::OnTrack => query.filter(not(breached).and(not(settled)).and(not(at_risk))),
        };
    }
    if let Some(q) = &filter.q {
        query = substring_search!(query, conn, cases::search_text, &q.to_lowercase());
    }
    let rows: Vec<(CaseRow, SlaRow)> =
        keyset!(query, cases::created_at, cases::id, page, time).load(conn)?;
    let mut read_once = ReadOnce::default();
    finish(rows, page.limit, |(r, _)| {
        After::at_time(r.created_at, &r.id)
    })
    .try_map(|(row, sla)| assemble(conn, &mut read_once, row, &sla, now))
}

/// An open case, as the 360 lists it.
#[derive(Debug, Clone)]
pub struct CaseSummary {
    pub id: String,
    pub number: String,
    pub subject: String,
    pub status: CaseStatus,
    pub priority: CasePriority,
    pub created_at: NaiveDateTime,
}

/// How many cases of a company (or of one contact) are open (new, open, pending), and the
/// newest `limit` of them.
pub fn open_cases(
    conn: &mut DbConnection,
    company_id: Option<&str>,
    contact_id: Option<&str>,
    limit: i64,
) -> Result<(i64, Vec<CaseSummary>), StoreError> {
    let open: Vec<&str> = CaseStatus::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| s.as_str())
        .collect();
    let scoped = || {
        let mut query = cases::table
            .filter(cases::status.eq_any(open.clone()))
            .into_boxed();
        if let Some(contact) = contact_id {
            query = query.filter(cases::contact_id.eq(contact.to_owned()));
        } else if let Some(company) = company_id {
            query = query.filter(cases::company_id.eq(company.to_owned()));
        }
        query
    };
    let count: i64 = scoped().count().get_result(conn)?;
    let rows: Vec<(String, String, String, String, String, NaiveDateTime)> = scoped()
        .order((cases::created_at.desc(), cases::id.desc()))
        .limit(limit)
        .select((
            cases::id,
            cases::number,
            cases::subject,
            cases::status,
            cases::priority,
            cases::created_at,
        ))
        .load(conn)?;
    let summaries = rows
        .into_iter()
        .map(|(id, number, subject, status, priority, created_at)| {
            Ok(CaseSummary {
                status: stored("cases", "status", &status)?,
                priority: stored("cases", "priority", &priority)?,
                id,
                number,
                subject,
                created_at,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok((count, summaries))
}

/// The events of a contact's or company's cases as timeline entries, newest first.
pub fn timeline_page(
    conn: &mut DbConnection,
    subject: &Subject,
    page: &PageRequest<()>,
) -> Result<Vec<TimelineEntry>, StoreError> {
    let mut query = case_events::table
        .inner_join(cases::table)
        .select((
            case_events::id,
            case_events::event_type,
            case_events::at,
            case_events::actor_id,
            cases::number,
            cases::subject,
            cases::contact_id,
            cases::company_id,
        ))
        .into_boxed();
    query = match subject {
        Subject::Contact(id) => query.filter(cases::contact_id.eq(id.clone())),
        Subject::Company(id) => query.filter(cases::company_id.eq(id.clone())),
    };
    let rows: Vec<TimelineRow> =
        keyset!(query, case_events::at, case_events::id, page, time).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| TimelineEntry {
            kind: TimelineKind::Case,
            summary: format!("{}: {}", row.number, row.subject),
            detail: Some(row.event_type),
            id: row.id,
            at: row.at,
            contact_id: row.contact_id,
            company_id: Some(row.company_id),
            user_id: row.actor_id,
        })
        .collect())
}

#[derive(Queryable)]
struct TimelineRow {
    id: String,
    event_type: String,
    at: NaiveDateTime,
    actor_id: Option<String>,
    number: String,
    subject: String,
    contact_id: Option<String>,
    company_id: String,
}
