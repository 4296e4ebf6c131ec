//! Tasks: a piece of work for a person, made by hand or by a rule, and its few states.

use crate::platform::transitions::IllegalTransition;

text_enum! {
    TaskStatus {
        Open => "open",
        Done => "done",
        Cancelled => "cancelled",
    }
}

text_enum! {
    TaskAction {
        Complete => "complete",
        Cancel => "cancel",
        Reopen => "reopen",
    }
}

text_enum! {
    /// Who made a task: a person, or one of the rules the maintenance loop runs.
    TaskSource {
        Manual => "manual",
        VisitPlan => "visit_plan",
        Greeting => "greeting",
        FollowUp => "follow_up",
    }
}

pub fn allowed_actions(status: TaskStatus) -> &'static [TaskAction] {
    match status {
        TaskStatus::Open => &[TaskAction::Complete, TaskAction::Cancel],
        TaskStatus::Done | TaskStatus::Cancelled => &[TaskAction::Reopen],
    }
}

/// The state after `action`.
pub fn transition(status: TaskStatus, action: TaskAction) -> Result<TaskStatus, IllegalTransition> {
    let allowed = allowed_actions(status);
    if !allowed.contains(&action) {
        return Err(IllegalTransition::refused(
            "task",
            action.as_str(),
            status.as_str(),
            allowed.iter().map(|a| a.as_str()),
        ));
    }
    Ok(match action {
        TaskAction::Complete => TaskStatus::Done,
        TaskAction::Cancel => TaskStatus::Cancelled,
        TaskAction::Reopen => TaskStatus::Open,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_task_is_done_or_cancelled_and_either_reopens() {
        assert_eq!(
            transition(TaskStatus::Open, TaskAction::Complete).unwrap(),
            TaskStatus::Done
        );
        assert_eq!(
            transition(TaskStatus::Open, TaskAction::Cancel).unwrap(),
            TaskStatus::Cancelled
        );
        assert_eq!(
            transition(TaskStatus::Cancelled, TaskAction::Reopen).unwrap(),
            TaskStatus::Open
        );
        assert!(transition(TaskStatus::Done, TaskAction::Cancel).is_err());
        assert!(transition(TaskStatus::Open, TaskAction::Reopen).is_err());
    }
}
