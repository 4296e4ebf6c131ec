//! `/v1/settings`: our legal name, tax id and address (the issuer on every invoice), and the
//! commission rates.

use actix_web::{get, patch, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_store::platform::settings as store;
use crm_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::address::apply_address;
use crate::platform::address::BillingAddress;
use crate::platform::address::BillingAddressUpdate;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, IfMatch};
use crate::platform::fields::{patch, Checker, SHORT};
use crate::platform::respond::{utc, versioned};
use crate::platform::state::AppState;

/// Our own company's fiscal data. Issued invoices keep the version they were issued with.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanySettings {
    /// Registered legal name; required to issue invoices.
    pub legal_name: Option<String>,
    /// Tax identifier; required to issue invoices.
    pub tax_id: Option<String>,
    /// Registered address.
    pub address: BillingAddress,
    /// Contact email.
    pub email: Option<String>,
    /// Contact phone (E.164).
    pub phone: Option<String>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Changes, as a JSON Merge Patch.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"legal_name": "Nuestra Empresa SL", "tax_id": "ESB00000000", "address": {"city": "Madrid", "country": "ES"}}))]
pub struct CompanySettingsUpdate {
    /// Registered legal name.
    #[serde(default, deserialize_with = "patch")]
    pub legal_name: Option<Option<String>>,
    /// Tax identifier.
    #[serde(default, deserialize_with = "patch")]
    pub tax_id: Option<Option<String>>,
    /// Registered address; merged field by field.
    #[serde(default, deserialize_with = "patch")]
    pub address: Option<Option<BillingAddressUpdate>>,
    /// Contact email.
    #[serde(default, deserialize_with = "patch")]
    pub email: Option<Option<String>>,
    /// Contact phone.
    #[serde(default, deserialize_with = "patch")]
    pub phone: Option<Option<String>>,
}

fn to_dto(s: store::CompanySettings) -> CompanySettings {
    let a = s.fields.address;
    CompanySettings {
        legal_name: s.fields.legal_name,
        tax_id: s.fields.tax_id,
        address: BillingAddress {
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
        },
        email: s.fields.email,
        phone: s.fields.phone,
        version: s.version,
        updated_at: utc(s.updated_at),
    }
}

#[utoipa::path(tag = "settings", operation_id = "getCompanySettings", summary = "Our company's fiscal data",
    responses((status = 200, description = "The settings", body = CompanySettings, headers(("ETag" = String, description = "Its version")))))]
#[get("/settings/company")]
pub async fn get_company_settings(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Settings, Access::Read)?;
    let settings = state.db.read(store::get).await?;
    Ok(versioned(settings.version, &to_dto(settings)))
}

#[utoipa::path(tag = "settings", operation_id = "updateCompanySettings", summary = "Change our company's fiscal data",
    description = "Applies to invoices issued from now on; issued ones keep their snapshot.",
    request_body(content = CompanySettingsUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The settings", body = CompanySettings, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/settings/company")]
pub async fn update_company_settings(
    state: web::Data<AppState>,
    principal: Principal,
    if_match: IfMatch,
    ApiJson(body): ApiJson<CompanySettingsUpdate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Settings, Access::Write)?;
    let region = state.settings.default_phone_region;
    let settings = state
        .db
        .write(move |conn| {
            store::update(conn, if_match.0, |f| {
                let mut c = Checker::default();
                if let Some(v) = body.legal_name {
                    f.legal_name = c.optional("legal_name", v.as_deref(), SHORT);
                }
                if let Some(v) = body.tax_id {
                    f.tax_id = c.optional("tax_id", v.as_deref(), 50);
                }
                if let Some(a) = body.address {
                    apply_address(&mut c, &mut f.address, a.unwrap_or_default(), "address");
                }
                if let Some(v) = body.email {
                    f.email = c.email("email", v.as_deref());
                }
                if let Some(v) = body.phone {
                    f.phone = c.phone("phone", v.as_deref(), region);
                }
                c.finish().map_err(StoreError::from)
            })
        })
        .await?;
    Ok(versioned(settings.version, &to_dto(settings)))
}

/// Commission per product profit tier, in basis points of net sales (500 = 5%).
#[derive(Debug, Serialize, ToSchema)]
pub struct CommissionRates {
    /// Rate on products of tier A.
    pub a_bp: i64,
    /// Rate on products of tier B.
    pub b_bp: i64,
    /// Rate on products of tier C and on lines without a catalog product.
    pub c_bp: i64,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The new rates, all three.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"a_bp": 500, "b_bp": 300, "c_bp": 100}))]
pub struct CommissionRatesInput {
    /// Rate on tier A, 0 to 10000.
    #[schema(minimum = 0, maximum = 10000)]
    pub a_bp: i64,
    /// Rate on tier B, 0 to 10000.
    #[schema(minimum = 0, maximum = 10000)]
    pub b_bp: i64,
    /// Rate on tier C, 0 to 10000.
    #[schema(minimum = 0, maximum = 10000)]
    pub c_bp: i64,
}

fn rates_dto(stored: crm_store::analytics::commission_rates::StoredRates) -> CommissionRates {
    CommissionRates {
        a_bp: stored.rates.a_bp,
        b_bp: stored.rates.b_bp,
        c_bp: stored.rates.c_bp,
        version: stored.version,
        updated_at: utc(stored.updated_at),
    }
}

#[utoipa::path(tag = "settings", operation_id = "getCommissionRates", summary = "Commission rates per product profit tier",
    responses((status = 200, description = "The rates", body = CommissionRates, headers(("ETag" = String, description = "Its version")))))]
#[get("/settings/commission-rates")]
pub async fn get_commission_rates(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Settings, Access::Read)?;
    let stored = state
        .db
        .read(crm_store::analytics::commission_rates::get)
        .await?;
    Ok(versioned(stored.version, &rates_dto(stored)))
}

#[utoipa::path(tag = "settings", operation_id = "setCommissionRates", summary = "Replace the commission rates",
    description = "Admins. Applies to every commission report from now on, past periods included: commissions are computed, not stored.",
    request_body = CommissionRatesInput,
    responses((status = 200, description = "The rates", body = CommissionRates, headers(("ETag" = String, description = "Its new version")))))]
#[put("/settings/commission-rates")]
pub async fn set_commission_rates(
    state: web::Data<AppState>,
    principal: Principal,
    if_match: IfMatch,
    ApiJson(body): ApiJson<CommissionRatesInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Settings, Access::Write)?;
    let rates = crm_domain::analytics::profit::CommissionRates {
        a_bp: body.a_bp,
        b_bp: body.b_bp,
        c_bp: body.c_bp,
    };
    let stored = state
        .db
        .write(move |conn| crm_store::analytics::commission_rates::set(conn, if_match.0, rates))
        .await?;
    Ok(versioned(stored.version, &rates_dto(stored)))
}
