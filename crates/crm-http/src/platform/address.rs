//! A postal address on the wire, and its merge patch.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::fields::{patch, Checker, Patch, SHORT};
use crm_domain::platform::address::country_code;
use crm_store::platform::address::Address;

/// A postal address.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingAddress {
    /// Street and number.
    #[schema(example = "Calle Mayor 1")]
    pub line1: Option<String>,
    /// Floor, suite, building.
    pub line2: Option<String>,
    /// City or town.
    #[schema(example = "Madrid")]
    pub city: Option<String>,
    /// State, province or region.
    pub region: Option<String>,
    /// Postal code.
    #[schema(example = "28013")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[schema(example = "ES")]
    pub country: Option<String>,
}

impl From<Address> for BillingAddress {
    fn from(a: Address) -> Self {
        BillingAddress {
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
        }
    }
}

/// Changes to an address: absent fields stay, `null` clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingAddressUpdate {
    /// Street and number.
    #[serde(default, deserialize_with = "patch")]
    pub line1: Patch<String>,
    /// Floor, suite, building.
    #[serde(default, deserialize_with = "patch")]
    pub line2: Patch<String>,
    /// City or town.
    #[serde(default, deserialize_with = "patch")]
    pub city: Option<Option<String>>,
    /// State, province or region.
    #[serde(default, deserialize_with = "patch")]
    pub region: Option<Option<String>>,
    /// Postal code.
    #[serde(default, deserialize_with = "patch")]
    pub postal_code: Option<Option<String>>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default, deserialize_with = "patch")]
    pub country: Option<Option<String>>,
}

impl BillingAddressUpdate {
    pub(crate) fn cleared() -> Self {
        BillingAddressUpdate {
            line1: Some(None),
            line2: Some(None),
            city: Some(None),
            region: Some(None),
            postal_code: Some(None),
            country: Some(None),
        }
    }
}

/// Merges an address patch, naming each field under `prefix` (`billing_address`) in errors.
pub(crate) fn apply_address(
    c: &mut Checker,
    address: &mut Address,
    patch: BillingAddressUpdate,
    prefix: &str,
) {
    let field = |name: &str| format!("{prefix}.{name}");
    let lines = [
        (patch.line1, &mut address.line1, "line1"),
        (patch.line2, &mut address.line2, "line2"),
        (patch.city, &mut address.city, "city"),
        (patch.region, &mut address.region, "region"),
        (patch.postal_code, &mut address.postal_code, "postal_code"),
    ];
    for (value, target, name) in lines {
        if let Some(v) = value {
            *target = c.optional(&field(name), v.as_deref(), SHORT);
        }
    }
    if let Some(v) = patch.country {
        let name = field("country");
        address.country = c
            .optional(&name, v.as_deref(), 2)
            .and_then(|raw| c.violations.check(country_code(&name, &raw)));
    }
}
