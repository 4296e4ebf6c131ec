//! `/v1/companies/{id}/overview` and `/v1/contacts/{id}/overview`: the customer 360 view, one
//! call that answers the call centre. Staff only.

use actix_web::{get, web};
use chrono::{Datelike, Months, NaiveDate, Utc};
use crm_domain::access::permissions::{Access, Reach, Resource};
use crm_domain::billing::invoices::InvoiceStatus;
use crm_domain::billing::returns::ReturnStatus;
use crm_domain::sales::quotes::QuoteStatus;
use crm_domain::service::cases::{CasePriority, CaseStatus};
use crm_store::parties::interactions::{InteractionFilter, InteractionSort};
use crm_store::platform::pagination::PageRequest;
use serde::Serialize;
use utoipa::ToSchema;

use crate::parties::companies::Company;
use crate::parties::contacts::Contact;
use crate::parties::interactions::Interaction;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::money::Money;
use crate::platform::state::AppState;
use crm_domain::billing::invoices::{outstanding_minor, receivables};

/// The last 12 months, in the base currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecentProfit {
    /// Net sales.
    pub revenue: Money,
    /// Profit contribution.
    pub gross_profit: Money,
    /// Orders placed.
    pub orders: i64,
    /// Revenue per order.
    pub average_order_value: Option<Money>,
}

/// A quote awaiting the customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteSummary {
    /// Quote id.
    pub id: String,
    /// Its number.
    pub number: String,
    /// Its status.
    pub status: QuoteStatus,
    /// Its total.
    pub total: Money,
    /// Last day it can be accepted.
    pub valid_until: Option<NaiveDate>,
}

/// A recent order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummary {
    /// Order id.
    pub id: String,
    /// Where it came from.
    pub channel: String,
    /// Its reference there.
    pub external_id: String,
    /// The number its shop shows the customer (`#1001`), for orders a shop connection pushed.
    pub shop_number: Option<String>,
    /// The shop connection that pushed it.
    pub connection_id: Option<String>,
    /// Its status.
    pub status: crm_domain::sales::orders::OrderStatus,
    /// When it was placed.
    pub ordered_at: chrono::DateTime<Utc>,
    /// Its total.
    pub total: Money,
}

/// A return still open.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnSummary {
    /// Return id.
    pub id: String,
    /// Its number.
    pub number: String,
    /// Its status.
    pub status: ReturnStatus,
    /// When it was opened.
    pub created_at: chrono::DateTime<Utc>,
}

/// What the customer owes, per currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receivables {
    /// Still owed on issued invoices.
    pub unpaid: Money,
    /// Of which past due.
    pub overdue: Money,
}

/// The customer 360 view.
#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    /// The company, with its preferences and tier.
    pub company: Option<Company>,
    /// The contact, for a contact's overview.
    pub contact: Option<Contact>,
    /// The last 12 months; null when an exchange rate is missing (see `profit_unavailable`).
    pub last_12_months: Option<RecentProfit>,
    /// Why `last_12_months` is null.
    pub profit_unavailable: Option<String>,
    /// Quotes sent and awaiting an answer.
    pub open_quotes: Vec<QuoteSummary>,
    /// The five latest orders.
    pub recent_orders: Vec<OrderSummary>,
    /// Returns not yet resolved.
    pub open_returns: Vec<ReturnSummary>,
    /// Unpaid and overdue invoice totals, per currency.
    pub receivables: Vec<Receivables>,
    /// The five latest interactions that happened.
    pub last_interactions: Vec<Interaction>,
    /// The next planned interaction.
    pub next_interaction: Option<Interaction>,
    /// Cases new, open or pending.
    pub open_cases_count: i64,
    /// The ten newest of them.
    pub open_cases: Vec<CaseSummary>,
    /// The company's last satisfaction rating.
    pub last_csat: Option<LastCsat>,
    /// Tasks still open about the company, or about the contact for a contact's overview.
    pub open_tasks: i64,
    /// The company's next planned visit, the earliest of its visit plans.
    pub next_visit: Option<NaiveDate>,
    /// What the newest CLV fit says of the company, as segments read it; null before the
    /// maintenance loop first computed its figures or without a fit.
    pub churn: Option<ChurnOutlook>,
}

/// A company's churn outlook, from `customer_facts`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChurnOutlook {
    /// P(alive), from 0 to 1.
    pub probability_alive: f64,
    /// (1 − P(alive)) × the historical value, in the base currency.
    pub value_at_risk: Money,
    /// The day the figures were computed for.
    pub as_of: NaiveDate,
}

/// An open case.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSummary {
    pub id: String,
    pub number: String,
    pub subject: String,
    pub status: CaseStatus,
    pub priority: CasePriority,
    pub created_at: chrono::DateTime<Utc>,
}

/// A satisfaction rating.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastCsat {
    /// 1 to 5.
    pub rating: i64,
    pub case_id: String,
    pub answered_at: chrono::DateTime<Utc>,
}

