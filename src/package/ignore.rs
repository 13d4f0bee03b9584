//! `.difyignore`: the gitignore-style patterns Dify's packager skips files by.
//!
//! The daemon's packager (`decoder/fs.go::Walk`) parses each non-blank, non-`#` line with
//! go-git's gitignore patterns and drops a path as soon as one pattern answers "exclude";
//! an excluded directory is skipped whole. It never looks at "include" answers, so a
//! `!pattern` line has no effect there — and none here, so that a package built by this
//! command and one built by `dify plugin package` from the same tree hold the same files.

/// One parsed pattern line.
#[derive(Debug, Clone, PartialEq)]
struct Pattern {
    /// Path components the pattern matches, split on `/`.
    parts: Vec<String>,
    /// The line contained a `/` (other than a trailing one): matched from the root.
    anchored: bool,
    /// The line ended in `/`: only directories match at the end.
    dir_only: bool,
}

/// The patterns of one `.difyignore` file.
#[derive(Debug, Clone, Default)]
pub struct DifyIgnore {
    patterns: Vec<Pattern>,
    /// `!` lines, kept only to tell the user they do nothing.
    negations: Vec<String>,
}

impl DifyIgnore {
    pub fn parse(text: &str) -> DifyIgnore {
        let mut ignore = DifyIgnore::default();
        for raw in text.split('\n') {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with('!') {
                ignore.negations.push(line.to_string());
                continue;
            }
            let (body, dir_only) = match line.strip_suffix('/') {
                Some(b) => (b, true),
                None => (line, false),
            };
            let anchored = body.contains('/');
            let parts = body
                .split('/')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>();
            if parts.is_empty() {
                continue;
            }
            ignore.patterns.push(Pattern {
                parts,
                anchored,
                dir_only,
            });
        }
        ignore
    }

    /// `!` lines found, which the daemon's packager (and so this one) does not honour.
    pub fn negations(&self) -> &[String] {
        &self.negations
    }

    /// Whether the file at `path` (`/`-separated, relative to the package root) is left
    /// out: it or one of its parent directories matches a pattern.
    pub fn excludes_file(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        (1..=parts.len()).any(|n| {
            let is_dir = n < parts.len();
            self.patterns.iter().any(|p| p.matches(&parts[..n], is_dir))
        })
    }
}

impl Pattern {
    fn matches(&self, path: &[&str], is_dir: bool) -> bool {
        if self.anchored {
            self.matches_anchored(path, is_dir)
        } else {
            // A bare name matches any component; a directory-only one not a file at the end.
            path.iter().enumerate().any(|(i, name)| {
                glob(&self.parts[0], name) && !(self.dir_only && !is_dir && i == path.len() - 1)
            })
        }
    }

    /// Components matched in order from the root; `**` spans zero or more of them. A
    /// pattern that matches a leading part of the path matches what lies below it too.
    fn matches_anchored(&self, path: &[&str], is_dir: bool) -> bool {
        fn walk(pat: &[String], path: &[&str], is_dir: bool, dir_only: bool) -> bool {
            match pat.split_first() {
                None => !path.is_empty() || is_dir || !dir_only,
                Some((first, rest)) if first == "**" => {
                    if rest.is_empty() {
                        return !path.is_empty() || is_dir;
                    }
                    (0..=path.len()).any(|skip| walk(rest, &path[skip..], is_dir, dir_only))
                }
                Some((first, rest)) => match path.split_first() {
                    Some((name, below)) if glob(first, name) => walk(rest, below, is_dir, dir_only),
                    _ => false,
                },
            }
        }
        walk(&self.parts, path, is_dir, self.dir_only)
    }
}

/// Matches one path component against a shell glob: `*`, `?`, `[a-z]`, `[!x]`, `\x`.
fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|i| glob_at(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && glob_at(&p[1..], &n[1..]),
        Some('[') => match (class(&p[1..]), n.first()) {
            (Some((set, len)), Some(c)) => set(*c) && glob_at(&p[1 + len..], &n[1..]),
            // An unclosed `[` is an ordinary character.
            (None, Some('[')) => glob_at(&p[1..], &n[1..]),
            _ => false,
        },
        Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && glob_at(&p[2..], &n[1..]),
        Some(c) => n.first() == Some(c) && glob_at(&p[1..], &n[1..]),
    }
}

type CharSet = Box<dyn Fn(char) -> bool>;

/// Parses a bracket expression after its `[`: the set, and how many chars it took
/// including the closing `]`.
fn class(p: &[char]) -> Option<(CharSet, usize)> {
    let mut i = 0;
    let negated = matches!(p.first(), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while i < p.len() {
        let c = p[i];
        if c == ']' && !first {
            let set = move |ch: char| ranges.iter().any(|&(a, b)| a <= ch && ch <= b) != negated;
            return Some((Box::new(set), i + 1));
        }
        first = false;
        let lo = if c == '\\' && i + 1 < p.len() {
            i += 1;
            p[i]
        } else {
            c
        };
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            ranges.push((lo, p[i + 2]));
            i += 3;
        } else {
            ranges.push((lo, lo));
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_match_any_component() {
        let ig = DifyIgnore::parse("# junk\n.DS_Store\n*.pyc\n__pycache__/\n\n");
        assert!(ig.excludes_file(".DS_Store"));
        assert!(ig.excludes_file("_assets/.DS_Store"));
        assert!(ig.excludes_file("models/llm/x.pyc"));
        assert!(ig.excludes_file("provider/__pycache__/a.py"));
        assert!(
            !ig.excludes_file("__pycache__"),
            "dir-only pattern, file named so"
        );
        assert!(!ig.excludes_file("models/llm/a.yaml"));
    }

    #[test]
    fn anchored_patterns_match_from_the_root() {
        let ig = DifyIgnore::parse("/target\ndocs/*.md\na/**/z\n");
        assert!(ig.excludes_file("target/x"));
        assert!(!ig.excludes_file("sub/target/x"));
        assert!(ig.excludes_file("docs/a.md"));
        assert!(!ig.excludes_file("docs/sub/a.md"));
        assert!(ig.excludes_file("a/z"));
        assert!(ig.excludes_file("a/b/c/z"));
        assert!(!ig.excludes_file("b/a/z"));
    }

    #[test]
    fn globs_and_classes() {
        assert!(glob("*~", "a.yaml~"));
        assert!(glob("file?.txt", "file1.txt"));
        assert!(!glob("file?.txt", "file10.txt"));
        assert!(glob("[a-c]x", "bx"));
        assert!(!glob("[!a-c]x", "bx"));
        assert!(glob("\\*", "*"));
        assert!(!glob("\\*", "a"));
        assert!(glob("[x", "[x"));
    }

    #[test]
    fn negations_do_nothing_as_in_the_daemon() {
        let ig = DifyIgnore::parse("*.md\n!README.md\n");
        assert!(ig.excludes_file("README.md"));
        assert_eq!(ig.negations(), ["!README.md"]);
    }
}
