//! The shape of the code, checked from its `use` lines and paths: no two modules of one
//! parent depend on each other (directly or round a longer circle), and data flows one
//! way between the top-level layers: wire → runtime → actions → bedrock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path inside the crate, e.g. `["bedrock", "routing"]`; the root is empty.
type ModPath = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` → `a::b`, `src/a/mod.rs` → `a`, `src/lib.rs` → the root.
fn module_of(src: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// Removes comments and string literals, so that prose mentioning `crate::x` does not count.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(tree).trim().to_string()];
    };
    let prefix = tree[..open].trim_end_matches("::").trim();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|i| !i.trim().is_empty())
        .flat_map(expand)
        .map(|p| match p.as_str() {
            "self" => prefix.to_string(),
            _ if prefix.is_empty() => p,
            _ => format!("{prefix}::{p}"),
        })
        .collect()
}

/// The paths a file refers to: every `use` tree and every inline `crate::`/`super::` path.
fn referenced_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let after = &rest[at + 4..];
        if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            && let Some(end) = after.find(';')
        {
            let tree: String = after[..end]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if tree.starts_with("crate::") || tree.starts_with("super::") {
                paths.extend(expand(&tree));
            }
        }
        rest = after;
    }
    let bytes = code.as_bytes();
    for prefix in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(prefix) {
            let start = from + i;
            from = start + prefix.len();
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let end = code[start..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| start + e);
            paths.push(code[start..end].trim_end_matches(':').to_string());
        }
    }
    paths
}

/// The module a path names: resolved from `from`, cut at the deepest existing module.
fn target_module(path: &str, from: &ModPath, modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    let mut segments = path.split("::").filter(|s| !s.is_empty());
    let mut base: ModPath = match segments.next()? {
        "crate" => Vec::new(),
        "super" => {
            let mut b = from.clone();
            b.pop()?;
            b
        }
        _ => return None,
    };
    let mut rest: Vec<&str> = segments.collect();
    while rest.first() == Some(&"super") {
        base.pop()?;
        rest.remove(0);
    }
    let mut best = base.clone();
    for s in rest {
        base.push(s.to_string());
        if modules.contains(&base) {
            best = base.clone();
        } else {
            break;
        }
    }
    Some(best)
}

/// Every dependency lifted to the two children of the common parent it crosses: the
/// edges whose cycles are module circles. References between a module and its own
/// ancestors or descendants are ownership, not circles.
fn sibling_edges(src: &Path) -> BTreeMap<ModPath, BTreeSet<(String, String)>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.retain(|f| f.file_name().is_some_and(|n| n != "main.rs"));
    let modules: BTreeSet<ModPath> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges: BTreeMap<ModPath, BTreeSet<(String, String)>> = BTreeMap::new();
    for file in &files {
        let from = module_of(src, file);
        let text = std::fs::read_to_string(file).expect("readable source");
        for path in referenced_paths(&code_only(&text)) {
            let Some(to) = target_module(&path, &from, &modules) else {
                continue;
            };
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == from.len() || common == to.len() {
                continue;
            }
            edges
                .entry(from[..common].to_vec())
                .or_default()
                .insert((from[common].clone(), to[common].clone()));
        }
    }
    edges
}

fn find_cycle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeSet<(String, String)>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for (_, next) in edges.iter().filter(|(a, _)| a == node) {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for (a, _) in edges {
        if let Some(c) = visit(a, edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_module_circles() {
    let mut circles = Vec::new();
    for (parent, edges) in sibling_edges(&src()) {
        if let Some(cycle) = find_cycle(&edges) {
            let parent = if parent.is_empty() {
                "crate".to_string()
            } else {
                parent.join("::")
            };
            circles.push(format!("in {parent}: {}", cycle.join(" → ")));
        }
    }
    assert!(
        circles.is_empty(),
        "module circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn data_flows_one_way_between_layers() {
    let edges = sibling_edges(&src());
    let top = edges.get(&Vec::new()).cloned().unwrap_or_default();
    // Each layer and what it must never reach: the layers above it, and for the protocol
    // layers, AWS and the model catalogue.
    let forbidden: &[(&str, &[&str])] = &[
        (
            "wire",
            &["session", "runtime", "actions", "bedrock", "declaration"],
        ),
        ("session", &["runtime", "actions", "bedrock", "declaration"]),
        ("runtime", &["actions", "bedrock", "declaration"]),
        ("bedrock", &["wire", "session", "runtime", "actions"]),
        (
            "declaration",
            &["wire", "session", "runtime", "actions", "bedrock"],
        ),
        ("prompt", &["session", "runtime", "actions", "bedrock"]),
        ("media", &["session", "runtime", "actions", "bedrock"]),
    ];
    let mut wrong = Vec::new();
    for (from, never) in forbidden {
        for (a, b) in &top {
            if a == from && never.contains(&b.as_str()) {
                wrong.push(format!("{a} → {b}"));
            }
        }
    }
    assert!(wrong.is_empty(), "layers reached the wrong way: {wrong:?}");
    // The check sees real dependencies (it would be vacuous otherwise).
    for edge in [
        ("actions", "bedrock"),
        ("runtime", "session"),
        ("bedrock", "declaration"),
    ] {
        assert!(
            top.contains(&(edge.0.to_string(), edge.1.to_string())),
            "expected the dependency {edge:?} among {top:?}"
        );
    }
}

#[test]
fn the_checker_finds_a_circle() {
    let edges: BTreeSet<(String, String)> = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(
        find_cycle(&edges),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        expand("crate::bedrock::{access::{Auth, AwsAccess}, routing, self}"),
        [
            "crate::bedrock::access::Auth",
            "crate::bedrock::access::AwsAccess",
            "crate::bedrock::routing",
            "crate::bedrock"
        ]
    );
    let code = code_only("use super::x; // crate::nope\nlet s = \"crate::no\"; crate::y::z()");
    assert_eq!(
        referenced_paths(&code),
        ["super::x", "crate::y::z", "super::x"]
    );
}
