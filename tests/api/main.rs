//! Black-box tests: the real server over HTTP, each test on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analytics;
mod auth;
mod companies;
mod contacts;
mod contract;
mod conventions;
mod demo_data;
mod events;
mod integrations;
mod interactions;
mod invoices;
mod knowledge_base;
mod ledger;
mod nodes;
mod opportunities;
mod portal;
mod races;
mod returns;
mod rollups;
mod sales;
mod security;
mod self_billing;
mod service;
mod service_desk;
mod users_and_keys;
