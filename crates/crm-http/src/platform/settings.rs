//! `/v1/settings/company`: our legal name, tax id and address (the issuer on every invoice).

use actix_web::{get, patch, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::platform::phone::PhoneRegion;
use crm_domain::platform::time::time_zone;
use crm_domain::Violations;
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
    /// The IANA time zone whose calendar dates and numbers our invoices (default
    /// `Europe/Madrid`): an invoice issued at 00:30 in Madrid on 1 January carries the new year.
    pub fiscal_time_zone: String,
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
    /// The IANA time zone whose calendar dates our invoices, such as `Europe/Madrid`.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub fiscal_time_zone: Option<Option<String>>,
}

impl CompanySettingsUpdate {
    /// Merges the changes into the stored fields, checking each.
    fn apply(
        self,
        f: &mut store::CompanySettingsFields,
        region: PhoneRegion,
    ) -> Result<(), Violations> {
        let mut c = Checker::default();
        if let Some(v) = self.legal_name {
            f.legal_name = c.optional("legal_name", v.as_deref(), SHORT);
        }
        if let Some(v) = self.tax_id {
            f.tax_id = c.optional("tax_id", v.as_deref(), 50);
        }
        if let Some(a) = self.address {
            apply_address(&mut c, &mut f.address, a.unwrap_or_default(), "address");
        }
        if let Some(v) = self.email {
            f.email = c.email("email", v.as_deref());
        }
        if let Some(v) = self.phone {
            f.phone = c.phone("phone", v.as_deref(), region);
        }
        match self.fiscal_time_zone {
            Some(Some(zone)) => {
                if let Some(zone) = c
                    .violations
                    .check(time_zone("fiscal_time_zone", &zone).map(|z| z.name()))
                {
                    f.fiscal_time_zone = zone.to_owned();
                }
            }
            Some(None) => c.not_null("fiscal_time_zone"),
            None => {}
        }
        c.finish()
    }
}

fn to_dto(s: store::CompanySettings) -> CompanySettings {
    CompanySettings {
        legal_name: s.fields.legal_name,
        tax_id: s.fields.tax_id,
        address: BillingAddress::from(s.fields.address),
        email: s.fields.email,
        phone: s.fields.phone,
        fiscal_time_zone: s.fields.fiscal_time_zone,
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
            store::update(conn, if_match.0, |fields| {
                body.apply(fields, region).map_err(StoreError::from)
            })
        })
        .await?;
    Ok(versioned(settings.version, &to_dto(settings)))
}

/// The routes under `/settings`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(get_company_settings)
        .service(update_company_settings);
}
