//! Pure business rules of the CRM: no I/O, no SQL, no HTTP.

#[macro_use]
mod macros;

pub mod access;
pub mod analytics;
pub mod billing;
pub mod engagement;
pub mod events;
pub mod integrations;
pub mod marketing;
pub mod parties;
pub mod platform;
pub mod sales;
pub mod service;

pub use platform::validation::{Violation, Violations};
