pub mod companies;
pub mod contacts;
pub mod interactions;
pub mod tags;
