//! Knowledge-base articles: their states, how their Markdown renders, and how their words are
//! searched in Spanish, Portuguese and English.
//!
//! A text is searched by its *terms*: each word, lowercased, gives the Snowball stem of itself
//! and of its unaccented form, unless it is a stop word. The indexed text and the query go
//! through the same rules, so "reembolsos" finds "reembolso" and "devolucion" finds
//! "devolución". The stemmers and the stop lists are PostgreSQL's own (the Snowball algorithms
//! of its `spanish`, `portuguese` and `english` configurations, and its `.stop` files), and
//! `unaccent` maps Latin letters as PostgreSQL's `unaccent.rules` does: SQLite, which indexes
//! the terms derived here, finds what PostgreSQL finds with its text search.

use std::collections::HashSet;
use std::sync::OnceLock;

use pulldown_cmark::{Event, Options, Parser, TagEnd};
use rust_stemmers::{Algorithm, Stemmer};

use crate::platform::transitions::IllegalTransition;
use crate::service::cases::Locale;

text_enum! {
    /// Where an article stands: customers see only published ones.
    ArticleStatus {
        Draft => "draft",
        Published => "published",
        Archived => "archived",
    }
}

text_enum! {
    ArticleAction {
        Publish => "publish",
        Archive => "archive",
        Restore => "restore",
    }
}

text_enum! {
    /// How an article bears on a case.
    ArticleRelation {
        /// Its answer solved the case.
        SolvedWith => "solved_with",
        Related => "related",
    }
}

pub fn allowed_actions(status: ArticleStatus) -> &'static [ArticleAction] {
    use ArticleAction::*;
    match status {
        ArticleStatus::Draft => &[Publish, Archive],
        ArticleStatus::Published => &[Archive],
        ArticleStatus::Archived => &[Restore],
    }
}

/// The state after `action`: publish a draft, archive a draft or a published article, restore
/// an archived one as a draft.
pub fn transition(
    status: ArticleStatus,
    action: ArticleAction,
) -> Result<ArticleStatus, IllegalTransition> {
    let allowed = allowed_actions(status);
    if !allowed.contains(&action) {
        return Err(IllegalTransition::refused(
            "article",
            action.as_str(),
            status.as_str(),
            allowed.iter().map(|a| a.as_str()),
        ));
    }
    Ok(match action {
        ArticleAction::Publish => ArticleStatus::Published,
        ArticleAction::Archive => ArticleStatus::Archived,
        ArticleAction::Restore => ArticleStatus::Draft,
    })
}

fn markdown_options() -> Options {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options
}

/// The body as HTML that is safe to show: Markdown rendered, then sanitised (no script, no
/// event handler, no `javascript:` link).
pub fn render_markdown(body: &str) -> String {
    let mut html = String::with_capacity(body.len() + body.len() / 2);
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(body, markdown_options()));
    ammonia::clean(&html)
}

/// The text a reader reads, without the Markdown around it: what is searched and what
/// snippets quote. Raw HTML is kept as text (a snippet shows it escaped); runs of white space
/// become one space.
pub fn plain_text(body: &str) -> String {
    let mut text = String::with_capacity(body.len());
    for event in Parser::new_ext(body, markdown_options()) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                text.push_str(&t);
            }
            // Inline markup ends inside a word: `**re**embolso` is one word.
            Event::End(
                TagEnd::Emphasis
                | TagEnd::Strong
                | TagEnd::Strikethrough
                | TagEnd::Link
                | TagEnd::Image,
            ) => {}
            Event::SoftBreak | Event::HardBreak | Event::Rule | Event::End(_) => text.push(' '),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Words longer than this are not searched: no language has them, and PostgreSQL skips long
/// ones too.
pub const MAX_WORD_CHARS: usize = 64;

/// A query searches at most this many words; the rest are ignored.
pub const MAX_QUERY_WORDS: usize = 16;

