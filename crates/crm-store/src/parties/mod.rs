pub mod batch;
pub mod companies;
pub mod contacts;
pub mod customers;
pub mod fields;
pub mod interactions;
pub mod merges;
pub mod views;
