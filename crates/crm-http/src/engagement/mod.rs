//! Engagement: tasks, visit plans, and greeting and follow-up rules.

pub mod rules;
pub mod tasks;
pub mod visit_plans;
use crate::platform::routing::{Register, Segmented};

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/tasks", |cfg| {
        cfg.service(tasks::list_tasks);
        cfg.service(tasks::create_task);
        cfg.service(tasks::get_task);
        cfg.service(tasks::update_task);
        cfg.service(tasks::complete_task);
        cfg.service(tasks::cancel_task);
        cfg.service(tasks::reopen_task);
    });
    cfg.segment("/visit-plans", |cfg| {
        cfg.service(visit_plans::list_visit_plans);
        cfg.service(visit_plans::create_visit_plan);
        cfg.service(visit_plans::get_visit_plan);
        cfg.service(visit_plans::update_visit_plan);
        cfg.service(visit_plans::delete_visit_plan);
    });
    cfg.segment("/greeting-rules", |cfg| {
        cfg.service(rules::list_greeting_rules);
        cfg.service(rules::create_greeting_rule);
        cfg.service(rules::get_greeting_rule);
        cfg.service(rules::update_greeting_rule);
        cfg.service(rules::delete_greeting_rule);
    });
    cfg.segment("/follow-up-rules", |cfg| {
        cfg.service(rules::list_follow_up_rules);
        cfg.service(rules::create_follow_up_rule);
        cfg.service(rules::get_follow_up_rule);
        cfg.service(rules::update_follow_up_rule);
        cfg.service(rules::delete_follow_up_rule);
    });
}