/// Latin letters with diacritics and what PostgreSQL's `unaccent.rules` makes of them
/// (Latin-1 Supplement, Latin Extended-A and -B): each entry is the letter, then its plain
/// spelling.
const LATIN: &str = "\
    ÀA ÁA ÂA ÃA ÄA ÅA ÆAE ÇC ÈE ÉE ÊE ËE ÌI ÍI ÎI ÏI ÐD ÑN ÒO ÓO ÔO ÕO ÖO ØO ÙU ÚU \
    ÛU ÜU ÝY ÞTH ßss àa áa âa ãa äa åa æae çc èe ée êe ëe ìi íi îi ïi ðd ñn òo óo ôo \
    õo öo øo ùu úu ûu üu ýy þth ÿy ĀA āa ĂA ăa ĄA ąa ĆC ćc ĈC ĉc ĊC ċc ČC čc ĎD ďd \
    ĐD đd ĒE ēe ĔE ĕe ĖE ėe ĘE ęe ĚE ěe ĜG ĝg ĞG ğg ĠG ġg ĢG ģg ĤH ĥh ĦH ħh ĨI ĩi ĪI \
    īi ĬI ĭi ĮI įi İI ıi ĲIJ ĳij ĴJ ĵj ĶK ķk ĸq ĹL ĺl ĻL ļl ĽL ľl ĿL ŀl ŁL łl ŃN ńn \
    ŅN ņn ŇN ňn ŊN ŋn ŌO ōo ŎO ŏo ŐO őo ŒOE œoe ŔR ŕr ŖR ŗr ŘR řr ŚS śs ŜS ŝs ŞS şs \
    ŠS šs ŢT ţt ŤT ťt ŦT ŧt ŨU ũu ŪU ūu ŬU ŭu ŮU ůu ŰU űu ŲU ųu ŴW ŵw ŶY ŷy ŸY ŹZ źz \
    ŻZ żz ŽZ žz ſs ƀb ƁB ƂB ƃb ƇC ƈc ƉD ƊD ƋD ƌd ƐE ƑF ƒf ƓG ƕhv ƖI ƗI ƘK ƙk ƚl ƝN \
    ƞn ƠO ơo ƢOI ƣoi ƤP ƥp ƫt ƬT ƭt ƮT ƯU ưu ƲV ƳY ƴy ƵZ ƶz ǄDZ ǅDz ǆdz ǇLJ ǈLj ǉlj \
    ǊNJ ǋNj ǌnj ǍA ǎa ǏI ǐi ǑO ǒo ǓU ǔu ǕU ǖu ǗU ǘu ǙU ǚu ǛU ǜu ǞA ǟa ǠA ǡa ǤG ǥg ǦG \
    ǧg ǨK ǩk ǪO ǫo ǬO ǭo ǰj ǱDZ ǲDz ǳdz ǴG ǵg ǸN ǹn ǺA ǻa ȀA ȁa ȂA ȃa ȄE ȅe ȆE ȇe ȈI \
    ȉi ȊI ȋi ȌO ȍo ȎO ȏo ȐR ȑr ȒR ȓr ȔU ȕu ȖU ȗu ȘS șs ȚT țt ȞH ȟh ȡd ȤZ ȥz ȦA ȧa ȨE \
    ȩe ȪO ȫo ȬO ȭo ȮO ȯo ȰO ȱo ȲY ȳy ȴl ȵn ȶt ȷj ȸdb ȹqp ȺA ȻC ȼc ȽL ȾT ȿs ɀz ɃB ɄU \
    ɆE ɇe ɈJ ɉj ɌR ɍr ɎY ɏy \
";

/// [`LATIN`] as a table sorted by letter.
fn latin() -> &'static [(char, &'static str)] {
    static TABLE: OnceLock<Vec<(char, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<(char, &'static str)> = LATIN
            .split_whitespace()
            .filter_map(|entry| {
                let mut chars = entry.char_indices();
                let (_, letter) = chars.next()?;
                let (rest, _) = chars.next()?;
                Some((letter, entry.get(rest..)?))
            })
            .collect();
        table.sort_by_key(|(letter, _)| *letter);
        table
    })
}

/// A combining diacritical mark (U+0300 to U+036F), as a decomposed "ó" spells its accent;
/// part of the word it marks, and dropped by [`unaccent`].
fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// The text without diacritics on Latin letters, as PostgreSQL's `unaccent` writes it: "á" is
/// "a", "ç" is "c", "ñ" is "n", "ß" is "ss"; other characters stay as they are.
pub fn unaccent(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    let table = latin();
    let mut plain = String::with_capacity(text.len());
    for c in text.chars() {
        if is_combining_mark(c) {
            continue;
        }
        match table
            .binary_search_by_key(&c, |(letter, _)| *letter)
            .ok()
            .and_then(|i| table.get(i))
        {
            Some((_, spelled)) => plain.push_str(spelled),
            None => plain.push(c),
        }
    }
    plain
}

const SPANISH_STOP: &str = include_str!("stop/spanish.stop");
const PORTUGUESE_STOP: &str = include_str!("stop/portuguese.stop");
const ENGLISH_STOP: &str = include_str!("stop/english.stop");

