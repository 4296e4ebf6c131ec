//! Pure business rules of the CRM: no I/O, no SQL, no HTTP.

#[macro_use]
mod macros;

pub mod analytics;
pub mod clv;
pub mod companies;
pub mod contacts;
pub mod exchange;
pub mod interactions;
pub mod invoices;
pub mod leads;
pub mod merge_patch;
pub mod money;
pub mod opportunities;
pub mod orders;
pub mod permissions;
pub mod quotes;
pub mod returns;
pub mod roles;
pub mod tags;
pub mod text;
pub mod time;
pub mod timeline;
pub mod totals;
pub mod transitions;
pub mod validation;

pub use validation::{Violation, Violations};
