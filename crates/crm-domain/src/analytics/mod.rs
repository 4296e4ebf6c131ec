pub mod clv;
pub mod profit;
pub mod search;
