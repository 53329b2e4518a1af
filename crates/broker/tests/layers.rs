//! The broker's modules import each other one way only.
//!
//! Layers, bottom to top (see the Layout section of `src/lib.rs`): `config` <- `replicas` <-
//! `cluster` <- `coordinators` <- `apis` <- the server (`server`, `broker`). A module may import
//! the layers below its own, never one above; `test_support` (test-only builders) imports nothing
//! from the crate and anyone may use it. Inside a module, its submodules import each other
//! without cycles.
//!
//! The check reads the source: every `crate::` path (including `use crate::{a, b}` groups) and
//! every `super::` path that climbs out of a top-level module, outside comments. It asks for
//! `crate::` paths where code would climb more than one level with `super::super::`, so that
//! no import escapes it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer, bottom first.
const LAYERS: &[(&str, &[&str])] = &[
    ("config", &["config", "metrics"]),
    ("replicas", &["replicas"]),
    ("cluster", &["cluster"]),
    ("coordinators", &["coordinators"]),
    ("apis", &["apis"]),
    (
        "server",
        &["server", "broker", "request_order_tests", "metrics_tests"],
    ),
];

/// Test-only builders: a leaf every layer's tests may use.
const TEST_SUPPORT: &str = "test_support";

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `apis/fetch.rs` is `[apis, fetch]`, `apis/mod.rs` is `[apis]`,
/// `lib.rs` is `[]`.
fn module_path(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The code of a file without its comments (line, doc and block comments) and without the
/// contents of its string and character literals.
fn code(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let at = |i: usize, s: &str| {
        s.chars()
            .enumerate()
            .all(|(k, c)| chars.get(i + k) == Some(&c))
    };
    while i < chars.len() {
        if at(i, "//") {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if at(i, "/*") {
            i += 2;
            while i < chars.len() && !at(i, "*/") {
                i += 1;
            }
            i += 2;
        } else if chars[i] == 'r' && (at(i + 1, "\"") || at(i + 1, "#")) {
            // A raw string: r"...", r#"..."#, ...
            let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
            let opening = i + 1 + hashes;
            if chars.get(opening) != Some(&'"') {
                out.push(chars[i]);
                i += 1;
                continue;
            }
            let closing: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            i = opening + 1;
            while i < chars.len() && !at(i, &closing) {
                i += 1;
            }
            i += closing.chars().count();
            out.push_str("\"\"");
        } else if chars[i] == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if chars[i] == '\'' && chars.get(i + 1) == Some(&'\\') {
            // An escaped character literal: '\n', '\'', '\u{..}'.
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if chars[i] == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3; // 'x' (a lifetime has no closing quote)
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn ident_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The first segments of the paths in a `{a::b, c, d::{e, f}}` group (text after the `{`).
fn group_heads(text: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut at_item_start = true;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_item_start = true,
            c if at_item_start && (c.is_ascii_alphabetic() || c == '_') => {
                heads.push(ident_at(&text[i..]).to_string());
                at_item_start = false;
            }
            _ => {}
        }
    }
    heads
}

/// The module paths a path text names (`a::b::C` is `[a, b, C]`; `a::{b, c::D}` is `[a, b]` and
/// `[a, c]`).
fn paths_at(text: &str) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    let mut rest = text;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            return group_heads(group)
                .into_iter()
                .map(|head| {
                    let mut path = prefix.clone();
                    path.push(head);
                    path
                })
                .collect();
        }
        let ident = ident_at(rest);
        if ident.is_empty() {
            break;
        }
        prefix.push(ident.to_string());
        match rest[ident.len()..].strip_prefix("::") {
            Some(after) => rest = after,
            None => break,
        }
    }
    vec![prefix]
}

/// Where a file's paths lead: for each path, the module path below the crate root it names
/// (as far as the path's segments go).
fn references(file: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(file).expect("readable source");
    let code = code(&text);
    let own = module_path(file);
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        out.extend(paths_at(&code[i + "crate::".len()..]));
    }
    for (i, _) in code.match_indices("super::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[i + "super::".len()..];
        assert!(
            !rest.starts_with("super::"),
            "{}: use a crate:: path instead of super::super:: (the layer check reads crate:: paths)",
            file.display()
        );
        // One level up from this file's module (an inline `mod tests` adds a level, which is
        // why this only resolves paths that name a known module).
        let mut base = own.clone();
        base.pop();
        for t in paths_at(rest) {
            let mut path = base.clone();
            path.extend(t);
            out.push(path);
        }
    }
    out
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

fn files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    assert!(
        files.len() > 20,
        "found the sources ({} files)",
        files.len()
    );
    files
}

#[test]
fn every_top_level_module_has_a_layer() {
    let lib = code(&std::fs::read_to_string(src().join("lib.rs")).expect("lib.rs"));
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            l.strip_prefix("mod ")?.strip_suffix(';')
        })
        .collect();
    assert!(declared.contains(&"config"), "{declared:?}");
    for module in declared {
        assert!(
            module == TEST_SUPPORT || layer_of(module).is_some(),
            "module {module} is in no layer: place it in LAYERS and in lib.rs's Layout"
        );
    }
}

