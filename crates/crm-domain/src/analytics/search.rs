//! Global search: what a query looks for, which field of a record it matches and how well, and
//! the order of the hits: exact, then prefix, then substring, newest first within each.
//!
//! The store finds the candidates of each kind; the rules here decide what they matched and how
//! they rank, so that every kind is ranked alike.

use chrono::NaiveDateTime;

use crate::access::permissions::Resource;
use crate::platform::phone::{normalize_phone, PhoneRegion};
use crate::platform::text;
use crate::Violation;

text_enum! {
    /// The kinds of record a global search covers.
    SearchObject {
        Contact => "contact",
        Company => "company",
        Lead => "lead",
        Opportunity => "opportunity",
        Quote => "quote",
        Order => "order",
        Invoice => "invoice",
    }
}

impl SearchObject {
    /// The resource a caller must be allowed to read to find records of this kind.
    pub fn resource(self) -> Resource {
        match self {
            SearchObject::Contact => Resource::Contacts,
            SearchObject::Company => Resource::Companies,
            SearchObject::Lead => Resource::Leads,
            SearchObject::Opportunity => Resource::Opportunities,
            SearchObject::Quote => Resource::Quotes,
            SearchObject::Order => Resource::Orders,
            SearchObject::Invoice => Resource::Invoices,
        }
    }
}

text_enum! {
    /// The field of a record that a search matched.
    MatchedField {
        /// A person's full, first or last name; a company's, opportunity's or lead's name.
        Name => "name",
        LegalName => "legal_name",
        /// The company a lead works for.
        CompanyName => "company_name",
        Email => "email",
        Phone => "phone",
        TaxId => "tax_id",
        Website => "website",
        /// A quote's or an invoice's number.
        Number => "number",
        /// An order's id in its channel.
        ExternalId => "external_id",
        /// The number a shop shows its customer.
        ShopNumber => "shop_number",
    }
}

/// How well a field matches a query; the better compares lower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchQuality {
    /// The whole field is the query (a phone: the same number).
    Exact,
    /// The field starts with the query.
    Prefix,
    /// The query is somewhere in the field.
    Substring,
}

/// The longest query a search takes, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// What a search looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms {
    /// The query, trimmed and lower-cased.
    pub text: String,
    /// The query as a phone number in E.164, when it reads as one: a national number is read
    /// in the server's default region.
    pub phone: Option<String>,
}

impl SearchTerms {
    /// Reads the query `q`: 1 to [`MAX_QUERY_CHARS`] characters once trimmed.
    pub fn new(q: &str, region: PhoneRegion) -> Result<SearchTerms, Violation> {
        let cleaned = text::required("q", q, MAX_QUERY_CHARS)?;
        let phone = if looks_like_phone(&cleaned) {
            normalize_phone("q", &cleaned, region).ok()
        } else {
            None
        };
        Ok(SearchTerms {
            text: cleaned.to_lowercase(),
            phone,
        })
    }

    /// How `value`, a field of kind `field`, matches: case-insensitively, and for a phone also
    /// as the same number written another way.
    pub fn quality(&self, field: MatchedField, value: &str) -> Option<MatchQuality> {
        if field == MatchedField::Phone && self.phone.as_deref() == Some(value) {
            return Some(MatchQuality::Exact);
        }
        let value = value.to_lowercase();
        if value == self.text {
            Some(MatchQuality::Exact)
        } else if value.starts_with(&self.text) {
            Some(MatchQuality::Prefix)
        } else if value.contains(&self.text) {
            Some(MatchQuality::Substring)
        } else {
            None
        }
    }

    /// The hit a candidate makes: its best-matching field, the first listed on a tie; `None`
    /// when no single field matches (the store's text may match across two fields).
    pub fn best_match(&self, candidate: Candidate) -> Option<SearchHit> {
        let (quality, matched_on) = candidate
            .fields
            .iter()
            .filter_map(|(field, value)| {
                let value = value.as_deref()?;
                Some((self.quality(*field, value)?, *field))
            })
            .min_by_key(|(quality, _)| *quality)?;
        Some(SearchHit {
            object: candidate.object,
            id: candidate.id,
            title: candidate.title,
            matched_on,
            quality,
            created_at: candidate.created_at,
        })
    }
}

