//! `dify-bedrock package`: builds the installable `.difypkg` from the repository checkout.
//!
//! Dify's plugin daemon only runs plugins whose runner language is Python, so the package
//! is a "python" plugin: the declarations the daemon reads (manifest, provider and model
//! YAML, `_assets`), README and PRIVACY, an empty `requirements.txt`, a `main.py` that
//! `exec`s the Rust binary for the machine, and static musl binaries under `bin/`
//! (reference dify-protocol.md §6, §7). The zip is written as the daemon's own packager
//! writes it (`zip.rs`), `.difyignore` is honoured as there (`ignore.rs`), and the package
//! can be signed in the daemon's format (`sign.rs`).
//!
//! The binaries are built beforehand by `packaging/build-binaries.sh` (cargo-zigbuild);
//! this command only collects them, so it runs in seconds and never needs a cross
//! toolchain itself.

mod ignore;
pub mod sign;
mod zip;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sha2::{Digest, Sha256};

use crate::declaration::{Catalog, I18n, Manifest};
use ignore::DifyIgnore;
use sign::Signer;

/// The daemon's default `MAX_PLUGIN_PACKAGE_SIZE`: the limit on the total uncompressed
/// size of a package, and on the uploaded file (`decoder/zip.go`, `controllers/plugins.go`).
pub const MAX_PACKAGE_SIZE: u64 = 52_428_800;

/// A machine the package ships a binary for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Our name for it, also in the binary's file name.
    pub arch: &'static str,
    /// The Rust target the binary is built for.
    pub triple: &'static str,
    /// The manifest's `meta.arch` value.
    pub dify_arch: &'static str,
    /// ELF `e_machine`, to catch a binary built for the wrong machine.
    elf_machine: u16,
}

pub const TARGETS: [Target; 2] = [
    Target {
        arch: "x86_64",
        triple: "x86_64-unknown-linux-musl",
        dify_arch: "amd64",
        elf_machine: 62,
    },
    Target {
        arch: "aarch64",
        triple: "aarch64-unknown-linux-musl",
        dify_arch: "arm64",
        elf_machine: 183,
    },
];

impl Target {
    fn parse(name: &str) -> Option<Target> {
        TARGETS
            .into_iter()
            .find(|t| [t.arch, t.dify_arch, t.triple].contains(&name))
    }

    /// Where the binary sits inside the package; `main.py` looks for the same name.
    pub fn package_path(&self) -> String {
        format!("bin/dify-bedrock-{}-linux-musl", self.arch)
    }
}

/// Files the package takes from `packaging/`, placed at the package root.
const PACKAGING_FILES: [&str; 3] = ["main.py", "requirements.txt", ".difyignore"];
/// Files and directories the package takes from the repository root.
const ROOT_FILES: [&str; 3] = ["manifest.yaml", "README.md", "PRIVACY.md"];
const ROOT_DIRS: [&str; 3] = ["provider", "models", "_assets"];

const USAGE: &str = "\
dify-bedrock package — build the installable .difypkg

USAGE:
    dify-bedrock package [OPTIONS]

Writes <out>/<name>-<version>.difypkg (name from manifest.yaml, version from Cargo.toml)
from the repository checkout and the musl binaries that packaging/build-binaries.sh built.

