//! Satisfaction surveys: opened by a resolution under a token shown once, answered once, and a
//! low rating flags or reopens its case.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use crm_domain::events::catalogue::EventType;
use crm_domain::platform::throttle::{minute_bucket, seconds_to_next_minute};
use crm_domain::service::cases::{CaseChangeType, CaseStatus};
use crm_domain::service::reports::{check_rating, CsatFigures};
use crm_domain::service::settings::LowCsatAction;
use diesel::prelude::*;
use serde_json::json;

use crate::platform::clock::Clock;
use crate::platform::counters;
use crate::platform::db::DbConnection;
use crate::platform::schema::{case_surveys, cases};
use crate::platform::stored::stored;
use crate::service::cases::{announce, checkout, log, move_to, save, Actor};
use crate::service::settings;
use crate::StoreError;
use crm_domain::Violations;

/// A survey as the customer sees it.
#[derive(Debug, Clone)]
pub struct Survey {
    pub case_id: String,
    pub case_number: String,
    pub subject: String,
    pub expires_at: NaiveDateTime,
    pub rating: Option<i64>,
    pub comment: Option<String>,
    pub answered_at: Option<NaiveDateTime>,
}

/// What asking for, or answering, a survey came to.
#[derive(Debug)]
pub enum SurveyOutcome {
    Open(Survey),
    Answered(Survey),
    AlreadyAnswered,
    Expired,
    /// Too many tries from one address in a minute of the service clock; the next minute starts
    /// in `retry_after_seconds`.
    Throttled {
        retry_after_seconds: u32,
    },
    /// No survey has this token.
    UnknownToken,
    /// The answer was refused; the try still counts.
    Refused(Violations),
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = case_surveys)]
struct SurveyRow {
    case_id: String,
    expires_at: NaiveDateTime,
    rating: Option<i64>,
    comment: Option<String>,
    answered_at: Option<NaiveDateTime>,
}

fn survey(conn: &mut DbConnection, case_id: &str) -> Result<Survey, StoreError> {
    let (row, number, subject): (SurveyRow, String, String) = case_surveys::table
        .inner_join(cases::table)
        .filter(case_surveys::case_id.eq(case_id))
        .select((SurveyRow::as_select(), cases::number, cases::subject))
        .first(conn)?;
    Ok(Survey {
        case_id: row.case_id,
        case_number: number,
        subject,
        expires_at: row.expires_at,
        rating: row.rating,
        comment: row.comment,
        answered_at: row.answered_at,
    })
}

fn case_of_token(conn: &mut DbConnection, token_hash: &str) -> Result<Option<String>, StoreError> {
    Ok(case_surveys::table
        .filter(case_surveys::token_hash.eq(token_hash))
        .select(case_surveys::case_id)
        .first(conn)
        .optional()?)
}

/// Counts a try from `address` in the service clock's minute `now`; over `limit`, the outcome
/// that refuses it. On the service clock, so that a frozen test clock keeps every try in one
/// minute.
fn throttled(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    address: &str,
    limit: i64,
) -> Result<Option<SurveyOutcome>, StoreError> {
    let bucket = minute_bucket("csat", address, now);
    Ok(
        (counters::next(conn, &bucket)? > limit).then(|| SurveyOutcome::Throttled {
            retry_after_seconds: seconds_to_next_minute(now),
        }),
    )
}

/// The survey of a token (`404` for an unknown one), counted against `address`.
pub fn survey_by_token(
    conn: &mut DbConnection,
    clock: Clock,
    address: &str,
    limit: i64,
    token_hash: &str,
) -> Result<SurveyOutcome, StoreError> {
    let now = clock.now(conn)?;
    if let Some(refused) = throttled(conn, now, address, limit)? {
        return Ok(refused);
    }
    let Some(case_id) = case_of_token(conn, token_hash)? else {
        return Ok(SurveyOutcome::UnknownToken);
    };
    let survey = survey(conn, &case_id)?;
    Ok(if survey.answered_at.is_some() {
        SurveyOutcome::Answered(survey)
    } else if survey.expires_at <= now {
        SurveyOutcome::Expired
    } else {
        SurveyOutcome::Open(survey)
    })
}