/// Whether a query is written like a phone number: digits with the usual separators, enough of
/// them to be one. Other queries are never read as numbers, so that `2026` stays text.
fn looks_like_phone(q: &str) -> bool {
    let digits = q.chars().filter(char::is_ascii_digit).count();
    digits >= 6
        && q.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')' | '/'))
}

/// The kinds to search: all when `types` is absent or blank, else the comma-separated names.
pub fn objects(types: Option<&str>) -> Result<Vec<SearchObject>, Violation> {
    let Some(raw) = types.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(SearchObject::ALL.to_vec());
    };
    let mut chosen = Vec::new();
    for name in raw.split(',').map(str::trim) {
        let object = name.parse::<SearchObject>().map_err(|_| {
            let names: Vec<&str> = SearchObject::ALL.iter().map(|o| o.as_str()).collect();
            Violation::new(
                "types",
                format!("`{name}` is not one of {}", names.join(", ")),
            )
        })?;
        if !chosen.contains(&object) {
            chosen.push(object);
        }
    }
    Ok(chosen)
}

/// A record a search may have found, with the fields it looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub object: SearchObject,
    pub id: String,
    /// How a person would name the record: a full name, a company name, a number.
    pub title: String,
    pub created_at: NaiveDateTime,
    /// The searched fields, most telling first: on a tie in quality the first one is named.
    pub fields: Vec<(MatchedField, Option<String>)>,
}

/// A record found, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub object: SearchObject,
    pub id: String,
    pub title: String,
    pub matched_on: MatchedField,
    pub quality: MatchQuality,
    pub created_at: NaiveDateTime,
}

/// Orders hits exact, prefix, substring; within each the newest first (then by id, newest
/// first for UUIDv7), and keeps the first `limit`.
pub fn rank(mut hits: Vec<SearchHit>, limit: usize) -> Vec<SearchHit> {
    hits.sort_by(|a, b| {
        a.quality
            .cmp(&b.quality)
            .then_with(|| b.created_at.cmp(&a.created_at))
            .then_with(|| b.id.cmp(&a.id))
    });
    hits.truncate(limit);
    hits
}

