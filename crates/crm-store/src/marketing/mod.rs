//! Marketing: campaigns, their costs and members, and the orders they earn.

pub mod campaigns;
pub mod consents;
pub mod members;
pub mod segments;