/// Answers the survey of a token, counted against `address`.
pub fn answer_by_token(
    conn: &mut DbConnection,
    clock: Clock,
    address: &str,
    limit: i64,
    token_hash: &str,
    rating: i64,
    comment: Option<String>,
) -> Result<SurveyOutcome, StoreError> {
    let now = clock.now(conn)?;
    if let Some(refused) = throttled(conn, now, address, limit)? {
        return Ok(refused);
    }
    let Some(case_id) = case_of_token(conn, token_hash)? else {
        return Ok(SurveyOutcome::UnknownToken);
    };
    // A savepoint, so that a refused answer rolls back alone, and returned as an outcome, so
    // that the transaction commits the count: guessing tokens or ratings uses up the limit too.
    match conn.transaction(|c| {
        answer(
            c,
            clock,
            &case_id,
            Answerer::Link { token_hash },
            rating,
            comment,
        )
    }) {
        Err(StoreError::Invalid(violations)) => Ok(SurveyOutcome::Refused(violations)),
        other => other,
    }
}

/// Answers the survey of a case of `company_id` (the portal); another company's is `404`.
pub fn answer_for_company(
    conn: &mut DbConnection,
    clock: Clock,
    case_id: &str,
    company_id: &str,
    user_id: Option<&str>,
    rating: i64,
    comment: Option<String>,
) -> Result<SurveyOutcome, StoreError> {
    answer(
        conn,
        clock,
        case_id,
        Answerer::Portal {
            company_id,
            user_id,
        },
        rating,
        comment,
    )
}

/// Who answers a survey.
enum Answerer<'a> {
    /// The customer through the survey's link; a case resolved again has a new link, so an
    /// older one no longer answers.
    Link { token_hash: &'a str },
    /// A portal user, only for a case of its company.
    Portal {
        company_id: &'a str,
        user_id: Option<&'a str>,
    },
}

/// Records the answer once, logs it, and flags or reopens the case on a low rating.
fn answer(
    conn: &mut DbConnection,
    clock: Clock,
    case_id: &str,
    answerer: Answerer,
    rating: i64,
    comment: Option<String>,
) -> Result<SurveyOutcome, StoreError> {
    let now = clock.now(conn)?;
    // Locks the case, which a new resolution (and so a new survey) also locks first.
    let (mut row, mut sla) = checkout(conn, case_id, None)?;
    let user_id = match answerer {
        Answerer::Link { token_hash } => {
            let current: Option<String> = case_surveys::table
                .filter(case_surveys::case_id.eq(case_id))
                .select(case_surveys::token_hash)
                .first(conn)
                .optional()?;
            if current.as_deref() != Some(token_hash) {
                return Ok(SurveyOutcome::Expired);
            }
            None
        }
        Answerer::Portal {
            company_id,
            user_id,
        } => {
            if company_id != row.company_id {
                return Err(StoreError::NotFound);
            }
            user_id
        }
    };
    let rating = check_rating(rating)?;
    let current = match survey(conn, case_id) {
        Err(StoreError::NotFound) => {
            return Err(crm_domain::Violation::new(
                "rating",
                "the case has no survey until it is resolved",
            )
            .into())
        }
        other => other?,
    };
    if current.answered_at.is_some() {
        return Ok(SurveyOutcome::AlreadyAnswered);
    }
    if current.expires_at <= now {
        return Ok(SurveyOutcome::Expired);
    }
    let answered = diesel::update(
        case_surveys::table
            .filter(case_surveys::case_id.eq(case_id))
            .filter(case_surveys::answered_at.is_null()),
    )
    .set((
        case_surveys::rating.eq(rating),
        case_surveys::comment.eq(&comment),
        case_surveys::answered_at.eq(now),
    ))
    .execute(conn)?;
    if answered == 0 {
        return Ok(SurveyOutcome::AlreadyAnswered);
    }
    log(
        conn,
        case_id,
        CaseChangeType::CsatReceived,
        now,
        user_id,
        json!({"rating": rating, "comment": comment}),
    )?;
    if let Some(action) = settings::get(conn)?.value.low_rating_action(rating) {
        let status: CaseStatus = stored("cases", "status", &row.status)?;
        match action {
            LowCsatAction::Reopen if status == CaseStatus::Resolved => {
                move_to(
                    conn,
                    &mut row,
                    &mut sla,
                    CaseStatus::Open,
                    &Actor { id: user_id, now },
                )?;
            }
            _ => row.csat_flagged = true,
        }
        save(conn, &mut row, &sla, now)?;
        announce(conn, case_id, 0, Some(EventType::CaseUpdated))?;
    }
    Ok(SurveyOutcome::Answered(survey(conn, case_id)?))
}

