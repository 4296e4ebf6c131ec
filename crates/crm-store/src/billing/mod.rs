pub mod history;
pub mod invoice_series;
pub mod invoices;
pub mod returns;
pub mod self_billing;
