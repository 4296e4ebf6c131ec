//! Duplicates and merges: the keys two records are found alike by, the score of a pair, and
//! which values a merged record keeps.
//!
//! The keys are kept on every write, so that candidates are one indexed query away:
//! - an email without case and without its `+tag` (RFC 5233 subaddressing):
//!   `Ana+x@Example.com` and `ana@example.com` share `ana@example.com`;
//! - a name folded to lower-case words without accents or punctuation, compared at the same
//!   company (PostgreSQL also compares it by trigram similarity);
//! - a company's tax id without separators, and its web domain without `www.`.
//!
//! A merge keeps the survivor: its non-empty values win, its empty ones fill from the merged
//! records in the order given, tags and multi-enum values are unioned, and marketing consent
//! follows the email that is kept.

use serde_json::{Map, Value};

use crate::parties::contacts::email_key;
use crate::parties::tags::MAX_TAGS;
use crate::platform::custom_fields::{CustomField, CustomFieldType};

/// The most records one merge takes into its survivor.
pub const MAX_MERGED: usize = 10;

/// The most candidate pairs one request lists.
pub const MAX_CANDIDATES: i64 = 100;

/// The trigram similarity (0 to 1) above which two names at the same company are candidates.
pub const NAME_SIMILARITY: f64 = 0.6;

/// The score of a pair found by its email base.
pub const EMAIL_SCORE: f64 = 1.0;
/// The score of a pair found by its phone number (the same E.164).
pub const PHONE_SCORE: f64 = 0.9;
/// The score of a pair of companies found by their tax id.
pub const TAX_ID_SCORE: f64 = 1.0;
/// The score of a pair of companies found by their web domain.
pub const DOMAIN_SCORE: f64 = 0.9;

text_enum! {
    /// Why two records look like one.
    DuplicateReason {
        /// The same email once case and `+tag` are dropped.
        Email => "email",
        /// The same phone number.
        Phone => "phone",
        /// Alike names at the same company (contacts), or alike names (companies).
        Name => "name",
        /// The same tax id once separators are dropped.
        TaxId => "tax_id",
        /// The same web domain.
        Domain => "domain",
    }
}

/// The email as candidates compare it: without case and without a `+tag` in its local part.
pub fn email_base(email: &str) -> String {
    let key = email_key(email);
    match (key.find('+'), key.find('@')) {
        (Some(plus), Some(at)) if plus > 0 && plus < at => {
            format!("{}{}", &key[..plus], &key[at..])
        }
        _ => key,
    }
}

/// The letter without its accent, for the Latin letters names use; others stay.
fn plain(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'č' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' | 'ģ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ķ' => "k",
        'ł' | 'ľ' | 'ĺ' | 'ļ' => "l",
        'ñ' | 'ń' | 'ň' | 'ņ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ř' => "r",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// Text folded for comparison: lower-case, without accents, its words of letters and digits
/// separated by one space. `None` when no word is left.
pub fn fold(text: &str) -> Option<String> {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match plain(c) {
            Some(spelled) => folded.push_str(spelled),
            None if c.is_alphanumeric() => folded.push(c),
            None => folded.push(' '),
        }
    }
    let words: Vec<&str> = folded.split_whitespace().collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// A person's name as candidates compare it.
pub fn name_key(first_name: Option<&str>, last_name: &str) -> Option<String> {
    match first_name {
        Some(first) => fold(&format!("{first} {last_name}")),
        None => fold(last_name),
    }
}

/// A tax id as candidates compare it: its letters and digits, upper-case.
pub fn tax_key(tax_id: &str) -> Option<String> {
    let key: String = tax_id
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect();
    (!key.is_empty()).then_some(key)
}

/// A website's host as candidates compare it: lower-case, without `www.`, port or path.
pub fn domain_key(website: &str) -> Option<String> {
    let text = website.trim().to_lowercase();
    let rest = match text.find("://") {
        Some(at) => &text[at + 3..],
        None => text.as_str(),
    };
    let host = rest.split(['/', '?', '#', ':']).next().unwrap_or_default();
    let host = host.strip_prefix("www.").unwrap_or(host);
    (!host.is_empty()).then(|| host.to_owned())
}

/// Two ids in the order a pair is stored and shown: the smaller first.
pub fn ordered_pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

/// One reason two records were found alike, with its score (0 to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub first_id: String,
    pub second_id: String,
    pub reason: DuplicateReason,
    pub score: f64,
}

