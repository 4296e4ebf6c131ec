pub mod campaigns;
pub mod clv;
pub mod commission_rates;
pub mod profit;
pub mod rollups;
pub mod search;
pub mod timeline;
pub mod years;
