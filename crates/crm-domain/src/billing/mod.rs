pub mod invoices;
pub mod returns;
