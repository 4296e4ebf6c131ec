//! Domain events and their delivery to webhooks: the catalogue, Standard Webhooks signing,
//! retries, and which addresses may be called.

pub mod addresses;
pub mod catalogue;
pub mod delivery;
pub mod signing;