#[test]
fn modules_import_only_the_layers_below_their_own() {
    let tops: BTreeSet<&str> = LAYERS
        .iter()
        .flat_map(|(_, modules)| modules.iter().copied())
        .chain([TEST_SUPPORT])
        .collect();
    let mut violations = Vec::new();
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    for file in files() {
        let own = module_path(&file);
        let Some(own_top) = own.first() else {
            continue; // lib.rs: declarations and re-exports
        };
        for path in references(&file) {
            let Some(target) = path.first() else {
                continue;
            };
            if target == own_top || !tops.contains(target.as_str()) {
                continue;
            }
            edges.insert((own_top.clone(), target.clone()));
            let allowed = if own_top == TEST_SUPPORT {
                false
            } else if target == TEST_SUPPORT {
                true
            } else {
                match (layer_of(own_top), layer_of(target)) {
                    // Same layer: the modules' imports are checked for cycles below.
                    (Some(from), Some(to)) => to <= from,
                    _ => false,
                }
            };
            if !allowed {
                violations.push(format!(
                    "{} ({own_top}) imports {}",
                    file.strip_prefix(src()).expect("under src").display(),
                    path.join("::")
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports against the layer order:\n{}",
        violations.join("\n")
    );
    // The layers above config do use the ones below (a check that the scan sees imports).
    for (from, to) in [
        ("replicas", "config"),
        ("cluster", "replicas"),
        ("coordinators", "cluster"),
        ("apis", "coordinators"),
        ("server", "apis"),
    ] {
        assert!(
            edges.contains(&(from.to_string(), to.to_string())),
            "{from} -> {to} not seen: {edges:?}"
        );
    }
}

#[test]
fn submodules_import_each_other_without_cycles() {
    // For each directory module, its children and the imports between them.
    let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let all = files();
    let modules: BTreeSet<Vec<String>> = all.iter().map(|f| module_path(f)).collect();
    for file in &all {
        let own = module_path(file);
        for path in references(file) {
            // The deepest common parent, if `path` names a sibling there.
            for depth in 0..own.len().min(path.len()) {
                if own[..depth] != path[..depth] {
                    break;
                }
                let (from, to) = (&own[depth], &path[depth]);
                let mut sibling = path[..depth].to_vec();
                sibling.push(to.clone());
                if from != to && modules.contains(&sibling) {
                    graphs
                        .entry(own[..depth].to_vec())
                        .or_default()
                        .entry(from.clone())
                        .or_default()
                        .insert(to.clone());
                }
            }
        }
    }
    let mut cycles = Vec::new();
    for (parent, graph) in &graphs {
        let on_cycles = cyclic_part(graph);
        if !on_cycles.is_empty() {
            let name: Vec<&str> = std::iter::once("crate")
                .chain(parent.iter().map(String::as_str))
                .collect();
            cycles.push(format!("{}: {on_cycles:?}", name.join("::")));
        }
    }
    assert!(
        cycles.is_empty(),
        "submodules importing each other in a cycle:\n{}",
        cycles.join("\n")
    );
}

/// The part of `graph` (module -> the modules it imports) on or between cycles: what is left
/// once modules that import nothing left, and modules nothing left imports, are taken away
/// again and again.
fn cyclic_part(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, BTreeSet<String>> {
    let mut left: BTreeMap<String, BTreeSet<String>> = graph.clone();
    for imported in graph.values().flatten() {
        left.entry(imported.clone()).or_default();
    }
    loop {
        let imported: BTreeSet<String> = left.values().flatten().cloned().collect();
        let gone: Vec<String> = left
            .iter()
            .filter(|(module, imports)| imports.is_empty() || !imported.contains(*module))
            .map(|(module, _)| module.clone())
            .collect();
        if gone.is_empty() {
            return left;
        }
        for module in &gone {
            left.remove(module);
        }
        for imports in left.values_mut() {
            imports.retain(|m| !gone.contains(m));
        }
    }
}

#[test]
fn a_cycle_is_told_apart_from_what_hangs_off_it() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["b", "d"]),
        ("e", vec!["a"]),
    ]
    .into_iter()
    .map(|(m, i)| (m.to_string(), i.into_iter().map(str::to_string).collect()))
    .collect();
    let cycle: Vec<String> = cyclic_part(&graph).into_keys().collect();
    assert_eq!(cycle, ["b", "c"]);
    assert!(cyclic_part(&BTreeMap::from([("a".to_string(), BTreeSet::new())])).is_empty());
}

#[test]
fn the_scan_sees_the_forms_of_paths() {
    let text = "use crate::{config::X, replicas::{A, B}};\n// crate::apis in a comment\n\
                let x = crate::cluster::Cluster::new(\"crate::server\", '\"'); /* crate::apis */\n\
                let y = r#\"crate::server\"#; use crate::coordinators::{runtime::X, leadership};";
    let code = code(text);
    assert!(
        !code.contains("crate::apis") && !code.contains("crate::server"),
        "{code}"
    );
    let paths: Vec<Vec<String>> = code
        .match_indices("crate::")
        .flat_map(|(i, _)| paths_at(&code[i + "crate::".len()..]))
        .collect();
    let expected: Vec<Vec<&str>> = vec![
        vec!["config"],
        vec!["replicas"],
        vec!["cluster", "Cluster", "new"],
        vec!["coordinators", "runtime"],
        vec!["coordinators", "leadership"],
    ];
    assert_eq!(paths, expected);
}
