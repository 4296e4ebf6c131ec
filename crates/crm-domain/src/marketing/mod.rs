//! Marketing: campaigns, what they cost, whom they reach, and which orders they earn.

pub mod campaigns;
pub mod consent;
pub mod report;
