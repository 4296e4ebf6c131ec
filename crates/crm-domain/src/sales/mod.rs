pub mod leads;
pub mod opportunities;
pub mod orders;
pub mod quotes;
pub mod totals;
