pub mod companies;
pub mod contacts;
pub mod duplicates;
pub mod interactions;
pub mod tags;
pub mod timeline;
