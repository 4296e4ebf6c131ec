//! `/v1/cases/csat-report` and `/v1/cases/report`: satisfaction and complaints over a period.

use std::collections::BTreeMap;

use actix_web::{get, web};
use chrono::NaiveDate;
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::platform::time::day;
use crm_domain::service::reports::{CaseReport as Figures, CsatFigures};
use crm_store::service::csat::{csat_report, CsatGrouping};
use crm_store::service::reports::complaint_report;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::ApiQuery;
use crate::platform::state::AppState;

/// Ratings summed up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Csat {
    pub responses: i64,
    /// The mean rating to two decimals, half away from zero, such as `"3.67"`; null without
    /// responses.
    pub average_rating: Option<String>,
    /// The share of 4s and 5s, in basis points.
    pub csat_bp: Option<i64>,
    /// How many of each rating, `"1"` to `"5"`.
    pub distribution: BTreeMap<String, i64>,
}

impl From<CsatFigures> for Csat {
    fn from(f: CsatFigures) -> Self {
        Csat {
            responses: f.responses,
            average_rating: f.average_rating,
            csat_bp: f.csat_bp,
            distribution: f
                .distribution
                .iter()
                .enumerate()
                .map(|(i, n)| ((i + 1).to_string(), *n))
                .collect(),
        }
    }
}

/// One group's ratings.
#[derive(Debug, Serialize, ToSchema)]
pub struct CsatGroup {
    /// The assignee's or team's id, the category, or the month (`YYYY-MM`); null for cases with
    /// no assignee or team.
    pub key: Option<String>,
    #[serde(flatten)]
    pub figures: Csat,
}

/// Satisfaction over a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct CsatReport {
    pub total: Csat,
    pub groups: Vec<CsatGroup>,
}

/// How to group the CSAT report.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CsatGroupBy {
    Assignee,
    Team,
    Category,
    Month,
}

/// The period and the grouping.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CsatReportQuery {
    /// First day answered, inclusive (UTC).
    pub from: NaiveDate,
    /// Last day answered, inclusive.
    pub to: NaiveDate,
    /// Default `month`.
    #[param(inline)]
    pub group_by: Option<CsatGroupBy>,
}

fn check_period(from: NaiveDate, to: NaiveDate) -> Result<(), ApiError> {
    day("from", from)?;
    day("to", to)?;
    if to < from || (to - from).num_days() > 3660 {
        return Err(ApiError::validation(
            "to",
            "must be on or after from, within ten years",
        ));
    }
    Ok(())
}

#[utoipa::path(tag = "cases", operation_id = "getCsatReport", summary = "Satisfaction by assignee, team, category or month",
    description = "Over surveys answered in the period.",
    params(CsatReportQuery),
    responses((status = 200, description = "The report", body = CsatReport)))]
#[get("/cases/csat-report")]
pub async fn get_csat_report(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<CsatReportQuery>,
) -> Result<web::Json<CsatReport>, ApiError> {
    principal.authorize(Resource::Cases, Access::Read)?;
    check_period(query.from, query.to)?;
    let grouping = match query.group_by.unwrap_or(CsatGroupBy::Month) {
        CsatGroupBy::Assignee => CsatGrouping::Assignee,
        CsatGroupBy::Team => CsatGrouping::Team,
        CsatGroupBy::Category => CsatGrouping::Category,
        CsatGroupBy::Month => CsatGrouping::Month,
    };
    let report = state
        .db
        .read(move |conn| csat_report(conn, query.from, query.to, grouping))
        .await?;
    Ok(web::Json(CsatReport {
        total: report.total.into(),
        groups: report
            .groups
            .into_iter()
            .map(|(key, figures)| CsatGroup {
                key,
                figures: figures.into(),
            })
            .collect(),
    }))
}

/// How long resolved and closed cases took, from creation to their last resolution.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeToResolve {
    pub count: i64,
    /// Nearest rank.
    pub p50_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
}

/// One month's cases.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthCases {
    /// `YYYY-MM`.
    pub month: String,
    pub cases: i64,
    pub complaints: i64,
}

/// Cases and complaints over a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseReport {
    pub cases: i64,
    pub complaints: i64,
    pub by_category: BTreeMap<String, i64>,
    pub by_priority: BTreeMap<String, i64>,
    pub by_channel: BTreeMap<String, i64>,
    /// Complaints by root cause, with the returns' categories.
    pub by_root_cause: BTreeMap<String, i64>,
    pub time_to_resolve: TimeToResolve,
    /// Targets met ÷ targets settled (met, or missed: breached or past due), in basis points.
    pub first_response_compliance_bp: Option<i64>,
    pub resolution_compliance_bp: Option<i64>,
    pub by_month: Vec<MonthCases>,
}

impl From<Figures> for CaseReport {
    fn from(f: Figures) -> Self {
        CaseReport {
            cases: f.cases,
            complaints: f.complaints,
            by_category: f.by_category,
            by_priority: f.by_priority,
            by_channel: f.by_channel,
            by_root_cause: f.by_root_cause,
            time_to_resolve: TimeToResolve {
                count: f.resolved_count,
                p50_seconds: f.p50_seconds,
                p90_seconds: f.p90_seconds,
            },
            first_response_compliance_bp: f.first_response_compliance_bp,
            resolution_compliance_bp: f.resolution_compliance_bp,
            by_month: f
                .by_month
                .into_iter()
                .map(|(month, m)| MonthCases {
                    month,
                    cases: m.cases,
                    complaints: m.complaints,
                })
                .collect(),
        }
    }
}

/// The period, by the cases' creation.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseReportQuery {
    /// First day, inclusive (UTC).
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
}

#[utoipa::path(tag = "cases", operation_id = "getCaseReport", summary = "Complaints and cases over a period",
    description = "Over cases created in the period, as of now.",
    params(CaseReportQuery),
    responses((status = 200, description = "The report", body = CaseReport)))]
#[get("/cases/report")]
pub async fn get_case_report(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<CaseReportQuery>,
) -> Result<web::Json<CaseReport>, ApiError> {
    principal.authorize(Resource::Cases, Access::Read)?;
    check_period(query.from, query.to)?;
    let clock = state.settings.clock;
    let report = state
        .db
        .read(move |conn| complaint_report(conn, clock, query.from, query.to))
        .await?;
    Ok(web::Json(report.into()))
}

/// The routes under `/cases`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(get_csat_report).service(get_case_report);
}
