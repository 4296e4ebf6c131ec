//! Which names hold one of our ids, read by the OpenAPI document (`format: uuid`) and by the
//! query extractor (a filter by a malformed id is a `422`), so that the two say the same.

/// Names ending in `_id` that are not ids of ours.
const FOREIGN_IDS: [&str; 3] = ["external_id", "tax_id", "campaign_id"];

pub fn is_our_id(name: &str) -> bool {
    (name == "id" || name.ends_with("_id") || name.ends_with("_ids"))
        && !FOREIGN_IDS.contains(&name)
}

/// Query parameters that take a word as well as an id: `assignee_id=me`, `assignee_id=none`.
pub fn id_keywords(name: &str) -> &'static [&'static str] {
    match name {
        "assignee_id" => &["me", "none"],
        _ => &[],
    }
}

pub fn is_uuid(value: &str) -> bool {
    uuid::Uuid::try_parse(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_and_foreign_ids() {
        assert!(is_our_id("company_id") && is_our_id("id") && is_our_id("order_ids"));
        assert!(!is_our_id("external_id") && !is_our_id("tax_id") && !is_our_id("name"));
        assert!(is_uuid("01a23c5f-2d4e-713c-b3f9-cefaf2eb236d"));
        assert!(!is_uuid("") && !is_uuid("me"));
    }
}
