//! Phone numbers: read in any common form, stored as E.164, so that a caller can be found.

use std::str::FromStr;

use phonenumber::{country, Mode};

use crate::Violation;

/// A region (ISO 3166-1 alpha-2) used to read national phone numbers such as `600 123 456`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneRegion(country::Id);

impl FromStr for PhoneRegion {
    type Err = Violation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        country::Id::from_str(&s.trim().to_uppercase())
            .map(PhoneRegion)
            .map_err(|_| Violation::new("phone_region", format!("`{s}` is not a known region")))
    }
}

/// Normalises a phone number written in any common form to E.164 (`+34600123456`).
///
/// National numbers are read in `region`; international ones (`+34...`, `0034...` from
/// Spain) keep their own country.
pub fn normalize_phone(field: &str, raw: &str, region: PhoneRegion) -> Result<String, Violation> {
    let parsed = phonenumber::parse(Some(region.0), raw.trim())
        .map_err(|_| Violation::new(field, "is not a phone number"))?;
    if !phonenumber::is_valid(&parsed) {
        return Err(Violation::new(field, "is not a valid phone number"));
    }
    Ok(parsed.format().mode(Mode::E164).to_string())
}
