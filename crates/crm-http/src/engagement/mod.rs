//! Engagement: tasks, visit plans, and greeting and follow-up rules.

pub mod rules;
pub mod tasks;
pub mod visit_plans;
use crate::platform::routing::Segmented;

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/tasks", tasks::routes);
    cfg.segment("/visit-plans", visit_plans::routes);
    cfg.segment("/greeting-rules", rules::greeting_rules_routes);
    cfg.segment("/follow-up-rules", rules::follow_up_rules_routes);
}