/// A person's name as it reads: the first name, if any, then the last.
pub fn full_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn spain() -> PhoneRegion {
        "ES".parse().unwrap()
    }

    fn terms(q: &str) -> SearchTerms {
        SearchTerms::new(q, spain()).unwrap()
    }

    fn day(d: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 1, d)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    fn contact(id: &str, name: &str, phone: Option<&str>, created: u32) -> Candidate {
        Candidate {
            object: SearchObject::Contact,
            id: id.into(),
            title: name.into(),
            created_at: day(created),
            fields: vec![
                (MatchedField::Name, Some(name.into())),
                (MatchedField::Email, None),
                (MatchedField::Phone, phone.map(str::to_owned)),
            ],
        }
    }

    #[test]
    fn the_query_is_trimmed_lower_cased_and_bounded() {
        assert_eq!(terms("  Ana GARCÍA ").text, "ana garcía");
        assert_eq!(SearchTerms::new("   ", spain()).unwrap_err().field, "q");
        assert!(SearchTerms::new(&"a".repeat(200), spain()).is_ok());
        assert_eq!(
            SearchTerms::new(&"a".repeat(201), spain())
                .unwrap_err()
                .field,
            "q"
        );
    }

    #[test]
    fn a_national_number_reads_as_a_phone_in_the_region() {
        assert_eq!(terms("600 123 456").phone.as_deref(), Some("+34600123456"));
        assert_eq!(
            terms("0034 600-123-456").phone.as_deref(),
            Some("+34600123456")
        );
        assert_eq!(terms("Q-2026-000001").phone, None);
        assert_eq!(terms("2026").phone, None, "too short to be a number");
        assert_eq!(terms("ana").phone, None);
    }

    #[test]
    fn a_field_matches_exactly_by_prefix_or_inside() {
        let t = terms("Gar");
        assert_eq!(
            t.quality(MatchedField::Name, "gar"),
            Some(MatchQuality::Exact)
        );
        assert_eq!(
            t.quality(MatchedField::Name, "García"),
            Some(MatchQuality::Prefix)
        );
        assert_eq!(
            t.quality(MatchedField::Name, "Ana Garcia"),
            Some(MatchQuality::Substring)
        );
        assert_eq!(t.quality(MatchedField::Name, "López"), None);
    }

    #[test]
    fn a_phone_matches_as_the_same_number_in_another_format() {
        let t = terms("600 123 456");
        assert_eq!(
            t.quality(MatchedField::Phone, "+34600123456"),
            Some(MatchQuality::Exact)
        );
        assert_eq!(
            t.quality(MatchedField::Email, "+34600123456"),
            None,
            "only phone fields compare as numbers"
        );
        let hit = t
            .best_match(contact("1", "Caller", Some("+34600123456"), 1))
            .unwrap();
        assert_eq!(hit.matched_on, MatchedField::Phone);
        assert_eq!(hit.quality, MatchQuality::Exact);
    }

    #[test]
    fn the_best_field_is_named_and_the_first_listed_wins_a_tie() {
        let t = terms("ana");
        let mut candidate = contact("1", "Anabel Ruiz", None, 1);
        candidate.fields[1].1 = Some("ana".into());
        let hit = t.best_match(candidate).unwrap();
        assert_eq!(
            (hit.matched_on, hit.quality),
            (MatchedField::Email, MatchQuality::Exact)
        );
        let mut candidate = contact("2", "Ana", None, 1);
        candidate.fields[1].1 = Some("ana".into());
        assert_eq!(
            t.best_match(candidate).unwrap().matched_on,
            MatchedField::Name
        );
    }

    #[test]
    fn a_match_across_two_fields_is_no_hit() {
        let mut candidate = contact("1", "Ana", None, 1);
        candidate.fields[1].1 = Some("x@example.com".into());
        assert_eq!(terms("ana x@").best_match(candidate), None);
    }

    #[test]
    fn hits_rank_exact_then_prefix_then_substring_then_newest() {
        let t = terms("ana");
        let hits: Vec<SearchHit> = [
            contact("a", "Mariana", None, 9),
            contact("b", "Ana", None, 1),
            contact("c", "Anabel", None, 2),
            contact("d", "Anastasia", None, 5),
            contact("e", "Juliana", None, 3),
        ]
        .into_iter()
        .filter_map(|c| t.best_match(c))
        .collect();
        let ids: Vec<String> = rank(hits.clone(), 10).into_iter().map(|h| h.id).collect();
        assert_eq!(ids, ["b", "d", "c", "a", "e"]);
        assert_eq!(rank(hits, 2).len(), 2);
    }

    #[test]
    fn types_name_the_kinds_to_search() {
        assert_eq!(objects(None).unwrap(), SearchObject::ALL.to_vec());
        assert_eq!(objects(Some(" ")).unwrap(), SearchObject::ALL.to_vec());
        assert_eq!(
            objects(Some("company, contact,company")).unwrap(),
            vec![SearchObject::Company, SearchObject::Contact]
        );
        let err = objects(Some("contact,product")).unwrap_err();
        assert_eq!(err.field, "types");
        assert!(err.message.contains("product"));
    }

    #[test]
    fn a_full_name_skips_what_is_missing() {
        assert_eq!(
            full_name(Some("Ana"), Some("García")).as_deref(),
            Some("Ana García")
        );
        assert_eq!(full_name(None, Some("García")).as_deref(), Some("García"));
        assert_eq!(full_name(Some(" "), None), None);
    }
}
