//! A postal address, shared by companies, the issuer settings and invoice snapshots.

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
}
