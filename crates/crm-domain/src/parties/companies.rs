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

    /// The tier of a customer, or a product, that no ranking placed higher: one without
    /// profit in the basis period, or a line without a catalogue product.
    pub const UNRANKED: Tier = Tier::C;

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
