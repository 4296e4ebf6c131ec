//! The API must always keep someone who can manage it: an admin may not take away its own
//! standing, and nobody may take away the last active admin's.

/// A change to one user's standing, as seen by the store.
#[derive(Debug, Clone, Copy)]
pub struct StandingChange<'a> {
    /// The user making the change; `None` for an API key or the command line.
    pub actor_id: Option<&'a str>,
    pub target_id: &'a str,
    /// Whether the target is an active admin before the change and after it.
    pub admin_before: bool,
    pub admin_after: bool,
    /// Active admins other than the target.
    pub other_active_admins: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StandingRefusal {
    #[error("you cannot archive, deactivate or demote yourself; ask another admin")]
    OwnStanding,
    #[error("this is the last active admin; make another user an admin first")]
    LastAdmin,
}

impl StandingChange<'_> {
    /// Whether the change removes an active admin.
    pub fn removes_an_admin(&self) -> bool {
        self.admin_before && !self.admin_after
    }

    pub fn check(&self) -> Result<(), StandingRefusal> {
        if !self.removes_an_admin() {
            return Ok(());
        }
        if self.actor_id == Some(self.target_id) {
            return Err(StandingRefusal::OwnStanding);
        }
        if self.other_active_admins == 0 {
            return Err(StandingRefusal::LastAdmin);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(
        actor: Option<&'static str>,
        before: bool,
        after: bool,
        others: i64,
    ) -> StandingChange<'static> {
        StandingChange {
            actor_id: actor,
            target_id: "u1",
            admin_before: before,
            admin_after: after,
            other_active_admins: others,
        }
    }

    #[test]
    fn an_admin_cannot_remove_its_own_standing() {
        assert_eq!(
            change(Some("u1"), true, false, 3).check(),
            Err(StandingRefusal::OwnStanding)
        );
    }

    #[test]
    fn the_last_active_admin_stays() {
        assert_eq!(
            change(Some("u2"), true, false, 0).check(),
            Err(StandingRefusal::LastAdmin)
        );
        assert_eq!(
            change(None, true, false, 0).check(),
            Err(StandingRefusal::LastAdmin)
        );
    }

    #[test]
    fn other_changes_pass() {
        assert_eq!(change(Some("u2"), true, false, 1).check(), Ok(()));
        assert_eq!(
            change(Some("u1"), true, true, 0).check(),
            Ok(()),
            "an admin edits itself"
        );
        assert_eq!(change(Some("u1"), false, false, 0).check(), Ok(()));
        assert_eq!(
            change(Some("u2"), false, true, 0).check(),
            Ok(()),
            "a promotion"
        );
    }
}