/// A pair of records that look like one.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The two ids, the smaller first.
    pub ids: [String; 2],
    /// Every reason the pair was found by, strongest first.
    pub reasons: Vec<DuplicateReason>,
    /// The score of its strongest reason, rounded to 3 decimals.
    pub score: f64,
}

/// Groups matches by pair: each pair once, with all its reasons, the highest score first (then
/// the pair with more reasons, then by ids), at most `limit`.
pub fn candidates(matches: Vec<Match>, limit: usize) -> Vec<Candidate> {
    let mut pairs: Vec<(Candidate, Vec<(DuplicateReason, f64)>)> = Vec::new();
    for m in matches {
        if m.first_id == m.second_id {
            continue;
        }
        let (first, second) = ordered_pair(&m.first_id, &m.second_id);
        let score = if m.score.is_finite() {
            m.score.clamp(0.0, 1.0)
        } else {
            0.0
        };
        match pairs
            .iter_mut()
            .find(|(c, _)| c.ids[0] == first && c.ids[1] == second)
        {
            Some((_, reasons)) => match reasons.iter_mut().find(|(r, _)| *r == m.reason) {
                Some((_, best)) => *best = best.max(score),
                None => reasons.push((m.reason, score)),
            },
            None => pairs.push((
                Candidate {
                    ids: [first, second],
                    reasons: Vec::new(),
                    score: 0.0,
                },
                vec![(m.reason, score)],
            )),
        }
    }
    let mut out: Vec<Candidate> = pairs
        .into_iter()
        .map(|(mut candidate, mut reasons)| {
            reasons.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.as_str().cmp(b.0.as_str())));
            let best = reasons.first().map_or(0.0, |(_, s)| *s);
            candidate.score = (best * 1000.0).round() / 1000.0;
            candidate.reasons = reasons.into_iter().map(|(r, _)| r).collect();
            candidate
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.reasons.len().cmp(&a.reasons.len()))
            .then(a.ids.cmp(&b.ids))
    });
    out.truncate(limit);
    out
}

/// Where a merged value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The survivor had it.
    Survivor,
    /// The `n`th merged record (in the order given) filled it.
    Merged(usize),
    /// No record had it.
    Nowhere,
}

/// Whether a value counts as empty: absent, blank text, `null`, an empty array or object.
pub trait Empty {
    fn is_empty_value(&self) -> bool;
}

impl Empty for String {
    fn is_empty_value(&self) -> bool {
        self.trim().is_empty()
    }
}

impl Empty for Value {
    fn is_empty_value(&self) -> bool {
        match self {
            Value::Null => true,
            Value::String(s) => s.trim().is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        }
    }
}

impl<T: Empty> Empty for Option<T> {
    fn is_empty_value(&self) -> bool {
        self.as_ref().is_none_or(Empty::is_empty_value)
    }
}

/// Which record a value is taken from: the survivor's when it has one, else the first merged
/// record's that has one.
pub fn source<T: Empty>(survivor: &T, merged: &[&T]) -> Source {
    if !survivor.is_empty_value() {
        return Source::Survivor;
    }
    merged
        .iter()
        .position(|value| !value.is_empty_value())
        .map_or(Source::Nowhere, Source::Merged)
}

/// The survivor's value when it has one, else the first merged record's.
pub fn fill<T: Empty + Clone>(survivor: &T, merged: &[&T]) -> T {
    match source(survivor, merged) {
        Source::Merged(i) => merged[i].clone(),
        Source::Survivor | Source::Nowhere => survivor.clone(),
    }
}