OPTIONS:
    --root DIR            the repository checkout (default: found above this binary,
                          then above the current directory)
    --out DIR             where to write the package (default: <root>/dist)
    --targets LIST        machines to ship, comma-separated: x86_64, aarch64
                          (default: both)
    --target-dir DIR      cargo target dir of the musl builds, holding
                          <triple>/release/dify-bedrock (default: <root>/target/package)
    --binary ARCH=PATH    take ARCH's binary from PATH instead
    --allow-missing       ship the targets whose binary exists, warn about the others
                          (default: a missing binary is an error)
    --sign KEY.pem        sign with this RSA private key in the daemon's format
    --category NAME       authorized_category recorded when signing: community (default),
                          partner or langgenius
    --public-key-out PATH with --sign: also write the public key as the daemon loads it
    --max-size BYTES      size limit (default: 52428800, the daemon's default)
";

#[derive(Debug)]
struct Options {
    root: Option<PathBuf>,
    out: Option<PathBuf>,
    targets: Vec<Target>,
    target_dir: Option<PathBuf>,
    binaries: Vec<(Target, PathBuf)>,
    allow_missing: bool,
    sign: Option<PathBuf>,
    category: String,
    public_key_out: Option<PathBuf>,
    max_size: u64,
}

pub fn run(args: &[String]) -> ExitCode {
    let opts = match parse_args(args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("dify-bedrock package: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut warnings = Vec::new();
    let result = build(&opts, &mut warnings);
    // Warnings first, also on failure: they often say why (e.g. the binaries skipped).
    for w in &warnings {
        eprintln!("dify-bedrock package: warning: {w}");
    }
    match result {
        Ok(report) => {
            print!("{}", report.summary());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dify-bedrock package: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let mut opts = Options {
        root: None,
        out: None,
        targets: TARGETS.to_vec(),
        target_dir: None,
        binaries: Vec::new(),
        allow_missing: false,
        sign: None,
        category: "community".into(),
        public_key_out: None,
        max_size: MAX_PACKAGE_SIZE,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value")),
            }
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "--root" => opts.root = Some(value()?.into()),
            "--out" => opts.out = Some(value()?.into()),
            "--target-dir" => opts.target_dir = Some(value()?.into()),
            "--targets" => {
                let list = value()?;
                let mut targets = Vec::new();
                for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let t = Target::parse(name)
                        .ok_or_else(|| format!("unknown target {name:?} (x86_64 or aarch64)"))?;
                    if !targets.contains(&t) {
                        targets.push(t);
                    }
                }
                if targets.is_empty() {
                    return Err("--targets names no target".into());
                }
                opts.targets = targets;
            }
            "--binary" => {
                let v = value()?;
                let (arch, path) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--binary takes ARCH=PATH, got {v:?}"))?;
                let t = Target::parse(arch)
                    .ok_or_else(|| format!("unknown target {arch:?} (x86_64 or aarch64)"))?;
                opts.binaries.push((t, PathBuf::from(path)));
            }
            "--allow-missing" => opts.allow_missing = true,
            "--sign" => opts.sign = Some(value()?.into()),
            "--category" => {
                let c = value()?.to_ascii_lowercase();
                if !sign::CATEGORIES.contains(&c.as_str()) {
                    return Err(format!(
                        "unknown category {c:?} (one of {})",
                        sign::CATEGORIES.join(", ")
                    ));
                }
                opts.category = c;
            }
            "--public-key-out" => opts.public_key_out = Some(value()?.into()),
            "--max-size" => {
                let v = value()?;
                opts.max_size = v
                    .parse()
                    .map_err(|_| format!("--max-size takes a number of bytes, got {v:?}"))?;
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if opts.public_key_out.is_some() && opts.sign.is_none() {
        return Err("--public-key-out needs --sign".into());
    }
    Ok(Some(opts))
}

/// What was built, for the summary and the tests.
#[derive(Debug)]
struct Report {
    path: PathBuf,
    identity: String,
    files: usize,
    uncompressed: u64,
    compressed: u64,
    max_size: u64,
    shipped: Vec<(Target, u64)>,
    signed: bool,
}

impl Report {
    fn summary(&self) -> String {
        let mut s = String::new();
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let _ = writeln!(s, "wrote {}", self.path.display());
        let _ = writeln!(s, "  plugin        {}", self.identity);
        let _ = writeln!(
            s,
            "  files         {} ({:.1} MiB uncompressed, {:.1} MiB zipped; limit {:.1} MiB)",
            self.files,
            mib(self.uncompressed),
            mib(self.compressed),
            mib(self.max_size)
        );
        for (t, size) in &self.shipped {
            let _ = writeln!(
                s,
                "  binary        {} ({}, {:.1} MiB)",
                t.package_path(),
                t.dify_arch,
                mib(*size)
            );
        }
        let _ = writeln!(
            s,
            "  signature     {}",
            if self.signed {
                "signed (install with THIRD_PARTY_SIGNATURE_VERIFICATION_ENABLED=true and the public key)"
            } else {
                "unsigned (install with FORCE_VERIFYING_SIGNATURE=false, see docs/INSTALL.md)"
            }
        );
        s
    }
}

/// One file of the package.
struct Entry {
    path: String,
    data: Vec<u8>,
}

fn build(opts: &Options, warnings: &mut Vec<String>) -> Result<Report, String> {
    let root = match &opts.root {
        Some(r) => r.clone(),
        None => find_root()?,
    };
    let read = |rel: &str| -> Result<Vec<u8>, String> {
        let p = root.join(rel);
        fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };

    // The version comes from Cargo.toml; the manifest must say the same.
    let manifest_text = String::from_utf8(read("manifest.yaml")?)
        .map_err(|_| "manifest.yaml is not UTF-8".to_string())?;
    let manifest: Manifest = serde_yaml::from_str(&manifest_text)
        .map_err(|e| format!("manifest.yaml does not parse: {e}"))?;
    let version = env!("CARGO_PKG_VERSION");
    if manifest.version != version {
        return Err(format!(
            "manifest.yaml says version {} but Cargo.toml says {version}; make them agree",
            manifest.version
        ));
    }

    let ignore_text = String::from_utf8_lossy(&read("packaging/.difyignore")?).into_owned();
    let ignore = DifyIgnore::parse(&ignore_text);
    for n in ignore.negations() {
        warnings.push(format!(
            ".difyignore line {n:?} has no effect: Dify's packager does not honour negations"
        ));
    }

    // The plugin's files, by their path in the package.
    let mut entries: Vec<Entry> = Vec::new();
    for name in ROOT_FILES {
        entries.push(Entry {
            path: name.to_string(),
            data: read(name)?,
        });
    }
    for dir in ROOT_DIRS {
        let mut files = Vec::new();
        walk(&root, &root.join(dir), &mut files)?;
        if files.is_empty() {
            return Err(format!("{} has no files", root.join(dir).display()));
        }
        for rel in files {
            let data = read(&rel)?;
            entries.push(Entry { path: rel, data });
        }
    }
    for name in PACKAGING_FILES {
        entries.push(Entry {
            path: name.to_string(),
            data: read(&format!("packaging/{name}"))?,
        });
    }
    let before = entries.len();
    entries.retain(|e| !ignore.excludes_file(&e.path));
    if entries.len() < before {
        warnings.push(format!(
            "{} file(s) left out by .difyignore",
            before - entries.len()
        ));
    }

    // The binaries.
    let target_dir = opts
        .target_dir
        .clone()
        .unwrap_or_else(|| root.join("target/package"));
    let mut shipped = Vec::new();
    let mut missing = Vec::new();
    for t in &opts.targets {
        let source = opts
            .binaries
            .iter()
            .rev() // a later --binary for the same machine wins
            .find(|(bt, _)| bt == t)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| target_dir.join(t.triple).join("release/dify-bedrock"));
        let data = match fs::read(&source) {
            Ok(d) => d,
            Err(e) => {
                let why = format!(
                    "no {} binary at {} ({e}); build it with packaging/build-binaries.sh",
                    t.arch,
                    source.display()
                );
                if opts.allow_missing {
                    warnings.push(format!(
                        "{why}; the package will not run on {} machines",
                        t.dify_arch
                    ));
                    missing.push(*t);
                    continue;
                }
                return Err(why);
            }
        };
        let linkage = check_elf(&data, t).map_err(|e| format!("{}: {e}", source.display()))?;
        if linkage == Linkage::Dynamic {
            warnings.push(format!(
                "{} is dynamically linked: it runs only where its C library is; ship the static musl build",
                source.display()
            ));
        }
        shipped.push((*t, data.len() as u64));
        entries.push(Entry {
            path: t.package_path(),
            data,
        });
    }
    if shipped.is_empty() {
        return Err("no binary to ship; build them with packaging/build-binaries.sh".into());
    }

    // The manifest names exactly the machines the package has a binary for.
    let arches: Vec<&str> = shipped.iter().map(|(t, _)| t.dify_arch).collect();
    if manifest.meta.arch != arches {
        let rewritten = with_arch(&manifest_text, &arches)?;
        if let Some(e) = entries.iter_mut().find(|e| e.path == "manifest.yaml") {
            e.data = rewritten.into_bytes();
        }
    }

    check_declarations(&entries)?;

    entries.sort_by(|a, b| a.path.cmp(&b.path));
    for e in &entries {
        check_path(&e.path)?;
    }
    if let Some(w) = entries.windows(2).find(|w| w[0].path == w[1].path) {
        return Err(format!("two files would be packaged as {}", w[0].path));
    }

    // Signing adds the verification file last, as the dify CLI's signer does.
    let signer = match &opts.sign {
        Some(key_path) => {
            let text = fs::read_to_string(key_path)
                .map_err(|e| format!("cannot read the key {}: {e}", key_path.display()))?;
            let signer =
                Signer::from_pem(&text).map_err(|e| format!("{}: {e}", key_path.display()))?;
            entries.push(Entry {
                path: sign::VERIFICATION_FILE.to_string(),
                data: sign::verification_json(&opts.category).into_bytes(),
            });
            Some(signer)
        }
        None => None,
    };

    let uncompressed: u64 = entries.iter().map(|e| e.data.len() as u64).sum();
    if uncompressed > opts.max_size {
        return Err(too_large(&entries, uncompressed, opts.max_size));
    }

    let mut zip = zip::ZipWriter::new();
    for e in &entries {
        zip.add(&e.path, &e.data)?;
    }
    let comment = match &signer {
        Some(s) => {
            let time = signing_time();
            let digests: Vec<[u8; 32]> = entries
                .iter()
                .map(|e| Sha256::digest(&e.data).into())
                .collect();
            let signature = s.sign(&sign::signed_data(&digests, time))?;
            sign::comment(&signature, time)
        }
        None => String::new(),
    };
    let bytes = zip.finish(&comment)?;
    if bytes.len() as u64 > opts.max_size {
        return Err(format!(
            "the package file is {} bytes, over the upload limit of {} bytes",
            bytes.len(),
            opts.max_size
        ));
    }

    let out_dir = opts.out.clone().unwrap_or_else(|| root.join("dist"));
    fs::create_dir_all(&out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let path = out_dir.join(format!("{}-{version}.difypkg", manifest.name));
    write_atomically(&path, &bytes)?;
    if let (Some(s), Some(p)) = (&signer, &opts.public_key_out) {
        write_atomically(p, s.public_key_pem().as_bytes())?;
    }

    Ok(Report {
        path,
        identity: format!(
            "{}/{}:{version}@{}",
            manifest.author,
            manifest.name,
            checksum(&entries)
        ),
        files: entries.len(),
        uncompressed,
        compressed: bytes.len() as u64,
        max_size: opts.max_size,
        shipped,
        signed: signer.is_some(),
    })
}

/// The repository checkout: the first directory holding `manifest.yaml` and
/// `packaging/main.py` above this binary (it lives in the checkout's target dir), else
/// above the current directory.
fn find_root() -> Result<PathBuf, String> {
    let is_root =
        |d: &Path| d.join("manifest.yaml").is_file() && d.join("packaging/main.py").is_file();
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    for start in exe.iter().chain(cwd.iter()) {
        if let Some(found) = start.ancestors().find(|d| is_root(d)) {
            return Ok(found.to_path_buf());
        }
    }
    Err(format!(
        "cannot find the repository checkout (a directory with manifest.yaml and packaging/main.py) above {} or {}; pass --root DIR",
        exe.as_deref()
            .map_or("this binary".into(), |p| p.display().to_string()),
        cwd.as_deref()
            .map_or("the current directory".into(), |p| p.display().to_string()),
    ))
}

/// Collects the regular files below `dir` as `/`-separated paths relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
    let read_err = |e: std::io::Error| format!("cannot read {}: {e}", dir.display());
    let mut children: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(read_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    children.sort();
    for path in children {
        let meta =
            fs::metadata(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if meta.is_dir() {
            walk(root, &path, out)?;
        } else if meta.is_file() {
            let rel = path
                .strip_prefix(root)
                .map_err(|_| format!("{} is outside {}", path.display(), root.display()))?;
            let parts: Option<Vec<&str>> =
                rel.components().map(|c| c.as_os_str().to_str()).collect();
            let parts = parts.ok_or_else(|| format!("{} is not a UTF-8 path", path.display()))?;
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

/// Paths Go's zip reader opens (`fs.ValidPath`) and the daemon extracts inside its dir.
fn check_path(path: &str) -> Result<(), String> {
    let bad = path.is_empty()
        || path.contains('\\')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(format!("{path:?} is not a valid package path"));
    }
    Ok(())
}

/// Loads the packaged declarations as the binary would and checks every icon they
/// name is in `_assets/`, as the daemon does on upload (`helper.go::CheckAssetsValid`).
fn check_declarations(entries: &[Entry]) -> Result<(), String> {
    let texts: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e.path.ends_with(".yaml"))
        .map(|e| {
            std::str::from_utf8(&e.data)
                .map(|t| (e.path.as_str(), t))
                .map_err(|_| format!("{} is not UTF-8", e.path))
        })
        .collect::<Result<_, _>>()?;
    let catalog = Catalog::from_files(&texts).map_err(|e| format!("declarations: {e}"))?;
    if catalog.models().is_empty() {
        return Err("the provider declares no models (check its model globs)".into());
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
            return Err(format!("{what} {name:?} is not in _assets/"));
        }
    }
    if let Some(privacy) = &m.privacy
        && !entries.iter().any(|e| &e.path == privacy)
    {
        return Err(format!("manifest privacy file {privacy:?} is not packaged"));
    }
    Ok(())
}

/// Replaces the manifest's `meta.arch` list, keeping every other line as written.
fn with_arch(manifest: &str, arches: &[&str]) -> Result<String, String> {
    let lines: Vec<&str> = manifest.split_inclusive('\n').collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == "  arch:" || (indent(l) > 0 && l.trim() == "arch:"))
        .ok_or("manifest.yaml has no block-style `arch:` list under meta to rewrite")?;
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
        .map_err(|e| format!("rewriting meta.arch broke manifest.yaml: {e}"))?;
    if check.meta.arch != arches {
        return Err("could not rewrite meta.arch in manifest.yaml".into());
    }
    Ok(out)
}

#[derive(Debug, PartialEq)]
enum Linkage {
    Static,
    Dynamic,
}

/// Checks the file is a 64-bit little-endian ELF executable for `target`'s machine and
/// says whether it asks for a dynamic loader.
fn check_elf(data: &[u8], target: &Target) -> Result<Linkage, String> {
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        data.get(o..o + 8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    };
    if data.get(..4) != Some(b"\x7fELF".as_slice())
        || data.get(4) != Some(&2)
        || data.get(5) != Some(&1)
    {
        return Err("not a 64-bit little-endian ELF executable".into());
    }
    let machine = u16_at(18).ok_or("truncated ELF header")?;
    if machine != target.elf_machine {
        return Err(format!(
            "built for ELF machine {machine}, not {} ({})",
            target.elf_machine, target.arch
        ));
    }
    let phoff = u64_at(32).ok_or("truncated ELF header")? as usize;
    let phentsize = usize::from(u16_at(54).ok_or("truncated ELF header")?);
    let phnum = usize::from(u16_at(56).ok_or("truncated ELF header")?);
    const PT_INTERP: u32 = 3;
    for i in 0..phnum {
        let p_type = u32_at(phoff + i * phentsize).ok_or("truncated ELF program headers")?;
        if p_type == PT_INTERP {
            return Ok(Linkage::Dynamic);
        }
    }
    Ok(Linkage::Static)
}

/// The daemon's package checksum (`decoder/checksum.go`), part of the installed
/// plugin's identity and working directory name.
fn checksum(entries: &[Entry]) -> String {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = Sha256::new();
    for e in sorted {
        h.update(Sha256::digest(e.path.as_bytes()));
        h.update(Sha256::digest(&e.data));
    }
    h.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The signature time: `SOURCE_DATE_EPOCH` for reproducible builds, else now.
fn signing_time() -> i64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        })
}

fn too_large(entries: &[Entry], total: u64, max: u64) -> String {
    let mut by_size: Vec<&Entry> = entries.iter().collect();
    by_size.sort_by_key(|e| std::cmp::Reverse(e.data.len()));
    let mut msg = format!(
        "the package would be {total} bytes uncompressed, over the limit of {max} bytes; largest files:"
    );
    for e in by_size.iter().take(5) {
        let _ = write!(msg, "\n  {} ({} bytes)", e.path, e.data.len());
    }
    msg
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("partial");
    fs::write(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn options_parse() {
        let o = parse_args(&args(
            "--targets aarch64 --out=/tmp/x --binary x86_64=/b --allow-missing",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(o.targets, vec![TARGETS[1]]);
        assert_eq!(o.out, Some(PathBuf::from("/tmp/x")));
        assert_eq!(o.binaries, vec![(TARGETS[0], PathBuf::from("/b"))]);
        assert!(o.allow_missing);
        assert!(parse_args(&args("--targets riscv")).is_err());
        assert!(parse_args(&args("--category friends")).is_err());
        assert!(parse_args(&args("--public-key-out k.pem")).is_err());
        assert!(parse_args(&args("--help")).unwrap().is_none());
    }

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

    #[test]
    fn elf_checks() {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[18] = 62;
        assert_eq!(check_elf(&h, &TARGETS[0]), Ok(Linkage::Static));
        assert!(check_elf(&h, &TARGETS[1]).is_err());
        assert!(check_elf(b"#!/bin/sh", &TARGETS[0]).is_err());
    }

    #[test]
    fn package_paths() {
        assert!(check_path("bin/dify-bedrock-x86_64-linux-musl").is_ok());
        for bad in ["/abs", "a//b", "../x", "a/./b", "a\\b", ""] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
