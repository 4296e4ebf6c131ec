//! Postal addresses: the country code rule.

use crate::Violation;

/// Accepts an ISO 3166-1 alpha-2 code in any case and returns it upper-cased.
pub fn country_code(field: &str, raw: &str) -> Result<String, Violation> {
    let upper = raw.trim().to_uppercase();
    isocountry::CountryCode::for_alpha2(&upper)
        .map(|_| upper)
        .map_err(|_| Violation::new(field, "must be an ISO 3166-1 alpha-2 country code"))
}

/// Every code `country_code` returns: the alpha-2 codes, upper-cased.
pub fn country_codes() -> Vec<&'static str> {
    isocountry::CountryCode::iter()
        .map(|c| c.alpha2())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_upper_cased() {
        assert_eq!(country_code("country", "es").unwrap(), "ES");
    }

    #[test]
    fn unknown_country_is_rejected() {
        assert!(country_code("country", "XX").is_err());
        assert!(country_code("country", "ESP").is_err());
    }
}