fn page<S>(sort: S, descending: bool, limit: i64) -> PageRequest<S> {
    PageRequest {
        sort,
        descending,
        limit,
        after: None,
    }
}

async fn overview(
    state: &AppState,
    principal: &Principal,
    company_id: Option<String>,
    contact_id: Option<String>,
) -> Result<Overview, ApiError> {
    for resource in [
        Resource::Companies,
        Resource::Contacts,
        Resource::Quotes,
        Resource::Orders,
        Resource::Returns,
        Resource::Invoices,
        Resource::Interactions,
        Resource::Analytics,
        Resource::Cases,
    ] {
        if principal.authorize(resource, Access::Read)? != Reach::All {
            return Err(ApiError::Forbidden("the overview is for staff".into()));
        }
    }
    let base = state.settings.base_currency;
    let clock = state.settings.clock;
    let today = Utc::now().date_naive();
    let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    let from = (this_month - Months::new(11)).format("%Y-%m").to_string();
    let to = this_month.format("%Y-%m").to_string();
    let data = state
        .db
        .read(move |conn| {
            let contact = contact_id
                .as_deref()
                .map(|id| crm_store::parties::contacts::get(conn, id))
                .transpose()?;
            let company_id =
                company_id.or_else(|| contact.as_ref().and_then(|c| c.fields.company_id.clone()));
            let company = company_id
                .as_deref()
                .map(|id| crm_store::parties::companies::get(conn, id, Reach::All, None))
                .transpose()?;
            let profit = company_id
                .as_ref()
                .map(|id| crm_store::analytics::profit::monthly(conn, id, &from, &to, base));
            let quotes = crm_store::sales::quotes::list(
                conn,
                &crm_store::sales::quotes::QuoteFilter {
                    status: Some(QuoteStatus::Sent),
                    company_id: company_id.clone().filter(|_| contact_id.is_none()),
                    contact_id: contact_id.clone(),
                    ..Default::default()
                },
                &page((), true, 20),
            )?;
            let orders = crm_store::sales::orders::list(
                conn,
                &crm_store::sales::orders::OrderFilter {
                    company_id: company_id.clone().filter(|_| contact_id.is_none()),
                    contact_id: contact_id.clone(),
                    ..Default::default()
                },
                &crm_store::platform::query::ListQuery {
                    filter: None,
                    sort: "-ordered_at".to_owned(),
                    after: None,
                    limit: 5,
                    now: crm_store::now(),
                },
            )?;
            let returns = match &company_id {
                Some(id) => {
                    crm_store::billing::returns::list(
                        conn,
                        &crm_store::billing::returns::ReturnFilter {
                            company_id: Some(id.clone()),
                            ..Default::default()
                        },
                        &page((), true, 50),
                    )?
                    .items
                }
                None => Vec::new(),
            };
            let invoices = match &company_id {
                Some(id) => {
                    crm_store::billing::invoices::list(
                        conn,
                        &crm_store::billing::invoices::InvoiceFilter {
                            company_id: Some(id.clone()),
                            stored_status: Some(InvoiceStatus::Issued),
                            ..Default::default()
                        },
                        &page((), true, 200),
                    )?
                    .items
                }
                None => Vec::new(),
            };
            let interaction_filter = InteractionFilter {
                company_id: company_id.clone().filter(|_| contact_id.is_none()),
                contact_id: contact_id.clone(),
                occurred_only: true,
                ..Default::default()
            };
            let last = crm_store::parties::interactions::list(
                conn,
                &interaction_filter,
                &page(InteractionSort::At, true, 5),
            )?;
            let upcoming = InteractionFilter {
                occurred_only: false,
                upcoming: true,
                from: Some(Utc::now().naive_utc()),
                ..interaction_filter
            };
            let next = crm_store::parties::interactions::list(
                conn,
                &upcoming,
                &page(InteractionSort::At, false, 1),
            )?;
            let cases = crm_store::service::cases::open_cases(
                conn,
                company_id.as_deref(),
                contact_id.as_deref(),
                10,
            )?;
            let last_csat = company_id
                .as_deref()
                .map(|id| crm_store::service::csat::last_of_company(conn, id))
                .transpose()?
                .flatten();
            let engagement = (
                crm_store::engagement::tasks::open_count(
                    conn,
                    company_id.as_deref().filter(|_| contact_id.is_none()),
                    contact_id.as_deref(),
                )?,
                company_id
                    .as_deref()
                    .map(|id| {
                        let now = clock.now(conn)?;
                        crm_store::engagement::plans::next_visit(conn, id, now)
                    })
                    .transpose()?
                    .flatten(),
                company_id
                    .as_deref()
                    .map(|id| crm_store::analytics::facts::of_company(conn, id))
                    .transpose()?
                    .flatten(),
            );
            Ok((
                contact, company, profit, quotes, orders, returns, invoices, last, next, cases,
                last_csat, engagement,
            ))
        })
        .await?;
    let (
        contact,
        company,
        profit,
        quotes,
        orders,
        returns,
        invoices,
        last,
        next,
        (open_cases_count, open_cases),
        last_csat,
        (open_tasks, next_visit, facts),
    ) = data;
    let churn = facts.and_then(|f| {
        Some(ChurnOutlook {
            probability_alive: f.probability_alive_bp? as f64 / 10_000.0,
            value_at_risk: Money::new(f.value_at_risk_minor?, base.as_str()),
            as_of: f.as_of,
        })
    });
    let currency = base.to_string();
    let (last_12_months, profit_unavailable) = match profit {
        Some(Ok(months)) => match crm_domain::analytics::profit::Figures::total(months.values()) {
            Ok(total) => {
                let recent = RecentProfit {
                    revenue: Money::new(total.revenue_minor, &currency),
                    gross_profit: Money::new(total.gross_profit_minor(), &currency),
                    orders: total.orders,
                    average_order_value: total
                        .average_order_value_minor()
                        .map(|a| Money::new(a, &currency)),
                };
                (Some(recent), None)
            }
            Err(overflow) => (
                None,
                Some(format!("{}: {}", overflow.field, overflow.message)),
            ),
        },
        Some(Err(crm_store::StoreError::Invalid(v))) => (None, Some(v.to_string())),
        Some(Err(e)) => return Err(e.into()),
        None => (None, Some("no company".into())),
    };
    let receivables = receivables(
        invoices.iter().filter(|i| !i.kind.is_credit()).map(|i| {
            let owed = outstanding_minor(i.totals.total_minor, i.credited_minor, i.paid_minor);
            (i.currency.as_str(), owed, i.due_date)
        }),
        today,
    )?;
    Ok(Overview {
        company: company.map(Company::from),
        contact: contact.map(Contact::from),
        last_12_months,
        profit_unavailable,
        open_quotes: quotes
            .items
            .into_iter()
            .map(|q| QuoteSummary {
                total: Money::new(q.totals.total_minor, &q.fields.currency),
                id: q.id,
                number: q.number,
                status: q.status,
                valid_until: q.fields.valid_until,
            })
            .collect(),
        recent_orders: orders
            .items
            .into_iter()
            .map(|o| OrderSummary {
                total: Money::new(o.totals.total_minor, &o.currency),
                id: o.id,
                channel: o.channel,
                external_id: o.external_id,
                shop_number: o.origin.shop_number,
                connection_id: o.origin.connection_id,
                status: o.status,
                ordered_at: o.ordered_at.and_utc(),
            })
            .collect(),
        open_returns: returns
            .into_iter()
            .filter(|r| {
                matches!(
                    r.status,
                    ReturnStatus::Requested | ReturnStatus::Approved | ReturnStatus::Received
                )
            })
            .map(|r| ReturnSummary {
                id: r.id,
                number: r.number,
                status: r.status,
                created_at: r.created_at.and_utc(),
            })
            .collect(),
        receivables: receivables
            .into_iter()
            .map(|(c, owed)| Receivables {
                unpaid: Money::new(owed.unpaid_minor, &c),
                overdue: Money::new(owed.overdue_minor, &c),
            })
            .collect(),
        last_interactions: last.items.into_iter().map(Interaction::from).collect(),
        next_interaction: next.items.into_iter().next().map(Interaction::from),
        open_cases_count,
        open_cases: open_cases
            .into_iter()
            .map(|c| CaseSummary {
                id: c.id,
                number: c.number,
                subject: c.subject,
                status: c.status,
                priority: c.priority,
                created_at: c.created_at.and_utc(),
            })
            .collect(),
        last_csat: last_csat.map(|(rating, case_id, at)| LastCsat {
            rating,
            case_id,
            answered_at: at.and_utc(),
        }),
        open_tasks,
        next_visit,
        churn,
    })
}

