//! `/v1/companies/{id}/last-prices` and `/v1/contacts/{id}/last-prices`.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_store::sales::last_prices::{self as store, Customer, PricePoint};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::ApiQuery;
use crate::platform::money::Money;
use crate::platform::respond::utc;
use crate::platform::state::AppState;

/// A price a customer was given, and where.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastPrice {
    /// The unit price.
    pub unit_price: Money,
    /// The discount given on it, in basis points.
    pub discount_bp: i64,
    /// When: the quote's sending, or the order's date.
    pub at: DateTime<Utc>,
    /// The quote or order id.
    pub document_id: String,
    /// The quote number, or the order's external id.
    pub document_number: String,
}

/// The last prices of a product for one customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastPrices {
    /// The product asked about.
    pub product_id: String,
    /// The price on the most recent quote sent to the customer; null if never quoted.
    pub last_quoted: Option<LastPrice>,
    /// The price on the most recent order that was not cancelled; null if never sold.
    pub last_sold: Option<LastPrice>,
}

/// Which product.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LastPricesQuery {
    /// The product.
    pub product_id: String,
}

fn point(p: PricePoint) -> LastPrice {
    LastPrice {
        unit_price: Money::new(p.unit_price_minor, &p.currency),
        discount_bp: p.discount_bp,
        at: utc(p.at),
        document_id: p.document_id,
        document_number: p.document_ref,
    }
}

/// Both endpoints say what a customer was last offered, whether a company or a contact.
const DESCRIPTION: &str = "What to quote from, so that a customer's prices stay consistent.";

async fn last_prices(
    state: &AppState,
    principal: &Principal,
    customer: Customer,
    query: LastPricesQuery,
) -> Result<web::Json<LastPrices>, ApiError> {
    principal.authorize(Resource::Quotes, Access::Read)?;
    principal.authorize(Resource::Orders, Access::Read)?;
    let product_id = query.product_id;
    let product = product_id.clone();
    let (quoted, sold) = state
        .db
        .read(move |conn| {
            match &customer {
                Customer::Company(id) => crm_store::parties::companies::ensure_exists(conn, id)?,
                Customer::Contact(id) => crm_store::parties::contacts::get(conn, id).map(|_| ())?,
            }
            crm_store::sales::products::get(conn, &product).map_err(|_| {
                crm_store::StoreError::from(crm_domain::Violation::new(
                    "product_id",
                    "no such product",
                ))
            })?;
            Ok((
                store::last_quoted(conn, &customer, &product)?,
                store::last_sold(conn, &customer, &product)?,
            ))
        })
        .await?;
    Ok(web::Json(LastPrices {
        product_id,
        last_quoted: quoted.map(point),
        last_sold: sold.map(point),
    }))
}

#[utoipa::path(tag = "companies", operation_id = "getCompanyLastPrices", summary = "Last prices quoted and sold to a company",
    description = DESCRIPTION,
    params(("id" = String, Path, description = "Company id"), LastPricesQuery),
    responses((status = 200, description = "The last prices", body = LastPrices)))]
#[get("/companies/{id}/last-prices")]
pub async fn company_last_prices(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(query): ApiQuery<LastPricesQuery>,
) -> Result<web::Json<LastPrices>, ApiError> {
    let customer = Customer::Company(id.into_inner());
    last_prices(&state, &principal, customer, query).await
}

#[utoipa::path(tag = "contacts", operation_id = "getContactLastPrices", summary = "Last prices quoted and sold to a contact",
    description = DESCRIPTION,
    params(("id" = String, Path, description = "Contact id"), LastPricesQuery),
    responses((status = 200, description = "The last prices", body = LastPrices)))]
#[get("/contacts/{id}/last-prices")]
pub async fn contact_last_prices(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(query): ApiQuery<LastPricesQuery>,
) -> Result<web::Json<LastPrices>, ApiError> {
    let customer = Customer::Contact(id.into_inner());
    last_prices(&state, &principal, customer, query).await
}

/// The routes under `/contacts`.
pub fn contacts_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(contact_last_prices);
}

/// The routes under `/companies`.
pub fn companies_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(company_last_prices);
}
