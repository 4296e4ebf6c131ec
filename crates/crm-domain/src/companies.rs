//! Companies (accounts).

use crate::Violation;

/// Profit tier, computed from last year's profit contribution (A = most valuable).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub enum Tier {
    A,
    B,
    C,
}

impl Tier {
    pub const ALL: &'static [Tier] = &[Tier::A, Tier::B, Tier::C];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::A => "A",
            Tier::B => "B",
            Tier::C => "C",
        }
    }
}

impl std::str::FromStr for Tier {
    type Err = Violation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| Violation::new("tier", format!("`{s}` is not one of A, B, C")))
    }
}

/// Accepts an ISO 3166-1 alpha-2 code in any case and returns it upper-cased.
pub fn country_code(field: &str, raw: &str) -> Result<String, Violation> {
    let upper = raw.trim().to_uppercase();
    isocountry::CountryCode::for_alpha2(&upper)
        .map(|_| upper)
        .map_err(|_| Violation::new(field, "must be an ISO 3166-1 alpha-2 country code"))
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
