//! Shop integrations: connections to Shopify and WooCommerce stores, the log of what their
//! webhooks did, and the ingestion that turns a webhook into orders and returns.

pub mod connections;
pub mod ingest;
pub mod ingestions;
