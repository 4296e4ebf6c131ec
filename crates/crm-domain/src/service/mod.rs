//! The service desk: cases, their SLAs in business time, and the rules of replies and states.

pub mod articles;
pub mod calendar;
pub mod cases;
pub mod reports;
pub mod settings;
pub mod sla;
