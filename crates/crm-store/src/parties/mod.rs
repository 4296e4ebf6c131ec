pub mod companies;
pub mod contacts;
pub mod customers;
pub mod interactions;
pub mod related;