#[utoipa::path(tag = "companies", operation_id = "getCompanyOverview", summary = "A company's 360 view",
    description = "Who they are, their tier and preferences, the last 12 months of profit, open quotes, recent orders, open returns, unpaid and overdue invoices, the last interactions and the next one planned, open support cases and the last satisfaction rating, open tasks, the next planned visit and the churn outlook. Staff only.",
    params(("id" = String, Path, description = "Company id")),
    responses((status = 200, description = "The overview", body = Overview)))]
#[get("/companies/{id}/overview")]
pub async fn company_overview(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<Overview>, ApiError> {
    Ok(web::Json(
        overview(&state, &principal, Some(id.into_inner()), None).await?,
    ))
}

#[utoipa::path(tag = "contacts", operation_id = "getContactOverview", summary = "A contact's 360 view",
    description = "The contact, its company's tier and figures, and the contact's own quotes, orders and interactions. Staff only.",
    params(("id" = String, Path, description = "Contact id")),
    responses((status = 200, description = "The overview", body = Overview)))]
#[get("/contacts/{id}/overview")]
pub async fn contact_overview(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<Overview>, ApiError> {
    Ok(web::Json(
        overview(&state, &principal, None, Some(id.into_inner())).await?,
    ))
}

/// The routes under `/companies`.
pub fn companies_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(company_overview);
}

/// The routes under `/contacts`.
pub fn contacts_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(contact_overview);
}
