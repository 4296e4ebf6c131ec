//! Rules shared by every free-text field.

use crate::Violation;

/// Trims surrounding whitespace and rejects control characters (NUL included) and over-long
/// values, so that what is stored is what a person typed.
pub fn clean(field: &str, value: &str, max_chars: usize) -> Result<String, Violation> {
    let trimmed = value.trim();
    if trimmed.chars().count() > max_chars {
        return Err(Violation::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(Violation::new(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// Like [`clean`], but the value must not be empty after trimming.
pub fn required(field: &str, value: &str, max_chars: usize) -> Result<String, Violation> {
    let cleaned = clean(field, value, max_chars)?;
    if cleaned.is_empty() {
        return Err(Violation::new(field, "must not be empty"));
    }
    Ok(cleaned)
}

/// An optional text: absent or blank both mean "no value".
pub fn optional(
    field: &str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, Violation> {
    match value {
        None => Ok(None),
        Some(v) => clean(field, v, max_chars).map(|s| if s.is_empty() { None } else { Some(s) }),
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern and wraps it for a
/// contains-match.
pub fn like_contains(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Escapes `%`, `_` and `\\` for a `LIKE ... ESCAPE '\\'` starts-with pattern.
pub fn like_prefix(prefix: &str) -> String {
    let mut pattern = like_contains(prefix);
    pattern.remove(0);
    pattern
}

/// A BCP 47 language tag, loosely: letters and digits in subtags of 1 to 8, the first of 2 to
/// 3 letters.
pub fn valid_locale(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let first_ok = subtags
        .next()
        .is_some_and(|s| (2..=3).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphabetic()));
    first_ok
        && subtags
            .all(|s| (1..=8).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_unicode() {
        assert_eq!(clean("f", "  José 🚀 ", 10).unwrap(), "José 🚀");
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(clean("f", "ééééé", 5).is_ok());
        assert!(clean("f", "éééééé", 5).is_err());
    }

    #[test]
    fn rejects_nul_bytes() {
        let err = clean("name", "a\0b", 10).unwrap_err();
        assert_eq!(err.field, "name");
    }

    #[test]
    fn blank_optional_is_none() {
        assert_eq!(optional("f", Some("   "), 5).unwrap(), None);
        assert!(required("f", "  ", 5).is_err());
    }

    #[test]
    fn like_prefix_matches_the_start() {
        assert_eq!(like_prefix("rate:k_1"), "rate:k\\_1%");
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_contains("50%_a\\"), "%50\\%\\_a\\\\%");
    }

    #[test]
    fn locales_are_bcp_47_tags() {
        assert!(valid_locale("es-419"));
        assert!(valid_locale("pt-BR"));
        assert!(!valid_locale("e"));
        assert!(!valid_locale("es_ES"));
        assert!(!valid_locale("español"));
    }
}