/// The locale's stop words (PostgreSQL's list, one word a line), with their unaccented
/// spellings: "tenian" is as empty a word as "tenían".
fn stop_words(locale: Locale) -> &'static HashSet<String> {
    static SPANISH: OnceLock<HashSet<String>> = OnceLock::new();
    static PORTUGUESE: OnceLock<HashSet<String>> = OnceLock::new();
    static ENGLISH: OnceLock<HashSet<String>> = OnceLock::new();
    let (cell, list) = match locale {
        Locale::Es => (&SPANISH, SPANISH_STOP),
        Locale::Pt => (&PORTUGUESE, PORTUGUESE_STOP),
        Locale::En => (&ENGLISH, ENGLISH_STOP),
    };
    cell.get_or_init(|| {
        list.lines()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .flat_map(|w| [w.to_lowercase(), unaccent(&w.to_lowercase())])
            .collect()
    })
}

/// Whether a lowercase word carries no meaning to search for in `locale`.
pub fn is_stop_word(locale: Locale, word: &str) -> bool {
    let stop = stop_words(locale);
    stop.contains(word) || stop.contains(&unaccent(word))
}

fn stemmer(locale: Locale) -> Stemmer {
    Stemmer::create(match locale {
        Locale::Es => Algorithm::Spanish,
        Locale::Pt => Algorithm::Portuguese,
        Locale::En => Algorithm::English,
    })
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// The words of a text, as character spans `[start, end)` of `chars`.
fn word_spans(chars: &[char]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in chars.iter().enumerate() {
        match (is_word_char(*c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, chars.len()));
    }
    spans
}

/// The words of a text, in order, as they are written.
fn words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    word_spans(&chars)
        .into_iter()
        .filter_map(|(s, e)| chars.get(s..e))
        .map(|w| w.iter().collect())
        .collect()
}

/// The terms of one word: none for a stop word or an over-long one; else the stem of the
/// lowercase word and the stem of its unaccented form, once if they are the same.
fn terms_of(locale: Locale, stemmer: &Stemmer, word: &str) -> Vec<String> {
    let lower = word.to_lowercase();
    if lower.chars().count() > MAX_WORD_CHARS || is_stop_word(locale, &lower) {
        return Vec::new();
    }
    let stem = stemmer.stem(&lower).into_owned();
    let plain = stemmer.stem(&unaccent(&lower)).into_owned();
    if plain == stem {
        vec![stem]
    } else {
        vec![stem, plain]
    }
}

/// The terms of a text, word by word: what the index holds. A word said twice gives its terms
/// twice, which is what ranks a text that says it more often higher.
pub fn search_terms(locale: Locale, text: &str) -> Vec<String> {
    let stemmer = stemmer(locale);
    words(text)
        .iter()
        .flat_map(|w| terms_of(locale, &stemmer, w))
        .collect()
}

/// One word of a query and the terms any of which finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWord {
    /// The word, lowercase, as PostgreSQL's text search takes it.
    pub word: String,
    /// Its stem and the stem of its unaccented form.
    pub terms: Vec<String>,
}

/// The words of a query that mean something in `locale`: no stop word, no repeat, at most
/// [`MAX_QUERY_WORDS`]. Anything that is not a letter or a digit only separates words, so no
/// query carries search syntax. Empty when nothing is left to search for.
pub fn query_words(locale: Locale, query: &str) -> Vec<QueryWord> {
    let stemmer = stemmer(locale);
    let mut seen = HashSet::new();
    words(query)
        .iter()
        .filter_map(|w| {
            let word = w.to_lowercase();
            let terms = terms_of(locale, &stemmer, &word);
            (!terms.is_empty() && seen.insert(word.clone())).then_some(QueryWord { word, terms })
        })
        .take(MAX_QUERY_WORDS)
        .collect()
}

/// Tells which words of a text a query found: a word whose terms meet the query's.
pub struct TermMatcher {
    locale: Locale,
    stemmer: Stemmer,
    terms: HashSet<String>,
}

impl TermMatcher {
    pub fn new(locale: Locale, query: &[QueryWord]) -> Self {
        TermMatcher {
            locale,
            stemmer: stemmer(locale),
            terms: query.iter().flat_map(|w| w.terms.iter().cloned()).collect(),
        }
    }

    pub fn matches(&self, word: &str) -> bool {
        terms_of(self.locale, &self.stemmer, word)
            .iter()
            .any(|t| self.terms.contains(t))
    }
}