/// The survivor's tags, then each merged record's new ones, up to the most a record holds.
pub fn union_tags(survivor: &[String], merged: &[&[String]]) -> Vec<String> {
    let mut tags: Vec<String> = Vec::with_capacity(survivor.len());
    for tag in survivor.iter().chain(merged.iter().flat_map(|m| m.iter())) {
        if tags.len() == MAX_TAGS {
            break;
        }
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    tags
}

/// A free-form object (preferences): the survivor's keys win, the others fill in from the
/// merged records in order.
pub fn fill_object(survivor: &Value, merged: &[&Value]) -> Value {
    let Value::Object(kept) = survivor else {
        return fill(survivor, merged);
    };
    let mut kept = kept.clone();
    for value in merged {
        if let Value::Object(other) = value {
            for (key, v) in other {
                if kept.get(key).is_none_or(Empty::is_empty_value) && !v.is_empty_value() {
                    kept.insert(key.clone(), v.clone());
                }
            }
        }
    }
    Value::Object(kept)
}

/// Custom values in canonical form: a multi-enum is the union of every record's options
/// (sorted, as canonical sets are); any other field keeps the survivor's value or takes the
/// first merged record's. A unique field is not taken from a merged record, which keeps it:
/// two records cannot hold it. Values of fields that are no longer defined stay as the
/// survivor has them.
pub fn merge_custom(
    fields: &[CustomField],
    survivor: &Map<String, Value>,
    merged: &[&Map<String, Value>],
) -> Map<String, Value> {
    let mut values = survivor.clone();
    for field in fields.iter().filter(|f| !f.archived) {
        let key = &field.key;
        if field.field_type == CustomFieldType::MultiEnum {
            let mut options: Vec<String> = Vec::new();
            for map in std::iter::once(survivor).chain(merged.iter().copied()) {
                if let Some(Value::Array(items)) = map.get(key) {
                    options.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
                }
            }
            options.sort();
            options.dedup();
            if !options.is_empty() {
                values.insert(key.clone(), Value::from(options));
            }
            continue;
        }
        if field.unique {
            continue;
        }
        let own = survivor.get(key).cloned().unwrap_or(Value::Null);
        let others: Vec<Value> = merged
            .iter()
            .map(|m| m.get(key).cloned().unwrap_or(Value::Null))
            .collect();
        let others: Vec<&Value> = others.iter().collect();
        let value = fill(&own, &others);
        if !value.is_null() {
            values.insert(key.clone(), value);
        }
    }
    values
}

/// A value of a merged record that the merge did not keep, because the survivor (or a merged
/// record before it) had another.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The field, such as `phone` or `custom_fields.segment`.
    pub field: String,
    /// The merged record whose value was dropped.
    pub merged_id: String,
    /// The value the survivor has after the merge.
    pub kept: Value,
    /// The merged record's value.
    pub dropped: Value,
}

