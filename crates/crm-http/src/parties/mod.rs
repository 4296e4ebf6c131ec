pub mod companies;
pub mod contacts;
pub mod interactions;
