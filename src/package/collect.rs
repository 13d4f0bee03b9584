//! The collect step: everything the package will hold, read from the checkout and the
//! musl builds, with `.difyignore` applied and the manifest's `arch` list made to name
//! the machines shipped. Nothing here judges the files; the check step does.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use super::error::{Action, Error};
use super::ignore::DifyIgnore;
use super::{PackageArgs, Target};
use crate::declaration::Manifest;

/// One file of the package.
pub(super) struct Entry {
    /// Its `/`-separated path in the package.
    pub(super) path: String,
    pub(super) data: Vec<u8>,
}

/// Files the package takes from `packaging/`, placed at the package root.
const PACKAGING_FILES: [&str; 3] = ["main.py", "requirements.txt", ".difyignore"];
/// Files and directories the package takes from the repository root.
const ROOT_FILES: [&str; 3] = ["manifest.yaml", "README.md", "PRIVACY.md"];
const ROOT_DIRS: [&str; 3] = ["provider", "models", "_assets"];

/// What the collect step found, not yet checked.
pub(super) struct Collected {
    /// The repository checkout.
    pub(super) root: PathBuf,
    /// The manifest as written in the checkout (its `arch` list may be rewritten in `files`).
    pub(super) manifest: Manifest,
    /// The plugin's files by package path, in no particular order.
    pub(super) files: Vec<Entry>,
    /// The binaries found, in the order of `--targets`.
    pub(super) binaries: Vec<Binary>,
}

/// One machine's binary and where it was read from (for messages).
pub(super) struct Binary {
    pub(super) target: Target,
    pub(super) source: PathBuf,
    pub(super) data: Vec<u8>,
}

/// Reads the plugin's files and the binaries. Collected first and checked afterwards so
/// that the checks see exactly the bytes that will be packaged, manifest rewrite included.
pub(super) fn collect(opts: &PackageArgs, warnings: &mut Vec<String>) -> Result<Collected, Error> {
    let root = match &opts.root {
        Some(r) => r.clone(),
        None => find_root()?,
    };
    let read = |rel: &str| -> Result<Vec<u8>, Error> {
        let p = root.join(rel);
        fs::read(&p).map_err(Error::io(Action::Read, p))
    };

    // The version comes from Cargo.toml; the manifest must say the same.
    let manifest_text = String::from_utf8(read("manifest.yaml")?)
        .map_err(|_| Error::Plugin("manifest.yaml is not UTF-8".into()))?;
    let manifest: Manifest = serde_yaml::from_str(&manifest_text)
        .map_err(|e| Error::Plugin(format!("manifest.yaml does not parse: {e}")))?;
    if manifest.version != env!("CARGO_PKG_VERSION") {
        return Err(Error::Version {
            manifest: manifest.version,
        });
    }

    let ignore_text = String::from_utf8_lossy(&read("packaging/.difyignore")?).into_owned();
    let ignore = DifyIgnore::parse(&ignore_text);
    for n in ignore.negations() {
        warnings.push(format!(
            ".difyignore line {n:?} has no effect: Dify's packager does not honour negations"
        ));
    }

    // The plugin's files, by their path in the package.
    let mut files: Vec<Entry> = Vec::new();
    for name in ROOT_FILES {
        files.push(Entry {
            path: name.to_string(),
            data: read(name)?,
        });
    }
    for dir in ROOT_DIRS {
        let mut found = Vec::new();
        walk(&root, &root.join(dir), &mut found)?;
        if found.is_empty() {
            return Err(Error::Plugin(format!(
                "{} has no files",
                root.join(dir).display()
            )));
        }
        for rel in found {
            let data = read(&rel)?;
            files.push(Entry { path: rel, data });
        }
    }
    for name in PACKAGING_FILES {
        files.push(Entry {
            path: name.to_string(),
            data: read(&format!("packaging/{name}"))?,
        });
    }
    let before = files.len();
    files.retain(|e| !ignore.excludes_file(&e.path));
    if files.len() < before {
        warnings.push(format!(
            "{} file(s) left out by .difyignore",
            before - files.len()
        ));
    }

    let binaries = read_binaries(opts, &root, warnings)?;

    // The manifest names exactly the machines the package has a binary for.
    let arches: Vec<&str> = binaries.iter().map(|b| b.target.dify_arch).collect();
    if manifest.meta.arch != arches {
        let rewritten = with_arch(&manifest_text, &arches)?;
        if let Some(e) = files.iter_mut().find(|e| e.path == "manifest.yaml") {
            e.data = rewritten.into_bytes();
        }
    }

    Ok(Collected {
        root,
        manifest,
        files,
        binaries,
    })
}

