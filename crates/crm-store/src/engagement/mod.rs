//! Engagement: tasks, visit plans, greeting and follow-up rules, and the run that turns the
//! rules into tasks.

pub mod automation;
pub mod plans;
pub mod rules;
pub mod tasks;
