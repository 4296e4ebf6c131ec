//! Events and webhooks: the outbox every write records into, webhook endpoints, and the
//! deliveries the workers of every node share.

pub mod deliveries;
pub mod endpoints;
pub mod outbox;
