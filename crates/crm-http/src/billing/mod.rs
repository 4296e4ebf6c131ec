pub mod invoices;
pub mod portal;
pub mod returns;
pub mod self_billing;
