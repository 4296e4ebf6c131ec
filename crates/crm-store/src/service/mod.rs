//! The service desk: calendars, SLA policies, teams, cases, and the sweep that escalates.

pub mod articles;
pub mod calendars;
pub mod cases;
pub mod csat;
pub mod policies;
pub mod reports;
pub mod settings;
pub mod sweep;
pub mod teams;
