pub mod agreements;
pub mod invoices;
pub mod returns;
