//! Tags on the wire: the checker's rule for a list of tags.

use crate::platform::fields::Checker;

impl Checker {
    pub fn tags(&mut self, field: &str, value: &[String]) -> Vec<String> {
        self.violations
            .check(crm_domain::parties::tags::normalize(field, value))
            .unwrap_or_default()
    }
}
