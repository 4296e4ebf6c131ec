//! The codemap's rules, read from the sources: a context imports only what the dependency
//! table of `docs/ARCHITECTURE.md` allows, and no module imports a module that imports it back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CONTEXTS: [&str; 11] = [
    "platform",
    "access",
    "parties",
    "sales",
    "billing",
    "analytics",
    "events",
    "integrations",
    "service",
    "marketing",
    "engagement",
];

/// The crates that hold code by context, with the name other crates import them by.
const CRATES: [(&str, &str); 3] = [
    ("crm_domain", "crates/crm-domain/src"),
    ("crm_store", "crates/crm-store/src"),
    ("crm_http", "crates/crm-http/src"),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `ctx::module` for a file under a crate's `src`, or `None` for the crate root and `mod.rs`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [ctx, module] if module != "mod" => Some(format!("{ctx}::{module}")),
        _ => None,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn without_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| line.split_once("//").map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path that starts at `root::` in `source`, expanded through `{...}` groups, as its
/// segments after the root: `crate::{a::b, c::{d, e}}` gives `a::b`, `c::d` and `c::e`.
fn paths_from(source: &str, root: &str) -> Vec<Vec<String>> {
    let needle = format!("{root}::");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = source[from..].find(&needle) {
        let start = from + at;
        from = start + needle.len();
        let before = source[..start].chars().next_back();
        if before.is_some_and(|c| is_ident(c) || c == '$' || c == ':') {
            continue;
        }
        walk_tree(&source[from..], Vec::new(), &mut found);
    }
    found
}

/// Reads one use-tree at the start of `rest`, appending each full path to `out`.
fn walk_tree(rest: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 1;
        let mut item_start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' | ',' if depth == 1 => {
                    walk_tree(&group[item_start..i], prefix.clone(), out);
                    item_start = i + 1;
                    if c == '}' {
                        return;
                    }
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        return;
    }
    let ident: String = rest.chars().take_while(|c| is_ident(*c)).collect();
    if ident.is_empty() {
        if !prefix.is_empty() {
            out.push(prefix);
        }
        return;
    }
    let mut path = prefix;
    path.push(ident.clone());
    match rest[ident.len()..].strip_prefix("::") {
        Some(next) => walk_tree(next, path, out),
        None => out.push(path),
    }
}

/// One rule of the table: from a context (or one module of it) to the contexts or modules
/// it may import.
#[derive(Debug)]
struct Table(BTreeMap<String, Vec<String>>);

impl Table {
    /// Reads the table headed `| context | may use |` from the codemap.
    fn parse(markdown: &str) -> Table {
        let mut rows = BTreeMap::new();
        let mut inside = false;
        for line in markdown.lines() {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
            if cells.len() < 2 || !line.trim_start().starts_with('|') {
                inside = false;
                continue;
            }
            let clean = |s: &str| s.trim().trim_matches('`').to_owned();
            if clean(cells[0]) == "context" && clean(cells[1]) == "may use" {
                inside = true;
                continue;
            }
            if !inside || cells[0].trim().starts_with("---") {
                continue;
            }
            let allowed = cells[1]
                .split(',')
                .map(clean)
                .filter(|s| !s.is_empty() && s != "nothing")
                .collect();
            rows.insert(clean(cells[0]), allowed);
        }
        assert!(
            CONTEXTS.iter().all(|c| rows.contains_key(*c)),
            "the dependency table names every context: {rows:?}"
        );
        Table(rows)
    }

    fn allows(&self, from: &str, to: &str) -> bool {
        let (from_ctx, _) = from.split_once("::").unwrap_or((from, ""));
        let (to_ctx, _) = to.split_once("::").unwrap_or((to, ""));
        if from_ctx == to_ctx {
            return true;
        }
        [from_ctx, from]
            .iter()
            .filter_map(|row| self.0.get(*row))
            .flatten()
            .any(|allowed| allowed == to_ctx || allowed == to)
    }
}

/// `(importing module, imported module)` for every import of a context module, within its
/// crate (`crate::`) and of the crates below it.
fn imports(crate_name: &str, source: &str) -> BTreeSet<String> {
    let code = without_comments(source);
    let mut targets = BTreeSet::new();
    for (name, _) in CRATES {
        let root = if name == crate_name { "crate" } else { name };
        for path in paths_from(&code, root) {
            if let [ctx, module, ..] = path.as_slice() {
                if CONTEXTS.contains(&ctx.as_str()) {
                    let prefix = if name == crate_name { "" } else { name };
                    targets.insert(format!("{prefix}{}{ctx}::{module}", sep(prefix)));
                }
            }
        }
    }
    targets
}

fn sep(prefix: &str) -> &'static str {
    if prefix.is_empty() {
        ""
    } else {
        "/"
    }
}

