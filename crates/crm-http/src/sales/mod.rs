pub mod documents;
pub mod last_prices;
pub mod leads;
pub mod opportunities;
pub mod orders;
pub mod pipelines;
pub mod products;
pub mod quotes;
