pub mod overview;
pub mod profit;
pub mod timeline;
