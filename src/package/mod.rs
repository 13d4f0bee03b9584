//! `dify-bedrock package`: builds the installable `.difypkg` from the repository checkout.
//!
//! Dify's plugin daemon only runs plugins whose runner language is Python, so the package
//! is a "python" plugin: the declarations the daemon reads (manifest, provider and model
//! YAML, `_assets`), README and PRIVACY, an empty `requirements.txt`, a `main.py` that
//! `exec`s the Rust binary for the machine, and static musl binaries under `bin/`
//! (reference dify-protocol.md §6, §7). The zip is written as the daemon's own packager
//! writes it (`zip.rs`), `.difyignore` is honoured as there (`ignore.rs`), and the package
//! can be signed in the daemon's format (`sign.rs`). `build.rs` runs the steps: collect
//! the files (`collect.rs`), check them (`checks.rs`, `elf.rs`), sign, write.
//!
//! The binaries are built beforehand by `packaging/build-binaries.sh` (cargo-zigbuild);
//! this command only collects them, so it runs in seconds and never needs a cross
//! toolchain itself.

mod build;
mod checks;
mod collect;
mod elf;
mod error;
mod ignore;
pub(crate) mod sign;
mod zip;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) use error::Error;

/// The daemon's default `MAX_PLUGIN_PACKAGE_SIZE`: the limit on the total uncompressed
/// size of a package, and on the uploaded file (`decoder/zip.go`, `controllers/plugins.go`).
pub(crate) const MAX_PACKAGE_SIZE: u64 = 52_428_800;

/// A machine the package ships a binary for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    /// Our name for it, also in the binary's file name.
    pub(crate) arch: &'static str,
    /// The Rust target the binary is built for.
    pub(crate) triple: &'static str,
    /// The manifest's `meta.arch` value.
    pub(crate) dify_arch: &'static str,
    /// ELF `e_machine`, to catch a binary built for the wrong machine.
    elf_machine: u16,
}

pub(crate) const TARGETS: [Target; 2] = [
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
    pub(crate) fn package_path(&self) -> String {
        format!("bin/dify-bedrock-{}-linux-musl", self.arch)
    }
}

/// Build the installable .difypkg
///
/// Writes <out>/<name>-<version>.difypkg (name from manifest.yaml, version from
/// Cargo.toml) from the repository checkout and the musl binaries that
/// packaging/build-binaries.sh built.
#[derive(Debug, clap::Args)]
// As with the hand-written parser before: a repeated option takes its last value, so a
// wrapper script's defaults can be overridden (packaging/build-package.sh).
#[command(args_override_self = true)]
pub struct PackageArgs {
    /// The repository checkout (default: found above this binary, then above the current
    /// directory)
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Where to write the package (default: <root>/dist)
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Machines to ship, comma-separated: x86_64, aarch64
    #[arg(long, value_name = "LIST", value_parser = parse_targets, default_value = "x86_64,aarch64")]
    targets: Targets,
    /// Cargo target dir of the musl builds, holding <triple>/release/dify-bedrock
    /// (default: <root>/target/package)
    #[arg(long, value_name = "DIR")]
    target_dir: Option<PathBuf>,
    /// Take ARCH's binary from PATH instead (repeatable)
    #[arg(long = "binary", value_name = "ARCH=PATH", value_parser = parse_binary)]
    binaries: Vec<(Target, PathBuf)>,
    /// Ship the targets whose binary exists, warn about the others (default: a missing
    /// binary is an error)
    #[arg(long)]
    allow_missing: bool,
    /// Sign with this RSA private key in the daemon's format
    #[arg(long, value_name = "KEY.pem")]
    sign: Option<PathBuf>,
    /// authorized_category recorded when signing: community, partner or langgenius
    #[arg(long, value_name = "NAME", value_parser = parse_category, default_value = "community")]
    category: String,
    /// With --sign: also write the public key as the daemon loads it
    #[arg(long, value_name = "PATH", requires = "sign")]
    public_key_out: Option<PathBuf>,
    /// Size limit in bytes (the default is the daemon's default)
    #[arg(long, value_name = "BYTES", default_value_t = MAX_PACKAGE_SIZE)]
    max_size: u64,
}