/// The module part of an import target, without the crate it lives in.
fn module_part(target: &str) -> &str {
    target.rsplit('/').next().unwrap_or(target)
}

/// Every import that the table forbids, as `crate module -> target`.
fn forbidden(table: &Table, sources: &[(String, String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (crate_name, module, source) in sources {
        for target in imports(crate_name, source) {
            if !table.allows(module, module_part(&target)) {
                found.push(format!("{crate_name} {module} -> {target}"));
            }
        }
    }
    found
}

/// Every chain of modules of one crate that leads back to where it started.
fn cycles(sources: &[(String, String, String)]) -> Vec<String> {
    let mut graph: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (crate_name, module, source) in sources {
        let same_crate = imports(crate_name, source)
            .into_iter()
            .filter(|t| !t.contains('/') && t != module)
            .collect();
        graph.insert((crate_name.clone(), module.clone()), same_crate);
    }
    let mut found = BTreeSet::new();
    for (crate_name, start) in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((module, chain)) = stack.pop() {
            let key = (crate_name.clone(), module.clone());
            for next in graph.get(&key).into_iter().flatten() {
                if next == start {
                    let mut ring = chain.clone();
                    let smallest = ring.iter().min().cloned().unwrap_or_default();
                    let at = ring.iter().position(|m| *m == smallest).unwrap_or(0);
                    ring.rotate_left(at);
                    found.insert(format!("{crate_name}: {}", ring.join(" -> ")));
                } else if seen.insert(next.clone()) {
                    let mut longer = chain.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    found.into_iter().collect()
}

fn workspace_sources() -> Vec<(String, String, String)> {
    let mut sources = Vec::new();
    for (crate_name, dir) in CRATES {
        let src = workspace().join(dir);
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for file in files {
            if let Some(module) = module_of(&src, &file) {
                let text = std::fs::read_to_string(&file).unwrap();
                sources.push((crate_name.to_owned(), module, text));
            }
        }
    }
    sources
}

fn codemap_table() -> Table {
    Table::parse(&std::fs::read_to_string(workspace().join("docs/ARCHITECTURE.md")).unwrap())
}

#[test]
fn every_crate_holds_its_code_in_its_contexts() {
    for (_, dir) in CRATES {
        let src = workspace().join(dir);
        // The six first contexts are in every crate; a later one may need no store or HTTP part.
        for ctx in &CONTEXTS[..6] {
            assert!(
                src.join(ctx).join("mod.rs").is_file(),
                "{dir}/{ctx}/mod.rs exists"
            );
        }
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for file in files {
            let rel = file.strip_prefix(&src).unwrap();
            let top = rel.components().next().unwrap().as_os_str();
            let top = top.to_string_lossy();
            assert!(
                CONTEXTS.contains(&top.as_ref()) || ["lib.rs", "macros.rs"].contains(&top.as_ref()),
                "{dir}/{} sits outside the context folders",
                rel.display()
            );
        }
    }
}

#[test]
fn imports_follow_the_dependency_table() {
    let found = forbidden(&codemap_table(), &workspace_sources());
    assert!(
        found.is_empty(),
        "imports that docs/ARCHITECTURE.md does not allow:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let found = cycles(&workspace_sources());
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn a_forbidden_import_is_found() {
    let table = codemap_table();
    let sources = vec![(
        "crm_store".to_owned(),
        "parties::companies".to_owned(),
        "use crate::{platform::db, sales::{orders::Order, quotes}};\n\
         // use crate::billing::invoices; a comment is not an import\n\
         fn f() { crm_domain::analytics::profit::assign_tiers(); }"
            .to_owned(),
    )];
    assert_eq!(
        forbidden(&table, &sources),
        vec![
            "crm_store parties::companies -> crm_domain/analytics::profit",
            "crm_store parties::companies -> sales::orders",
            "crm_store parties::companies -> sales::quotes",
        ]
    );
}

#[test]
fn a_cycle_is_found() {
    let source =
        |module: &str, text: &str| ("crm_store".to_owned(), module.to_owned(), text.to_owned());
    let sources = vec![
        source("sales::orders", "use crate::sales::quotes::Quote;"),
        source("sales::quotes", "use crate::billing::invoices;"),
        source(
            "billing::invoices",
            "fn f() { crate::sales::orders::get(); }",
        ),
        source("platform::db", ""),
    ];
    assert_eq!(
        cycles(&sources),
        vec!["crm_store: billing::invoices -> sales::orders -> sales::quotes"]
    );
}

/// Store files that write no record a caller changes by id: keys, counters, tokens and derived
/// tables, each claimed by its own conditional write.
const NOT_RECORDS: [&str; 11] = [
    "platform/idempotency.rs",
    "platform/clock.rs",
    "platform/counters.rs",
    "platform/exchange_rates.rs",
    "access/refresh_tokens.rs",
    "access/login_failures.rs",
    "analytics/rollups.rs",
    "analytics/years.rs",
    "analytics/facts.rs",
    "events/outbox.rs",
    "events/deliveries.rs",
];

/// Store functions that update or delete rows without going through `platform::records`
/// themselves, and why that is safe.
const WRITES_UNDER_ANOTHER_LOCK: [(&str, &str); 11] = [
    (
        "service/cases.rs::open_survey",
        "runs under the case's row lock its caller took",
    ),
    (
        "service/csat.rs::answer",
        "runs under the case's row lock, conditioned on answered_at IS NULL",
    ),
    (
        "sales/pipelines.rs::clear_other_defaults",
        "its callers hold the default-pipeline lock",
    ),
    (
        "sales/quotes.rs::write_lines",
        "the lines of a quote its caller holds",
    ),
    (
        "billing/invoices.rs::write_lines",
        "the lines of a draft its caller holds",
    ),
    (
        "billing/invoice_series.rs::clear_other_defaults",
        "its callers hold the series names lock",
    ),
    (
        "billing/invoice_series.rs::claim_number",
        "its first statement locks the series row",
    ),
    (
        "billing/invoice_series.rs::advance",
        "runs under the row lock claim_number took",
    ),
    (
        "parties/companies.rs::set_tiers",
        "a derived column written set-wise, not a read-check-write",
    ),
    (
        "access/api_keys.rs::touch",
        "conditioned on the last_used_at it read",
    ),
    (
        "engagement/tasks.rs::remind_due",
        "conditioned on reminded_at IS NULL, so one run claims each reminder",
    ),
];

/// Every top-level function of a store file, by name, with its text.
fn functions(source: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    for line in source.lines() {
        let header = line
            .strip_prefix("pub(crate) fn ")
            .or_else(|| line.strip_prefix("pub fn "))
            .or_else(|| line.strip_prefix("fn "));
        if let Some(rest) = header {
            let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            found.push((name, String::new()));
        } else if let Some((_, body)) = found.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    found
}

/// The rule of `crm-store/src/platform/records.rs`: a function that updates or deletes a row of
/// a record takes it through `records` (lock, checkout) or writes on the version it read. A new
/// write path that does neither fails here, not in production under two nodes.
#[test]
fn every_store_write_of_a_record_goes_through_records() {
    let src = workspace().join("crates/crm-store/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut unguarded = BTreeSet::new();
    for file in files {
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if NOT_RECORDS.contains(&relative.as_str()) || relative == "platform/records.rs" {
            continue;
        }
        let source = without_comments(&std::fs::read_to_string(&file).unwrap());
        for (name, body) in functions(&source) {
            let writes = body.contains("diesel::update(") || body.contains("diesel::delete(");
            let guarded = body.contains("records::") || body.contains("::version.eq(");
            if writes && !guarded {
                unguarded.insert(format!("{relative}::{name}"));
            }
        }
    }
    let excused: BTreeSet<String> = WRITES_UNDER_ANOTHER_LOCK
        .iter()
        .map(|(f, _)| (*f).to_owned())
        .collect();
    let new: Vec<_> = unguarded.difference(&excused).collect();
    assert!(
        new.is_empty(),
        "these write without records:: or a version condition: {new:?}"
    );
    let stale: Vec<_> = excused.difference(&unguarded).collect();
    assert!(
        stale.is_empty(),
        "no longer unguarded, drop from the list: {stale:?}"
    );
}

/// Every operation that writes declares the events it emits (`x-events`), or is configuration
/// (`x-configuration`); every declared type is in the catalogue, and every type of the
/// catalogue is declared by some operation or sent by the webhook worker.
#[test]
fn every_writing_operation_declares_its_events() {
    let document: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("openapi/openapi.json")).unwrap(),
    )
    .unwrap();
    let catalogue: BTreeSet<String> = document["webhooks"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut undeclared = Vec::new();
    let mut declared = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !["post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            match (&operation["x-events"], &operation["x-configuration"]) {
                (serde_json::Value::Array(types), _) if !types.is_empty() => {
                    for t in types {
                        let t = t.as_str().unwrap().to_owned();
                        assert!(
                            catalogue.contains(&t),
                            "{method} {path} declares unknown {t}"
                        );
                        declared.insert(t);
                    }
                }
                (_, serde_json::Value::Bool(true)) => {}
                _ => undeclared.push(format!("{method} {path}")),
            }
        }
    }
    assert!(
        undeclared.is_empty(),
        "writing operations that declare no events: {undeclared:?}"
    );
    let sent_by_the_worker = ["webhook_endpoint.disabled".to_owned()];
    let never: Vec<_> = catalogue
        .difference(&declared)
        .filter(|t| !sent_by_the_worker.contains(t))
        .collect();
    assert!(never.is_empty(), "types no operation emits: {never:?}");
}
