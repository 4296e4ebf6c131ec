//! Tags: short labels on companies and contacts.

use crate::Violation;

pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_CHARS: usize = 50;

/// Trims, drops duplicates (keeping the first spelling) and rejects labels that are empty,
/// too long, or contain quotes, backslashes or control characters. Excluding quotes and
/// backslashes keeps a tag's JSON form equal to `"` + tag + `"`, which the tag filter
/// relies on.
pub fn normalize(field: &str, tags: &[String]) -> Result<Vec<String>, Violation> {
    if tags.len() > MAX_TAGS {
        return Err(Violation::new(field, format!("at most {MAX_TAGS} tags")));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().count() > MAX_TAG_CHARS {
            return Err(Violation::new(
                field,
                format!("each tag must have 1 to {MAX_TAG_CHARS} characters"),
            ));
        }
        if tag.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
            return Err(Violation::new(
                field,
                "tags must not contain quotes, backslashes or control characters",
            ));
        }
        if !out.iter().any(|t| t == tag) {
            out.push(tag.to_owned());
        }
    }
    Ok(out)
}

/// Checks a single tag used as a filter value.
pub fn filter_value(tag: &str) -> Result<String, Violation> {
    normalize("tag", &[tag.to_owned()]).map(|mut v| v.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_deduplicates() {
        let tags = normalize("tags", &[" vip ".into(), "vip".into(), "b2b".into()]).unwrap();
        assert_eq!(tags, vec!["vip", "b2b"]);
    }

    #[test]
    fn rejects_quotes_and_empty_tags() {
        assert!(normalize("tags", &["a\"b".into()]).is_err());
        assert!(normalize("tags", &["  ".into()]).is_err());
    }

    #[test]
    fn limits_count() {
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| i.to_string()).collect();
        assert!(normalize("tags", &many).is_err());
    }
}
