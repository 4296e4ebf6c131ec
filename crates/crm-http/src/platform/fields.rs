//! Turning request fields into clean values: JSON Merge Patch presence, and the checks shared
//! by every resource (text, email, phone, URL, timestamps), collecting every violation.

use chrono::{DateTime, NaiveDateTime, Utc};
use crm_domain::platform::phone::{normalize_phone, PhoneRegion};
use crm_domain::{platform::text, Violation, Violations};
use serde::{Deserialize, Deserializer};
use validator::{ValidateEmail, ValidateUrl};

/// A field of a JSON Merge Patch: absent (`None`), `null` (`Some(None)`) or a value.
pub type Patch<T> = Option<Option<T>>;

/// Deserializes a merge-patch field so that `null` and absence stay distinct.
pub fn patch<'de, T, D>(deserializer: D) -> Result<Patch<T>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

pub const SHORT: usize = 200;
pub const LONG: usize = 20_000;

/// Collects violations while a request is turned into clean fields.
#[derive(Default)]
pub struct Checker {
    pub violations: Violations,
}

impl Checker {
    pub fn required(&mut self, field: &str, value: &str, max: usize) -> String {
        self.violations
            .check(text::required(field, value, max))
            .unwrap_or_default()
    }

    pub fn optional(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        self.violations
            .check(text::optional(field, value, max))
            .flatten()
    }

    pub fn email(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let email = self.optional(field, value, 254)?;
        if email.validate_email() {
            Some(email)
        } else {
            self.violations
                .push(Violation::new(field, "is not a valid email address"));
            None
        }
    }

    pub fn url(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let url = self.optional(field, value, 2000)?;
        let with_scheme = if url.contains("://") {
            url
        } else {
            format!("https://{url}")
        };
        if with_scheme.validate_url() {
            Some(with_scheme)
        } else {
            self.violations
                .push(Violation::new(field, "is not a valid URL"));
            None
        }
    }

    pub fn phone(
        &mut self,
        field: &str,
        value: Option<&str>,
        region: PhoneRegion,
    ) -> Option<String> {
        let raw = self.optional(field, value, 50)?;
        self.violations.check(normalize_phone(field, &raw, region))
    }

    pub fn instant(&mut self, field: &str, value: Option<DateTime<Utc>>) -> Option<NaiveDateTime> {
        self.violations
            .check(crm_domain::platform::time::instant(field, value?))
    }

    /// Applies a patch of the free-form `preferences`: merged into the stored object (RFC 7396),
    /// `null` clearing it to `{}`. The result must be a JSON object, bounded in size.
    pub fn preferences(
        &mut self,
        stored: &mut serde_json::Value,
        patch: Option<Option<serde_json::Value>>,
    ) {
        let Some(patch) = patch else {
            return;
        };
        let patch = patch.unwrap_or_else(|| serde_json::json!({}));
        crm_domain::platform::merge_patch::apply(stored, &patch);
        if !stored.is_object() {
            self.violations
                .push(Violation::new("preferences", "must be a JSON object"));
        } else if stored.to_string().len() > 64 * 1024 {
            self.violations.push(Violation::new(
                "preferences",
                "must be at most 64 KiB of JSON",
            ));
        }
    }

    /// An id field, if set, must look like one (a UUID); the store checks that it exists.
    pub fn id(&mut self, field: &str, value: Option<String>) -> Option<String> {
        if value
            .as_deref()
            .is_some_and(|id| !crate::platform::ids::is_uuid(id))
        {
            self.violations
                .push(Violation::new(field, "is not an id (a UUID)"));
        }
        value
    }

    /// Records that a field which cannot be cleared was sent as `null`.
    pub fn not_null(&mut self, field: &str) {
        self.violations
            .push(Violation::new(field, "cannot be null"));
    }

    pub fn finish(self) -> Result<(), Violations> {
        self.violations.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct P {
        #[serde(default, deserialize_with = "patch")]
        a: Patch<String>,
    }

    #[test]
    fn merge_patch_distinguishes_null_from_absent() {
        let absent: P = serde_json::from_str("{}").unwrap();
        let null: P = serde_json::from_str(r#"{"a":null}"#).unwrap();
        let value: P = serde_json::from_str(r#"{"a":"x"}"#).unwrap();
        assert_eq!(absent.a, None);
        assert_eq!(null.a, Some(None));
        assert_eq!(value.a, Some(Some("x".into())));
    }

    #[test]
    fn checker_collects_every_violation() {
        let mut c = Checker::default();
        c.email("email", Some("not-an-email"));
        c.required("name", "  ", 10);
        assert_eq!(c.finish().unwrap_err().0.len(), 2);
    }

    #[test]
    fn urls_get_a_scheme() {
        let mut c = Checker::default();
        assert_eq!(
            c.url("website", Some("example.com")).as_deref(),
            Some("https://example.com")
        );
    }
}