/// Escapes text for HTML, quotes included.
fn escape_into(out: &mut String, text: &[char]) {
    for &c in text {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
}

/// At most `max_chars` of `text` (plain text, see [`plain_text`]) around its first word that
/// `matches`, or from its start when none does, cut at word boundaries and marked `…` where
/// cut. Every matching word in it is wrapped in `<mark>`…`</mark>`; everything else is
/// HTML-escaped, so the result is safe to show as HTML.
pub fn snippet(text: &str, matches: impl Fn(&str) -> bool, max_chars: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let spans = word_spans(&chars);
    let word_at = |(s, e): (usize, usize)| -> String {
        chars
            .get(s..e)
            .map(|w| w.iter().collect())
            .unwrap_or_default()
    };
    let hits: Vec<bool> = spans.iter().map(|span| matches(&word_at(*span))).collect();
    let anchor = spans
        .iter()
        .zip(&hits)
        .find(|(_, hit)| **hit)
        .map_or(0, |((s, _), _)| *s);
    let max = max_chars.max(1);
    let (mut start, mut end) = if chars.len() <= max {
        (0, chars.len())
    } else {
        let start = anchor.saturating_sub(max / 3).min(chars.len() - max);
        (start, start + max)
    };
    // Drop the words the window cuts through, unless that leaves nothing.
    let inside = |i: usize| {
        i > 0
            && i < chars.len()
            && chars.get(i - 1).is_some_and(|c| is_word_char(*c))
            && chars.get(i).is_some_and(|c| is_word_char(*c))
    };
    let (cut_start, cut_end) = (start, end);
    while inside(start) && start < end {
        start += 1;
    }
    while inside(end) && end > start {
        end -= 1;
    }
    if start >= end {
        (start, end) = (cut_start, cut_end);
    }
    while start < end && chars.get(start).is_some_and(|c| c.is_whitespace()) {
        start += 1;
    }
    while end > start && chars.get(end - 1).is_some_and(|c| c.is_whitespace()) {
        end -= 1;
    }
    let mut out = String::with_capacity((end - start) * 2);
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for ((s, e), hit) in spans.iter().zip(&hits) {
        if !*hit || *s < start || *e > end {
            continue;
        }
        escape_into(&mut out, chars.get(at..*s).unwrap_or_default());
        out.push_str("<mark>");
        escape_into(&mut out, chars.get(*s..*e).unwrap_or_default());
        out.push_str("</mark>");
        at = *e;
    }
    escape_into(&mut out, chars.get(at..end).unwrap_or_default());
    if end < chars.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share_a_term(locale: Locale, a: &str, b: &str) -> bool {
        let a: HashSet<String> = search_terms(locale, a).into_iter().collect();
        search_terms(locale, b).iter().any(|t| a.contains(t))
    }

    #[test]
    fn articles_move_through_their_states() {
        use ArticleAction::*;
        use ArticleStatus::*;
        assert_eq!(transition(Draft, Publish), Ok(Published));
        assert_eq!(transition(Draft, Archive), Ok(Archived));
        assert_eq!(transition(Published, Archive), Ok(Archived));
        assert_eq!(transition(Archived, Restore), Ok(Draft));
        let refused = transition(Published, Publish).unwrap_err();
        assert_eq!(
            (refused.document, refused.state.as_str()),
            ("article", "published")
        );
        assert_eq!(refused.allowed, ["archive"]);
        assert_eq!(
            transition(Archived, Publish).unwrap_err().allowed,
            ["restore"]
        );
        assert!(transition(Draft, Restore).is_err());
    }

    #[test]
    fn inflections_share_their_stem() {
        assert!(share_a_term(Locale::Es, "reembolsos", "reembolso"));
        assert!(share_a_term(Locale::Es, "Reembolsos de pedidos", "pedido"));
        assert!(share_a_term(Locale::Pt, "pedidos", "pedido"));
        assert!(share_a_term(Locale::Pt, "reembolsos", "reembolso"));
        assert!(share_a_term(Locale::En, "refunds", "refunded"));
        assert!(share_a_term(Locale::En, "Refunding an order", "refund"));
        assert!(!share_a_term(Locale::Es, "reembolso", "factura"));
    }

    #[test]
    fn accents_do_not_matter() {
        assert!(share_a_term(Locale::Es, "devolución", "devolucion"));
        assert!(share_a_term(Locale::Es, "DEVOLUCIÓN", "devolucion"));
        // Decomposed: "o" followed by a combining acute accent.
        assert!(share_a_term(Locale::Es, "devolucio\u{301}n", "devolucion"));
        assert!(share_a_term(Locale::Pt, "informação", "informacao"));
        assert!(share_a_term(Locale::Pt, "devoluções", "devolucoes"));
        assert_eq!(
            unaccent("Ñandú, façade, Straße, Œuvre"),
            "Nandu, facade, Strasse, OEuvre"
        );
        assert_eq!(unaccent("plain ascii"), "plain ascii");
    }

    #[test]
    fn stop_words_are_not_searched() {
        assert!(search_terms(Locale::Es, "de la").is_empty());
        assert!(search_terms(Locale::Pt, "de o a").is_empty());
        assert!(search_terms(Locale::En, "the of and").is_empty());
        assert!(query_words(Locale::Es, "de la").is_empty());
        assert!(is_stop_word(Locale::Es, "tenían") && is_stop_word(Locale::Es, "tenian"));
        assert!(is_stop_word(Locale::Pt, "não") && is_stop_word(Locale::Pt, "nao"));
        assert_eq!(search_terms(Locale::Es, "Reembolsos de pedidos").len(), 2);
        assert!(query_words(Locale::Es, "").is_empty());
    }

    #[test]
    fn queries_carry_no_syntax() {
        for hostile in ["\"", "*", "NEAR(", ") OR (", "'; DROP", "", "\u{0}"] {
            let words = query_words(Locale::En, hostile);
            assert!(
                words.iter().all(|w| w.word.chars().all(is_word_char)
                    && w.terms.iter().all(|t| t.chars().all(is_word_char))),
                "{hostile:?}: {words:?}"
            );
        }
        let words = query_words(Locale::Es, "Reembolso, reembolso; DEVOLUCIÓN");
        let spelled: Vec<&str> = words.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(spelled, ["reembolso", "devolución"]);
        assert_eq!(
            words[1].terms.len(),
            2,
            "the stem of the word and of its plain spelling"
        );
        let long = "a".repeat(MAX_WORD_CHARS + 1);
        assert!(query_words(Locale::Es, &long).is_empty());
        let many: Vec<String> = (0..40).map(|i| format!("palabra{i}")).collect();
        assert_eq!(
            query_words(Locale::Es, &many.join(" ")).len(),
            MAX_QUERY_WORDS
        );
    }

    #[test]
    fn snippets_mark_matches_and_escape_the_rest() {
        let query = query_words(Locale::Es, "reembolso");
        let matcher = TermMatcher::new(Locale::Es, &query);
        let text =
            "Para pedir un reembolso <script>alert(1)</script> escriba a \"soporte\" & espere.";
        let shown = snippet(text, |w| matcher.matches(w), 200);
        assert!(shown.contains("<mark>reembolso</mark>"), "{shown}");
        assert!(
            shown.contains("&lt;script&gt;") && !shown.contains("<script>"),
            "{shown}"
        );
        assert!(
            shown.contains("&quot;soporte&quot; &amp; espere"),
            "{shown}"
        );
        assert!(!shown.starts_with('…') && !shown.ends_with('…'), "{shown}");

        let long = format!(
            "{} Los reembolsos tardan cinco días. {}",
            "palabra ".repeat(50),
            "otra ".repeat(50)
        );
        let shown = snippet(&long, |w| matcher.matches(w), 60);
        assert!(shown.contains("<mark>reembolsos</mark>"), "{shown}");
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        let visible = shown.replace("<mark>", "").replace("</mark>", "");
        assert!(visible.chars().count() <= 62, "{shown}");
        assert!(
            !shown.contains("palab…") && !shown.contains("…alabra"),
            "no word is cut: {shown}"
        );

        let none = snippet("Nada que ver <b>aquí</b>", |w| matcher.matches(w), 10);
        assert!(!none.contains("<mark>") && !none.contains("<b>"), "{none}");
        assert!(none.ends_with('…'), "{none}");
    }

    #[test]
    fn markdown_renders_safely() {
        let html = render_markdown(
            "**bold** and [a link](https://example.com)\n\n<script>alert(1)</script>",
        );
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        assert!(
            !html.contains("<script") && !html.contains("alert(1)"),
            "{html}"
        );
        let html = render_markdown("[x](javascript:alert(1)) <img src=x onerror=alert(1)>");
        assert!(
            !html.contains("javascript:") && !html.contains("onerror"),
            "{html}"
        );
        assert_eq!(
            plain_text("# Title\n\nSome **bold** text and `code`, **re**embolso.\n\n- one\n- two"),
            "Title Some bold text and code, reembolso. one two"
        );
    }
}