/// The conflicts of a merge: each field of a merged record (`merged`, by id) whose non-empty
/// value differs from the non-empty value kept. Lists are unioned, so they are never in
/// conflict.
pub fn conflicts(
    kept: &Map<String, Value>,
    merged: &[(&str, &Map<String, Value>)],
) -> Vec<Conflict> {
    let mut out = Vec::new();
    for (merged_id, values) in merged {
        for (field, dropped) in values.iter() {
            if dropped.is_empty_value() || dropped.is_array() {
                continue;
            }
            match kept.get(field) {
                Some(value) if !value.is_empty_value() && value != dropped => out.push(Conflict {
                    field: field.clone(),
                    merged_id: (*merged_id).to_owned(),
                    kept: value.clone(),
                    dropped: dropped.clone(),
                }),
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::custom_fields::FieldOption;
    use serde_json::json;

    fn field(key: &str, field_type: CustomFieldType, unique: bool) -> CustomField {
        CustomField {
            key: key.into(),
            label: key.into(),
            field_type,
            scale: None,
            options: ["retail", "food", "b2b"]
                .iter()
                .map(|v| FieldOption {
                    value: (*v).into(),
                    label: (*v).into(),
                })
                .collect(),
            required: false,
            unique,
            default: None,
            indexed: false,
            portal_visible: false,
            archived: false,
        }
    }

    fn m(a: &str, b: &str, reason: DuplicateReason, score: f64) -> Match {
        Match {
            first_id: a.into(),
            second_id: b.into(),
            reason,
            score,
        }
    }

    #[test]
    fn email_base_drops_case_and_the_plus_tag() {
        assert_eq!(email_base("Ana+x@Example.com"), "ana@example.com");
        assert_eq!(email_base(" ana@example.com "), "ana@example.com");
        assert_eq!(email_base("ana+a+b@example.com"), "ana@example.com");
        assert_eq!(
            email_base("+only@example.com"),
            "+only@example.com",
            "a local part that is all tag stays"
        );
        assert_eq!(email_base("ana@ex+ample.com"), "ana@ex+ample.com");
    }

    #[test]
    fn names_fold_case_accents_and_punctuation() {
        assert_eq!(
            name_key(Some("Ana"), "García-López"),
            Some("ana garcia lopez".into())
        );
        assert_eq!(
            name_key(Some("  ANA "), "garcia  lopez"),
            Some("ana garcia lopez".into())
        );
        assert_eq!(name_key(None, "Müller"), Some("muller".into()));
        assert_eq!(name_key(None, "Straße"), Some("strasse".into()));
        assert_eq!(name_key(None, "--"), None);
    }

    #[test]
    fn tax_ids_and_domains_drop_separators_and_www() {
        assert_eq!(tax_key("es b-12.345 678"), Some("ESB12345678".into()));
        assert_eq!(tax_key(" - "), None);
        assert_eq!(
            domain_key("https://www.Acme.es/contact?x=1"),
            Some("acme.es".into())
        );
        assert_eq!(domain_key("acme.es:8080"), Some("acme.es".into()));
        assert_eq!(domain_key("http://"), None);
    }

    #[test]
    fn pairs_are_grouped_with_every_reason_and_ranked() {
        let found = candidates(
            vec![
                m("b", "a", DuplicateReason::Phone, PHONE_SCORE),
                m("a", "b", DuplicateReason::Email, EMAIL_SCORE),
                m("c", "d", DuplicateReason::Name, 0.71234),
                m("e", "f", DuplicateReason::Phone, PHONE_SCORE),
                m("x", "x", DuplicateReason::Email, 1.0),
            ],
            10,
        );
        assert_eq!(found.len(), 3, "a record is no duplicate of itself");
        assert_eq!(found[0].ids, ["a".to_owned(), "b".to_owned()]);
        assert_eq!(
            found[0].reasons,
            vec![DuplicateReason::Email, DuplicateReason::Phone]
        );
        assert_eq!(found[0].score, 1.0);
        assert_eq!(found[1].ids[0], "e");
        assert_eq!(found[2].score, 0.712);
        assert_eq!(candidates(found_again(), 1).len(), 1, "cut at the limit");
    }

    fn found_again() -> Vec<Match> {
        vec![
            m("a", "b", DuplicateReason::Email, 1.0),
            m("c", "d", DuplicateReason::Email, 1.0),
        ]
    }

    #[test]
    fn survivor_values_win_and_empty_ones_fill_in_order() {
        let survivor: Option<String> = None;
        let first: Option<String> = Some("  ".into());
        let second: Option<String> = Some("600".into());
        let third: Option<String> = Some("700".into());
        assert_eq!(
            source(&survivor, &[&first, &second, &third]),
            Source::Merged(1)
        );
        assert_eq!(
            fill(&survivor, &[&first, &second, &third]),
            Some("600".into())
        );
        let own: Option<String> = Some("500".into());
        assert_eq!(fill(&own, &[&second]), Some("500".into()));
        assert_eq!(source(&survivor, &[&first]), Source::Nowhere);
    }

    #[test]
    fn tags_are_unioned_in_order() {
        let own = vec!["vip".to_owned(), "b2b".to_owned()];
        let other = vec!["b2b".to_owned(), "madrid".to_owned()];
        assert_eq!(
            union_tags(&own, &[other.as_slice()]),
            vec!["vip", "b2b", "madrid"]
        );
        let many: Vec<String> = (0..MAX_TAGS).map(|i| i.to_string()).collect();
        assert_eq!(union_tags(&many, &[own.as_slice()]).len(), MAX_TAGS);
    }

    #[test]
    fn preferences_keep_the_survivors_keys() {
        let merged = fill_object(
            &json!({"language": "es", "channel": ""}),
            &[&json!({"language": "en", "channel": "email", "size": "M"})],
        );
        assert_eq!(
            merged,
            json!({"language": "es", "channel": "email", "size": "M"})
        );
    }

    #[test]
    fn conflicts_name_the_values_dropped() {
        let kept =
            json!({"phone": "+34600", "title": "CEO", "tags": ["a", "b"], "email": "a@x.es"});
        let merged = json!({"phone": "+34700", "title": "CEO", "tags": ["b"], "email": null});
        let found = conflicts(
            kept.as_object().unwrap(),
            &[("m1", merged.as_object().unwrap())],
        );
        assert_eq!(
            found,
            vec![Conflict {
                field: "phone".into(),
                merged_id: "m1".into(),
                kept: json!("+34600"),
                dropped: json!("+34700"),
            }]
        );
    }

    #[test]
    fn custom_values_union_multi_enums_and_fill_the_rest() {
        let fields = vec![
            field("segments", CustomFieldType::MultiEnum, false),
            field("region", CustomFieldType::Text, false),
            field("code", CustomFieldType::Text, true),
            field("size", CustomFieldType::Text, false),
        ];
        let survivor = json!({"segments": ["retail"], "size": "L"});
        let merged =
            json!({"segments": ["b2b", "retail"], "region": "north", "code": "X1", "size": "S"});
        let values = merge_custom(
            &fields,
            survivor.as_object().unwrap(),
            &[merged.as_object().unwrap()],
        );
        assert_eq!(
            Value::Object(values),
            json!({"segments": ["b2b", "retail"], "region": "north", "size": "L"}),
            "a unique value stays with the record that had it"
        );
    }
}