/// Reads each target's binary: from `--binary`, else from the musl build in the target
/// dir. A missing one is an error, or with `--allow-missing` a warning.
fn read_binaries(
    opts: &PackageArgs,
    root: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<Binary>, Error> {
    let target_dir = opts
        .target_dir
        .clone()
        .unwrap_or_else(|| root.join("target/package"));
    let mut binaries = Vec::new();
    for t in &opts.targets.0 {
        let source = opts
            .binaries
            .iter()
            .rev() // a later --binary for the same machine wins
            .find(|(bt, _)| bt == t)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| target_dir.join(t.triple).join("release/dify-bedrock"));
        match fs::read(&source) {
            Ok(data) => binaries.push(Binary {
                target: *t,
                source,
                data,
            }),
            Err(e) => {
                let missing = Error::MissingBinary {
                    target: *t,
                    path: source,
                    source: e,
                };
                if !opts.allow_missing {
                    return Err(missing);
                }
                warnings.push(format!(
                    "{missing}; the package will not run on {} machines",
                    t.dify_arch
                ));
            }
        }
    }
    if binaries.is_empty() {
        return Err(Error::NoBinary);
    }
    Ok(binaries)
}

/// The repository checkout: the first directory holding `manifest.yaml` and
/// `packaging/main.py` above this binary (it lives in the checkout's target dir), else
/// above the current directory.
fn find_root() -> Result<PathBuf, Error> {
    let is_root =
        |d: &Path| d.join("manifest.yaml").is_file() && d.join("packaging/main.py").is_file();
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    for start in exe.iter().chain(cwd.iter()) {
        if let Some(found) = start.ancestors().find(|d| is_root(d)) {
            return Ok(found.to_path_buf());
        }
    }
    Err(Error::NoCheckout { exe, cwd })
}

/// Collects the regular files below `dir` as `/`-separated paths relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), Error> {
    let mut children: Vec<PathBuf> = fs::read_dir(dir)
        .and_then(|entries| entries.map(|e| e.map(|e| e.path())).collect())
        .map_err(Error::io(Action::Read, dir))?;
    children.sort();
    for path in children {
        let meta = fs::metadata(&path).map_err(Error::io(Action::Read, &path))?;
        if meta.is_dir() {
            walk(root, &path, out)?;
        } else if meta.is_file() {
            let rel = path.strip_prefix(root).map_err(|_| {
                Error::Plugin(format!("{} is outside {}", path.display(), root.display()))
            })?;
            let parts: Option<Vec<&str>> =
                rel.components().map(|c| c.as_os_str().to_str()).collect();
            let parts = parts
                .ok_or_else(|| Error::Plugin(format!("{} is not a UTF-8 path", path.display())))?;
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

/// Replaces the manifest's `meta.arch` list, keeping every other line as written.
fn with_arch(manifest: &str, arches: &[&str]) -> Result<String, Error> {
    let lines: Vec<&str> = manifest.split_inclusive('\n').collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == "  arch:" || (indent(l) > 0 && l.trim() == "arch:"))
        .ok_or_else(|| {
            Error::Plugin(
                "manifest.yaml has no block-style `arch:` list under meta to rewrite".into(),
            )
        })?;
    let key_indent = indent(lines[start]);
    let mut end = start + 1;
    while end < lines.len()
        && lines[end].trim_start().starts_with("- ")
        && indent(lines[end]) >= key_indent
    {
        end += 1;
    }
    let mut out: String = lines[..=start].concat();
    for a in arches {
        let _ = writeln!(out, "{}- {a}", " ".repeat(key_indent + 2));
    }
    out.push_str(&lines[end..].concat());
    let check: Manifest = serde_yaml::from_str(&out)
        .map_err(|e| Error::Plugin(format!("rewriting meta.arch broke manifest.yaml: {e}")))?;
    if check.meta.arch != arches {
        return Err(Error::Plugin(
            "could not rewrite meta.arch in manifest.yaml".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_list_is_rewritten_in_place() {
        let m = include_str!("../../manifest.yaml");
        let out = with_arch(m, &["arm64"]).unwrap();
        let parsed: Manifest = serde_yaml::from_str(&out).unwrap();
        assert_eq!(parsed.meta.arch, ["arm64"]);
        // Every other line is kept as written.
        let removed: Vec<&str> = m
            .lines()
            .filter(|l| !out.lines().any(|o| o == *l))
            .collect();
        assert_eq!(removed, ["    - amd64"]);
        assert!(with_arch("version: 1\n", &["amd64"]).is_err());
    }
}
