//! Pure business rules of the CRM: no I/O, no SQL, no HTTP.

#[macro_use]
mod macros;

pub mod companies;
pub mod contacts;
pub mod interactions;
pub mod permissions;
pub mod roles;
pub mod tags;
pub mod text;
pub mod timeline;
pub mod validation;

pub use validation::{Violation, Violations};
pub mod merge_patch;
pub mod time;
