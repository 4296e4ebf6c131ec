pub mod commission_rates;
pub mod overview;
pub mod profit;
pub mod timeline;