/// How the CSAT report groups answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsatGrouping {
    Assignee,
    Team,
    Category,
    Month,
}

/// The CSAT report: all answers, and per group; a `None` key groups cases with no assignee or
/// team.
pub struct CsatReport {
    pub total: CsatFigures,
    pub groups: Vec<(Option<String>, CsatFigures)>,
}

#[derive(Queryable)]
struct Answer {
    rating: Option<i64>,
    answered_at: NaiveDateTime,
    assignee_id: Option<String>,
    team_id: Option<String>,
    category: String,
}

/// Ratings answered from `from` to `to` (whole days, UTC), per group.
pub fn csat_report(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    grouping: CsatGrouping,
) -> Result<CsatReport, StoreError> {
    let start = from.and_time(chrono::NaiveTime::MIN);
    let end = (to + chrono::Duration::days(1)).and_time(chrono::NaiveTime::MIN);
    let answers: Vec<Answer> = case_surveys::table
        .inner_join(cases::table)
        .filter(case_surveys::answered_at.ge(start))
        .filter(case_surveys::answered_at.lt(end))
        .select((
            case_surveys::rating,
            case_surveys::answered_at.assume_not_null(),
            cases::assignee_id,
            cases::team_id,
            cases::category,
        ))
        .load(conn)?;
    let mut total = CsatFigures::default();
    let mut groups: std::collections::BTreeMap<Option<String>, CsatFigures> =
        std::collections::BTreeMap::new();
    for answer in answers {
        let Some(rating) = answer.rating else {
            continue;
        };
        let key = match grouping {
            CsatGrouping::Assignee => answer.assignee_id,
            CsatGrouping::Team => answer.team_id,
            CsatGrouping::Category => Some(answer.category),
            CsatGrouping::Month => Some(format!(
                "{:04}-{:02}",
                answer.answered_at.year(),
                answer.answered_at.month()
            )),
        };
        total.add(rating);
        groups.entry(key).or_default().add(rating);
    }
    Ok(CsatReport {
        total,
        groups: groups.into_iter().collect(),
    })
}

/// The last answered survey of a company's cases, for the 360.
pub fn last_of_company(
    conn: &mut DbConnection,
    company_id: &str,
) -> Result<Option<(i64, String, NaiveDateTime)>, StoreError> {
    let row: Option<(Option<i64>, String, Option<NaiveDateTime>)> = case_surveys::table
        .inner_join(cases::table)
        .filter(cases::company_id.eq(company_id))
        .filter(case_surveys::answered_at.is_not_null())
        .order((
            case_surveys::answered_at.desc(),
            case_surveys::case_id.desc(),
        ))
        .select((
            case_surveys::rating,
            case_surveys::case_id,
            case_surveys::answered_at,
        ))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(rating, case_id, at)| Some((rating?, case_id, at?))))
}
