//! The `crm` application: configuration, start-up and the CLI's commands. The binary in
//! `main.rs` parses arguments and calls in here; the black-box tests start the same
//! [`app::Application`].

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