/// The machines of `--targets`, in the order given, each once.
#[derive(Debug, Clone, PartialEq)]
struct Targets(Vec<Target>);

/// Why an option's value is refused; clap prints it after the option and the value.
#[derive(Debug, PartialEq)]
enum BadValue {
    UnknownTarget(String),
    NoTarget,
    NotArchEqualsPath(String),
    UnknownCategory(String),
}

impl std::fmt::Display for BadValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadValue::UnknownTarget(name) => {
                write!(f, "unknown target {name:?} (x86_64 or aarch64)")
            }
            BadValue::NoTarget => f.write_str("--targets names no target"),
            BadValue::NotArchEqualsPath(value) => {
                write!(f, "--binary takes ARCH=PATH, got {value:?}")
            }
            BadValue::UnknownCategory(c) => write!(
                f,
                "unknown category {c:?} (one of {})",
                sign::CATEGORIES.join(", ")
            ),
        }
    }
}

impl std::error::Error for BadValue {}

fn parse_targets(list: &str) -> Result<Targets, BadValue> {
    let mut targets = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let t = Target::parse(name).ok_or_else(|| BadValue::UnknownTarget(name.into()))?;
        if !targets.contains(&t) {
            targets.push(t);
        }
    }
    if targets.is_empty() {
        return Err(BadValue::NoTarget);
    }
    Ok(Targets(targets))
}

fn parse_binary(value: &str) -> Result<(Target, PathBuf), BadValue> {
    let (arch, path) = value
        .split_once('=')
        .ok_or_else(|| BadValue::NotArchEqualsPath(value.into()))?;
    let t = Target::parse(arch).ok_or_else(|| BadValue::UnknownTarget(arch.into()))?;
    Ok((t, PathBuf::from(path)))
}

fn parse_category(value: &str) -> Result<String, BadValue> {
    let c = value.to_ascii_lowercase();
    if !sign::CATEGORIES.contains(&c.as_str()) {
        return Err(BadValue::UnknownCategory(c));
    }
    Ok(c)
}

/// `dify-bedrock package`: exit status 0 when the package is written, 1 when it is not.
pub fn run(args: PackageArgs) -> ExitCode {
    let mut warnings = Vec::new();
    let result = build::build(&args, &mut warnings);
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `PackageArgs` as the binary parses them.
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: PackageArgs,
    }

    fn parse(line: &str) -> Result<PackageArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("package").chain(line.split_whitespace()))
            .map(|c| c.args)
    }

    #[test]
    fn options_parse() {
        let o = parse("--targets aarch64 --out=/tmp/x --binary x86_64=/b --allow-missing").unwrap();
        assert_eq!(o.targets, Targets(vec![TARGETS[1]]));
        assert_eq!(o.out, Some(PathBuf::from("/tmp/x")));
        assert_eq!(o.binaries, vec![(TARGETS[0], PathBuf::from("/b"))]);
        assert!(o.allow_missing);
        assert_eq!(o.category, "community");
        assert_eq!(o.max_size, MAX_PACKAGE_SIZE);

        let o = parse("").unwrap();
        assert_eq!(o.targets, Targets(TARGETS.to_vec()));
        // Names in any of our spellings, each machine once; the last of a repeated option wins.
        let o = parse("--targets arm64,aarch64-unknown-linux-musl,x86_64 --category PARTNER --max-size 9 --max-size 10").unwrap();
        assert_eq!(o.targets, Targets(vec![TARGETS[1], TARGETS[0]]));
        assert_eq!((o.category.as_str(), o.max_size), ("partner", 10));

        let err = |line: &str| parse(line).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err("--targets riscv").contains("unknown target \"riscv\""));
        assert!(err("--targets ,").contains("--targets names no target"));
        assert!(err("--binary x86_64").contains("--binary takes ARCH=PATH"));
        assert!(err("--category friends").contains("unknown category \"friends\""));
        assert!(err("--public-key-out k.pem").contains("--sign"));
        assert!(err("--max-size lots").contains("--max-size"));
        assert!(err("--bogus").contains("--bogus"));
        assert_eq!(
            parse("--help").map(|_| ()).map_err(|e| e.kind()),
            Err(clap::error::ErrorKind::DisplayHelp)
        );
    }
}
