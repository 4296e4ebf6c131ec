//! `/v1/exchange-rates`: rates into the base currency, by date.

use actix_web::{delete, get, put, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::platform::exchange::Rate;
use crm_domain::platform::money::Currency;
use crm_store::analytics::years;
use crm_store::platform::exchange_rates as store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, PagedQuery};
use crate::platform::fields::Checker;
use crate::platform::pagination::{fixed_order, respond, ListResponse, PageQuery};
use crate::platform::respond::utc;
use crate::platform::state::AppState;

const SORT: &str = "-rate_date";

/// A rate: how many units of the base currency one unit of `currency` was worth on `rate_date`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExchangeRate {
    /// ISO 4217 currency.
    pub currency: String,
    /// The base currency.
    pub base_currency: String,
    /// The day the rate applies from.
    pub rate_date: NaiveDate,
    /// Exact decimal string, up to 10 decimals.
    #[schema(example = "0.9213")]
    pub rate: String,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

/// A rate to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"rate": "0.9213"}))]
pub struct ExchangeRatePut {
    /// Units of the base currency per unit of the currency, as a decimal string.
    pub rate: String,
}

fn to_dto(r: store::ExchangeRate, base: Currency) -> ExchangeRate {
    ExchangeRate {
        currency: r.currency,
        base_currency: base.to_string(),
        rate_date: r.rate_date,
        rate: r.rate,
        updated_at: utc(r.updated_at),
    }
}

fn checked_currency(code: &str, base: Currency) -> Result<String, ApiError> {
    let mut c = Checker::default();
    let currency = c.currency("currency", code);
    c.finish()?;
    let currency = currency.unwrap_or_default();
    if currency == base.as_str() {
        return Err(ApiError::validation(
            "currency",
            "is the base currency, whose rate is always 1",
        ));
    }
    Ok(currency)
}

/// Filters and paging for the rate list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExchangeRateListQuery {
    /// Only this currency.
    pub currency: Option<String>,
}

#[utoipa::path(tag = "exchange-rates", operation_id = "listExchangeRates", summary = "List exchange rates",
    description = "Newest date first.",
    params(ExchangeRateListQuery, PageQuery),
    responses((status = 200, description = "A page of rates", body = ListResponse<ExchangeRate>)))]
#[get("/exchange-rates")]
pub async fn list_exchange_rates(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<ExchangeRateListQuery>,
) -> Result<web::Json<ListResponse<ExchangeRate>>, ApiError> {
    principal.authorize(Resource::ExchangeRates, Access::Read)?;
    let base = state.settings.base_currency;
    let page = fixed_order(SORT, &paging)?;
    let currency = query
        .currency
        .map(|code| code.parse::<crm_domain::platform::money::Currency>())
        .transpose()?
        .map(|code| code.to_string());
    let result = state
        .db
        .read(move |conn| store::list(conn, currency.as_deref(), &page))
        .await?;
    Ok(web::Json(respond(result, SORT, |r| to_dto(r, base))))
}

#[utoipa::path(tag = "exchange-rates", operation_id = "putExchangeRate", summary = "Set an exchange rate",
    description = "Sets the rate of a currency for a day: `201` when new, `200` when replaced. Conversions use the latest rate on or before the day they need.",
    params(("currency" = String, Path, description = "ISO 4217 currency"), ("date" = NaiveDate, Path, description = "The day, YYYY-MM-DD")),
    request_body = ExchangeRatePut,
    responses(
        (status = 201, description = "Set", body = ExchangeRate),
        (status = 200, description = "Replaced", body = ExchangeRate)))]
#[put("/exchange-rates/{currency}/{date}")]
pub async fn put_exchange_rate(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, NaiveDate)>,
    ApiJson(body): ApiJson<ExchangeRatePut>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::ExchangeRates, Access::Write)?;
    let base = state.settings.base_currency;
    let (code, date) = path.into_inner();
    let currency = checked_currency(&code, base)?;
    let rate = Rate::parse("rate", &body.rate)?.to_string();
    let (stored, created) = state
        .db
        .write(move |conn| years::put_rate(conn, &currency, date, &rate))
        .await?;
    let body = to_dto(stored, base);
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

#[utoipa::path(tag = "exchange-rates", operation_id = "deleteExchangeRate", summary = "Delete an exchange rate",
    params(("currency" = String, Path, description = "ISO 4217 currency"), ("date" = NaiveDate, Path, description = "The day, YYYY-MM-DD")),
    responses((status = 204, description = "Deleted")))]
#[delete("/exchange-rates/{currency}/{date}")]
pub async fn delete_exchange_rate(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, NaiveDate)>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::ExchangeRates, Access::Write)?;
    let (currency, date) = path.into_inner();
    state
        .db
        .write(move |conn| years::delete_rate(conn, &currency, date))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The routes under `/exchange-rates`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_exchange_rates)
        .service(put_exchange_rate)
        .service(delete_exchange_rate);
}
