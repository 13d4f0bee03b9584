//! The check step: refuses, before anything is signed or written, a package the daemon
//! would refuse on upload or could not run — a binary for the wrong machine, declarations
//! that do not load or name a missing icon, a path its zip reader rejects, too many bytes.

use std::collections::BTreeSet;

use super::collect::{Binary, Entry};
use super::elf::{Linkage, check_elf};
use super::error::Error;
use super::sign;
use super::{PackageArgs, Target};
use crate::declaration::{Catalog, I18n};

/// How many of the largest files a size error names.
const LARGEST_SHOWN: usize = 5;

/// The collected files once checked: every entry in the package's order (sorted by path),
/// binaries included, and what was shipped for which machine.
pub(super) struct Checked {
    pub(super) entries: Vec<Entry>,
    pub(super) shipped: Vec<(Target, u64)>,
}

/// Checks what was collected the way the daemon will see it, and lays the entries out in
/// the order the daemon's packager writes them. A dynamically linked binary is only a
/// warning: it still runs where its C library is (a developer's own machine).
pub(super) fn check(
    files: Vec<Entry>,
    binaries: Vec<Binary>,
    opts: &PackageArgs,
    warnings: &mut Vec<String>,
) -> Result<Checked, Error> {
    let mut entries = files;
    let mut shipped = Vec::new();
    for b in binaries {
        let linkage = check_elf(&b.data, &b.target).map_err(|source| Error::Elf {
            path: b.source.clone(),
            source,
        })?;
        if linkage == Linkage::Dynamic {
            warnings.push(format!(
                "{} is dynamically linked: it runs only where its C library is; ship the static musl build",
                b.source.display()
            ));
        }
        shipped.push((b.target, b.data.len() as u64));
        entries.push(Entry {
            path: b.target.package_path(),
            data: b.data,
        });
    }

    check_declarations(&entries)?;

    entries.sort_by(|a, b| a.path.cmp(&b.path));
    for e in &entries {
        check_path(&e.path)?;
    }
    if let Some(w) = entries.windows(2).find(|w| w[0].path == w[1].path) {
        return Err(Error::Plugin(format!(
            "two files would be packaged as {}",
            w[0].path
        )));
    }

    // The limit is on what the daemon unpacks, so the file signing adds counts too.
    let signing = opts
        .sign
        .as_ref()
        .map_or(0, |_| sign::verification_json(&opts.category).len() as u64);
    let total = entries.iter().map(|e| e.data.len() as u64).sum::<u64>() + signing;
    if total > opts.max_size {
        let mut by_size: Vec<&Entry> = entries.iter().collect();
        by_size.sort_by_key(|e| std::cmp::Reverse(e.data.len()));
        return Err(Error::TooLarge {
            total,
            max: opts.max_size,
            largest: by_size
                .iter()
                .take(LARGEST_SHOWN)
                .map(|e| (e.path.clone(), e.data.len() as u64))
                .collect(),
        });
    }

    Ok(Checked { entries, shipped })
}

/// Paths Go's zip reader opens (`fs.ValidPath`) and the daemon extracts inside its dir.
fn check_path(path: &str) -> Result<(), Error> {
    let bad = path.is_empty()
        || path.contains('\\')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(Error::Plugin(format!(
            "{path:?} is not a valid package path"
        )));
    }
    Ok(())
}

/// Loads the packaged declarations as the binary would and checks every icon they
/// name is in `_assets/`, as the daemon does on upload (`helper.go::CheckAssetsValid`).
fn check_declarations(entries: &[Entry]) -> Result<(), Error> {
    let texts: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e.path.ends_with(".yaml"))
        .map(|e| {
            std::str::from_utf8(&e.data)
                .map(|t| (e.path.as_str(), t))
                .map_err(|_| Error::Plugin(format!("{} is not UTF-8", e.path)))
        })
        .collect::<Result<_, _>>()?;
    let catalog =
        Catalog::from_files(&texts).map_err(|e| Error::Plugin(format!("declarations: {e}")))?;
    if catalog.models().is_empty() {
        return Err(Error::Plugin(
            "the provider declares no models (check its model globs)".into(),
        ));
    }
    let assets: BTreeSet<&str> = entries
        .iter()
        .filter_map(|e| e.path.strip_prefix("_assets/"))
        .collect();
    let m = &catalog.manifest;
    let p = &catalog.provider;
    let mut icons: Vec<(&str, &str)> = vec![("manifest icon", m.icon.as_str())];
    if let Some(d) = &m.icon_dark {
        icons.push(("manifest icon_dark", d));
    }
    let i18n_icons: [(&str, &Option<I18n>); 4] = [
        ("provider icon_small", &p.icon_small),
        ("provider icon_large", &p.icon_large),
        ("provider icon_small_dark", &p.icon_small_dark),
        ("provider icon_large_dark", &p.icon_large_dark),
    ];
    for (what, i18n) in i18n_icons {
        if let Some(i) = i18n {
            for v in [
                Some(&i.en_us),
                i.zh_hans.as_ref(),
                i.ja_jp.as_ref(),
                i.pt_br.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                icons.push((what, v));
            }
        }
    }
    for (what, name) in icons {
        if !name.is_empty() && !assets.contains(name) {
            return Err(Error::Plugin(format!("{what} {name:?} is not in _assets/")));
        }
    }
    if let Some(privacy) = &m.privacy
        && !entries.iter().any(|e| &e.path == privacy)
    {
        return Err(Error::Plugin(format!(
            "manifest privacy file {privacy:?} is not packaged"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_paths() {
        assert!(check_path("bin/dify-bedrock-x86_64-linux-musl").is_ok());
        for bad in ["/abs", "a//b", "../x", "a/./b", "a\\b", ""] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
