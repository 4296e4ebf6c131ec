pub mod clv;
pub mod profit;
