//! Engagement: tasks, and the rules that make them (visit plans, greetings, follow-ups).

pub mod automation;
pub mod tasks;
