//! Embeds the plugin's declaration files (manifest, provider and model YAML) and its
//! `_assets` into the binary, so the binary serves the same declarations the daemon
//! reads from the package even when the files are not beside it (remote debugging sends
//! them, icons included, over its connection).

use std::env;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

fn main() -> io::Result<()> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(io::Error::other)?);
    let mut texts = vec![root.join("manifest.yaml")];
    collect(&root.join("provider"), &mut texts, &|p| has_ext(p, "yaml"))?;
    collect(&root.join("models"), &mut texts, &|p| has_ext(p, "yaml"))?;
    let mut assets = Vec::new();
    collect(&root.join("_assets"), &mut assets, &|_| true)?;
    texts.sort();
    assets.sort();

    println!("cargo:rerun-if-changed=manifest.yaml");
    for dir in [
        "provider",
        "models",
        "models/llm",
        "models/text_embedding",
        "models/rerank",
        "_assets",
    ] {
        println!("cargo:rerun-if-changed={dir}");
    }

    let mut out = String::from(
        "/// Declaration files, as (path relative to the plugin root, contents).\npub static TEXT_FILES: &[(&str, &str)] = &[\n",
    );
    for path in &texts {
        println!("cargo:rerun-if-changed={}", path.display());
        out.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            relative(&root, path),
            path.display().to_string()
        ));
    }
    out.push_str("];\n/// Files of `_assets/`, as (file name, bytes).\npub static ASSET_FILES: &[(&str, &[u8])] = &[\n");
    for path in &assets {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push_str(&format!(
            "    ({:?}, include_bytes!({:?})),\n",
            name,
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(env::var("OUT_DIR").map_err(io::Error::other)?).join("embedded_files.rs");
    fs::write(dest, out)
}

fn has_ext(path: &Path, ext: &str) -> bool {
    path.extension().is_some_and(|e| e == ext)
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>, keep: &dyn Fn(&Path) -> bool) -> io::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out, keep)?;
        } else if keep(&path) {
            out.push(path);
        }
    }
    Ok(())
}
