//! The installable package, end to end, through the built binary's `package` command.
//!
//! Builds the `.difypkg`, checks its files, layout and size the way the daemon's packager
//! and decoder see them, verifies a signed package as the daemon's verifier does
//! (`decoder/verifier.go`, re-implemented here, cross-checked with openssl), then
//! installs it as the daemon's local runtime does (reference dify-protocol.md §6, §7):
//! unzip with 0644 modes into `<author>/<name>-<version>@<checksum>`, `uv venv`,
//! `uv pip install -r requirements.txt` (offline), compileall, then
//! `.venv/bin/python -m main` with INSTALL_METHOD=local, waits for the first heartbeat and
//! runs an `invoke_llm` against the Bedrock test double. The aarch64 binary is started
//! under qemu user emulation. `main.py` is also run where it cannot run the binary from
//! the disk, and must run it from memory; requirements.txt must give the daemon an SDK
//! version.
//!
//! The binaries are the static musl builds of `packaging/build-binaries.sh`, which
//! `.ci/run` runs first; a test run without them builds them with the same script, and
//! if that cannot work here it ships the stripped host binary instead and says so.

mod support;

use std::fs;
use std::io::{Cursor, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::Plugin;
use support::aws::{double, key_credentials, llm_request, user};

const BIN: &str = env!("CARGO_BIN_EXE_dify-bedrock");
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The daemon's default MAX_PLUGIN_PACKAGE_SIZE.
const MAX_SIZE: u64 = 52_428_800;
/// The Dify API's default PLUGIN_MAX_PACKAGE_SIZE, checked on upload before the daemon.
const API_UPLOAD_LIMIT: u64 = 15_728_640;
const NOVA: &str = "amazon.nova-lite-v1:0";
/// (our name, Rust target, manifest arch)
const TARGETS: [(&str, &str, &str); 2] = [
    ("x86_64", "x86_64-unknown-linux-musl", "amd64"),
    ("aarch64", "aarch64-unknown-linux-musl", "arm64"),
];

/// Says something in the test log even when the test passes: the harness captures
/// `eprintln!`, not writes to the stderr handle. Skips and fallbacks must be seen in CI.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("package")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn musl_dir() -> PathBuf {
    std::env::var_os("DIFY_BEDROCK_PACKAGE_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/package"))
}

fn musl_binary(triple: &str) -> PathBuf {
    musl_dir().join(triple).join("release/dify-bedrock")
}

fn tools_venv() -> &'static Path {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let venv = musl_dir().join("tools");
        let status = Command::new("bash")
            .arg(root().join("packaging/setup-tools.sh"))
            .arg(&venv)
            .status()
            .expect("run packaging/setup-tools.sh");
        assert!(
            status.success(),
            "packaging/setup-tools.sh failed (python3 and PyPI are needed)"
        );
        venv
    })
}

/// `--binary`/`--targets` arguments for the binaries the package ships, and their names.
struct Binaries {
    args: Vec<String>,
    shipped: Vec<&'static str>,
    /// The host binary stands in for the x86_64 musl build.
    host_fallback: bool,
}

fn binaries() -> &'static Binaries {
    static BINARIES: OnceLock<Binaries> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let missing: Vec<&str> = TARGETS
            .iter()
            .filter(|(_, triple, _)| !musl_binary(triple).is_file())
            .map(|(arch, _, _)| *arch)
            .collect();
        // .ci/run has just run the build script: a target missing now could not be built.
        let tried = std::env::var_os("DIFY_BEDROCK_PACKAGE_BUILT").is_some();
        if !missing.is_empty() && !tried {
            note!(
                "package test: no musl build for {missing:?}; running packaging/build-binaries.sh (.ci/run does this before the tests)"
            );
            let status = Command::new("bash")
                .arg(root().join("packaging/build-binaries.sh"))
                .args(&missing)
                .status()
                .expect("run packaging/build-binaries.sh");
            if !status.success() {
                note!("package test: packaging/build-binaries.sh built none of {missing:?}");
            }
        }
        warn_if_stale();
        let mut b = Binaries {
            args: Vec::new(),
            shipped: Vec::new(),
            host_fallback: false,
        };
        for (arch, triple, _) in TARGETS {
            let bin = musl_binary(triple);
            if bin.is_file() {
                b.args.push(format!("--binary={arch}={}", bin.display()));
                b.shipped.push(arch);
            } else if arch == std::env::consts::ARCH {
                // No musl build could be made here: ship the host build, stripped (the
                // debug build's symbols alone are over the size limit), so the install
                // test still runs. The package command warns that it is not static.
                note!(
                    "package test: WARNING: no {arch} musl binary; packaging the host build instead"
                );
                let stripped = scratch("host-binary").join("dify-bedrock");
                fs::copy(BIN, &stripped).expect("copy the host binary");
                let ok = Command::new("strip")
                    .arg(&stripped)
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(ok, "strip is needed to package the host binary");
                b.args
                    .push(format!("--binary={arch}={}", stripped.display()));
                b.shipped.push(arch);
                b.host_fallback = true;
            } else {
                note!(
                    "package test: WARNING: no {arch} musl binary could be built; the package ships without it"
                );
            }
        }
        assert!(!b.shipped.is_empty(), "no binary to package");
        b.args.push(format!("--targets={}", b.shipped.join(",")));
        b
    })
}

/// Says so when a musl build is older than the sources (a developer's run after edits).
fn warn_if_stale() {
    fn newest(dir: &Path) -> std::time::SystemTime {
        let mut t = std::time::UNIX_EPOCH;
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                let m = if p.is_dir() {
                    newest(&p)
                } else {
                    e.metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH)
                };
                t = t.max(m);
            }
        }
        t
    }
    let src = newest(&root().join("src"));
    for (arch, triple, _) in TARGETS {
        let built = fs::metadata(musl_binary(triple)).and_then(|m| m.modified());
        if built.is_ok_and(|b| b < src) {
            note!(
                "package test: note: the {arch} musl binary is older than src/; run packaging/build-binaries.sh to test the current code"
            );
        }
    }
}

fn run_package(args: &[String]) -> Output {
    Command::new(BIN)
        .arg("package")
        .args(args)
        .output()
        .expect("run dify-bedrock package")
}

fn package_into(out: &Path, extra: &[&str]) -> PathBuf {
    let mut args = vec![
        format!("--root={}", root().display()),
        format!("--out={}", out.display()),
    ];
    args.extend(binaries().args.iter().cloned());
    args.extend(extra.iter().map(|s| s.to_string()));
    let started = Instant::now();
    let o = run_package(&args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "package failed:\n{stdout}\n{stderr}");
    note!(
        "package test: `dify-bedrock package` took {:?}:\n{stdout}{stderr}",
        started.elapsed()
    );
    out.join(format!("bedrock-{VERSION}.difypkg"))
}

/// The unsigned package, built once for the tests that read or install it.
fn unsigned() -> &'static Path {
    static PKG: OnceLock<PathBuf> = OnceLock::new();
    PKG.get_or_init(|| package_into(&scratch("unsigned"), &[]))
}

/// One entry as the daemon's zip decoder walks them: archive order.
struct Entry {
    name: String,
    data: Vec<u8>,
    compressed: u64,
    made_by_dos: bool,
    external_attributes: u32,
}

fn read_package(path: &Path) -> (Vec<Entry>, Vec<u8>, u64) {
    let bytes = fs::read(path).expect("read package");
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.as_slice())).expect("a zip");
    let comment = zip.comment().to_vec();
    let mut entries = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).expect("entry");
        let mut data = Vec::new();
        f.read_to_end(&mut data).expect("entry data (CRC checked)");
        assert!(
            f.is_file(),
            "{} is not a file entry",
            f.name().unwrap_or_default()
        );
        entries.push(Entry {
            name: f.name().expect("UTF-8 name").into_owned(),
            data,
            compressed: f.compressed_size(),
            made_by_dos: f.system() == zip::System::Dos,
            external_attributes: f.external_attributes(),
        });
    }
    (entries, comment, bytes.len() as u64)
}

/// Files the package must take from the repository, by package path.
fn expected_sources() -> Vec<(String, PathBuf)> {
    let mut files = vec![
        ("manifest.yaml".to_string(), root().join("manifest.yaml")),
        ("README.md".into(), root().join("README.md")),
        ("PRIVACY.md".into(), root().join("PRIVACY.md")),
        ("main.py".into(), root().join("packaging/main.py")),
        (
            "requirements.txt".into(),
            root().join("packaging/requirements.txt"),
        ),
        (".difyignore".into(), root().join("packaging/.difyignore")),
    ];
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
        for e in fs::read_dir(dir).expect("read dir").flatten() {
            let p = e.path();
            let name = format!("{prefix}/{}", e.file_name().to_string_lossy());
            if p.is_dir() {
                walk(&p, &name, out);
            } else {
                out.push((name, p));
            }
        }
    }
    for dir in ["provider", "models", "_assets"] {
        walk(&root().join(dir), dir, &mut files);
    }
    files
}

#[test]
fn package_holds_the_plugin_files_and_binaries_in_the_daemons_layout() {
    let path = unsigned();
    let (entries, comment, file_size) = read_package(path);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();

    // Sorted `/` paths, file entries only, nothing a Go zip reader would refuse.
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entries are not sorted");
    for n in &names {
        assert!(
            !n.starts_with('/')
                && !n.contains('\\')
                && !n.split('/').any(|c| c.is_empty() || c == "." || c == ".."),
            "bad path {n}"
        );
    }
    // No file-mode bits, as Go's zip.Writer.Create writes them.
    for e in &entries {
        assert!(
            e.made_by_dos && e.external_attributes == 0,
            "{} carries a mode",
            e.name
        );
    }
    assert!(comment.is_empty(), "an unsigned package has no comment");

    // Exactly the repository's plugin files (junk aside) and the binaries.
    let ignore_text = fs::read_to_string(root().join("packaging/.difyignore")).expect("read");
    let junk = |n: &str| {
        ignore_text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("*."))
            .any(|ext| n.ends_with(&format!(".{ext}")))
            || n.ends_with(".DS_Store")
            || n.contains("__pycache__/")
    };
    let mut expected: Vec<(String, PathBuf)> = expected_sources()
        .into_iter()
        .filter(|(n, _)| !junk(n))
        .collect();
    let bins = binaries();
    for (arch, triple, _) in TARGETS {
        if bins.shipped.contains(&arch) {
            let source = if bins.host_fallback && arch == std::env::consts::ARCH {
                scratch_path("host-binary/dify-bedrock")
            } else {
                musl_binary(triple)
            };
            expected.push((format!("bin/dify-bedrock-{arch}-linux-musl"), source));
        }
    }
    expected.sort();
    let expected_names: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, expected_names);
    for (name, source) in &expected {
        let e = entries.iter().find(|e| &e.name == name).expect("entry");
        if name != "manifest.yaml" {
            assert!(
                e.data == fs::read(source).expect("read source"),
                "{name} differs from {}",
                source.display()
            );
        }
    }

    // The manifest: the crate's version, the Python runner, the shipped machines.
    let manifest: Value =
        serde_yaml::from_slice(&entry(&entries, "manifest.yaml").data).expect("yaml");
    assert_eq!(manifest["version"], VERSION);
    assert_eq!(
        manifest["meta"]["runner"],
        json!({"language": "python", "version": "3.12", "entrypoint": "main"})
    );
    let arches: Vec<&str> = TARGETS
        .iter()
        .filter(|(a, _, _)| bins.shipped.contains(a))
        .map(|(_, _, d)| *d)
        .collect();
    assert_eq!(manifest["meta"]["arch"], json!(arches));

    // requirements.txt exists (the daemon needs it) and asks for nothing.
    let reqs = String::from_utf8(entry(&entries, "requirements.txt").data.clone()).expect("utf-8");
    assert!(
        reqs.lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')),
        "requirements.txt must list no dependency:\n{reqs}"
    );

    // Under the daemon's limit: total uncompressed size, and the uploaded file.
    let total: u64 = entries.iter().map(|e| e.data.len() as u64).sum();
    let zipped: u64 = entries.iter().map(|e| e.compressed).sum();
    note!(
        "package test: {} files, {total} bytes uncompressed, {zipped} compressed, file {file_size} bytes",
        entries.len()
    );
    assert!(
        total <= MAX_SIZE,
        "{total} bytes uncompressed is over the limit"
    );
    assert!(file_size <= MAX_SIZE);
    // The Dify API's own default upload limit (PLUGIN_MAX_PACKAGE_SIZE) is lower.
    if !binaries().host_fallback {
        assert!(
            file_size <= API_UPLOAD_LIMIT,
            "{file_size} bytes is over Dify's default upload limit"
        );
    }
    for e in entries.iter().filter(|e| e.name.starts_with("bin/")) {
        note!("package test: {} is {} bytes", e.name, e.data.len());
    }
}

fn scratch_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("package")
        .join(rel)
}

fn entry<'a>(entries: &'a [Entry], name: &str) -> &'a Entry {
    entries
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name} in the package"))
}

/// A 64-byte ELF header for `machine`: enough for the package command's checks.
fn fake_elf(machine: u8) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2;
    h[5] = 1;
    h[18] = machine;
    h
}

/// A copy of the plugin's files, to package with changes the repository must not have.
fn copy_of_the_repo(dir: &Path) -> PathBuf {
    let copy = dir.join("repo");
    for (rel, source) in expected_sources() {
        let target = if ["main.py", "requirements.txt", ".difyignore"].contains(&rel.as_str()) {
            copy.join("packaging").join(&rel)
        } else {
            copy.join(&rel)
        };
        fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        fs::copy(&source, &target).expect("copy");
    }
    let bins = dir.join("bins");
    fs::create_dir_all(&bins).expect("mkdir");
    fs::write(bins.join("x86_64"), fake_elf(62)).expect("write");
    fs::write(bins.join("aarch64"), fake_elf(183)).expect("write");
    copy
}

fn package_copy(dir: &Path, copy: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        format!("--root={}", copy.display()),
        format!("--out={}", dir.join("out").display()),
        format!("--binary=x86_64={}", dir.join("bins/x86_64").display()),
        format!("--binary=aarch64={}", dir.join("bins/aarch64").display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run_package(&args)
}

#[test]
fn difyignore_leaves_junk_out_and_arch_follows_the_binaries() {
    let dir = scratch("junk");
    let copy = copy_of_the_repo(&dir);
    for junk in [
        "_assets/.DS_Store",
        "models/llm/__pycache__/x.cpython-311.pyc",
        "provider/.bedrock.yaml.swp",
        "models/llm/notes.txt~",
    ] {
        let p = copy.join(junk);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, "junk").expect("write junk");
    }
    let o = package_copy(&dir, &copy, &["--targets=aarch64"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("4 file(s) left out by .difyignore"));
    let (entries, _, _) = read_package(&dir.join(format!("out/bedrock-{VERSION}.difypkg")));
    for e in &entries {
        assert!(
            !e.name.contains(".DS_Store")
                && !e.name.contains("__pycache__")
                && !e.name.ends_with(".swp")
                && !e.name.ends_with('~'),
            "junk packaged: {}",
            e.name
        );
    }
    assert!(
        entries
            .iter()
            .any(|e| e.name == "bin/dify-bedrock-aarch64-linux-musl")
    );
    assert!(
        !entries
            .iter()
            .any(|e| e.name == "bin/dify-bedrock-x86_64-linux-musl")
    );
    let manifest: Value =
        serde_yaml::from_slice(&entry(&entries, "manifest.yaml").data).expect("yaml");
    assert_eq!(manifest["meta"]["arch"], json!(["arm64"]));
}

#[test]
fn the_package_command_refuses_what_the_daemon_would() {
    let dir = scratch("refusals");
    let copy = copy_of_the_repo(&dir);
    let fails_with = |extra: &[&str], needle: &str| {
        let o = package_copy(&dir, &copy, extra);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            !o.status.success() && err.contains(needle),
            "expected {needle:?}, got: {err}"
        );
    };

    // Over the size limit: the largest files are named.
    fails_with(&["--max-size=1000"], "over the limit of 1000 bytes");
    // A binary for the wrong machine.
    let wrong = dir.join("bins/aarch64").display().to_string();
    fails_with(&[&format!("--binary=x86_64={wrong}")], "not 62 (x86_64)");
    // A missing binary is an error unless allowed.
    fails_with(
        &["--binary=x86_64=/nonexistent"],
        "build it with packaging/build-binaries.sh",
    );
    let o = package_copy(
        &dir,
        &copy,
        &["--binary=x86_64=/nonexistent", "--allow-missing"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A key that is not a private key.
    let not_a_key = dir.join("not-a-key.pem");
    fs::write(&not_a_key, "hello").expect("write");
    fails_with(
        &[&format!("--sign={}", not_a_key.display())],
        "not a PEM file",
    );

    // The manifest's version must be the crate's.
    let manifest = copy.join("manifest.yaml");
    let text = fs::read_to_string(&manifest).expect("read");
    fs::write(
        &manifest,
        text.replacen(&format!("version: {VERSION}"), "version: 9.9.9", 1),
    )
    .expect("write");
    fails_with(&[], "manifest.yaml says version 9.9.9 but Cargo.toml says");
    fs::write(&manifest, &text).expect("write");

    // Every icon the declarations name must be in _assets.
    fs::remove_file(copy.join("_assets/icon_dark.svg")).expect("rm");
    fails_with(&[], "icon_dark.svg");
}

/// Reads a PEM file as Go's `encryption.LoadPublicKey` does: one `RSA PUBLIC KEY`
/// block and nothing after it.
fn load_public_key_like_the_daemon(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let begin = "-----BEGIN RSA PUBLIC KEY-----\n";
    let end = "-----END RSA PUBLIC KEY-----\n";
    assert!(
        pem.starts_with(begin),
        "not an RSA PUBLIC KEY block:\n{pem}"
    );
    let body_end = pem.find(end).expect("PEM end line");
    assert_eq!(
        body_end + end.len(),
        pem.len(),
        "extra data after the PEM block"
    );
    let b64: String = pem[begin.len()..body_end].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64")
}

/// The daemon's check (`VerifyPluginWithPublicKeys`): SHA-256 of each file in archive
/// order, then the decimal time, verified as PKCS#1 v1.5 SHA-256.
fn daemon_verifies(entries: &[Entry], comment: &[u8], public_key_der: &[u8]) -> bool {
    let sig: Value = serde_json::from_slice(comment).expect("comment is JSON");
    let time = sig["time"].as_i64().expect("time");
    let signature = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(sig["signature"].as_str().expect("signature"))
            .expect("base64 signature")
    };
    let mut data = Vec::new();
    for e in entries {
        data.extend_from_slice(&Sha256::digest(&e.data));
    }
    data.extend_from_slice(time.to_string().as_bytes());
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key_der)
        .verify(&data, &signature)
        .is_ok()
}

fn openssl(args: &[&str], dir: &Path) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl")
}

#[test]
fn a_signed_package_verifies_as_the_daemon_verifies_it() {
    if Command::new("openssl").arg("version").output().is_err() {
        note!(
            "package test: SKIPPED signing: openssl (to make test keys) is not installed; packaging/setup-tools.sh --system installs it"
        );
        return;
    }
    let dir = scratch("signed");
    // Keys as `dify signature generate` writes them: PKCS#1 PEM.
    for name in ["mine", "other"] {
        let o = openssl(
            &[
                "genrsa",
                "-traditional",
                "-out",
                &format!("{name}.private.pem"),
                "2048",
            ],
            &dir,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = openssl(
            &[
                "rsa",
                "-in",
                &format!("{name}.private.pem"),
                "-RSAPublicKey_out",
                "-out",
                &format!("{name}.public.pem"),
            ],
            &dir,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let out = dir.join("out");
    let written_public = dir.join("written.public.pem");
    let path = package_into(
        &out,
        &[
            &format!("--sign={}", dir.join("mine.private.pem").display()),
            &format!("--public-key-out={}", written_public.display()),
            "--category=community",
        ],
    );
    let (entries, comment, _) = read_package(&path);

    // The public key the command writes is the one openssl derives, in the daemon's form.
    let mine = fs::read_to_string(dir.join("mine.public.pem")).expect("read");
    assert_eq!(fs::read_to_string(&written_public).expect("read"), mine);

    // The verification file comes last, as the dify CLI's signer puts it.
    let last = entries.last().expect("entries");
    assert_eq!(last.name, ".verification.dify.json");
    assert_eq!(last.data, br#"{"authorized_category":"community"}"#);
    let rest: Vec<&str> = entries[..entries.len() - 1]
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let mut sorted = rest.clone();
    sorted.sort();
    assert_eq!(rest, sorted);

    let comment_json: Value = serde_json::from_slice(&comment).expect("JSON comment");
    let keys: Vec<&String> = comment_json.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["signature", "time"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    assert!((comment_json["time"].as_i64().expect("time") - now).abs() < 600);

    assert!(daemon_verifies(
        &entries,
        &comment,
        &load_public_key_like_the_daemon(&mine)
    ));
    let other = fs::read_to_string(dir.join("other.public.pem")).expect("read");
    assert!(!daemon_verifies(
        &entries,
        &comment,
        &load_public_key_like_the_daemon(&other)
    ));
    // Any changed file breaks it.
    let mut tampered: Vec<Entry> = entries
        .iter()
        .map(|e| Entry {
            name: e.name.clone(),
            data: e.data.clone(),
            compressed: e.compressed,
            made_by_dos: e.made_by_dos,
            external_attributes: e.external_attributes,
        })
        .collect();
    if let Some(m) = tampered.iter_mut().find(|e| e.name == "manifest.yaml") {
        m.data.extend_from_slice(b"# changed\n");
    }
    assert!(!daemon_verifies(
        &tampered,
        &comment,
        &load_public_key_like_the_daemon(&mine)
    ));

    // openssl agrees, independently of ring.
    let mut data = Vec::new();
    for e in &entries {
        data.extend_from_slice(&Sha256::digest(&e.data));
    }
    data.extend_from_slice(comment_json["time"].to_string().as_bytes());
    fs::write(dir.join("signed-data.bin"), &data).expect("write");
    let signature = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(comment_json["signature"].as_str().expect("signature"))
            .expect("base64")
    };
    fs::write(dir.join("signature.bin"), signature).expect("write");
    let o = openssl(
        &[
            "rsa",
            "-in",
            "mine.private.pem",
            "-pubout",
            "-out",
            "mine.spki.pem",
        ],
        &dir,
    );
    assert!(o.status.success());
    let o = openssl(
        &[
            "dgst",
            "-sha256",
            "-verify",
            "mine.spki.pem",
            "-signature",
            "signature.bin",
            "signed-data.bin",
        ],
        &dir,
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("Verified OK"),
        "openssl: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Unzips as the daemon's `ZipPluginDecoder::ExtractTo` does: archive order, parent
/// directories 0755, every file 0644 whatever the archive says.
fn extract_like_the_daemon(pkg: &Path, dst: &Path) {
    let (entries, _, _) = read_package(pkg);
    for e in entries {
        let target = dst.join(&e.name);
        assert!(
            target.starts_with(dst),
            "{} escapes the working directory",
            e.name
        );
        fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&target)
            .expect("create");
        f.write_all(&e.data).expect("write");
    }
}

/// The daemon's package checksum (`decoder/checksum.go`), for its working-dir name.
fn daemon_checksum(pkg: &Path) -> String {
    let (mut entries, _, _) = read_package(pkg);
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut h = Sha256::new();
    for e in &entries {
        h.update(Sha256::digest(e.name.as_bytes()));
        h.update(Sha256::digest(&e.data));
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let o = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        o.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Installs the package as the daemon's local runtime does; returns the working dir.
fn install_like_the_daemon(pkg: &Path, plugin_working_path: &Path) -> PathBuf {
    // $PLUGIN_WORKING_PATH/<author>/<name>-<version>@<checksum>
    let workdir = plugin_working_path
        .join("dify-bedrock")
        .join(format!("bedrock-{VERSION}@{}", daemon_checksum(pkg)));
    extract_like_the_daemon(pkg, &workdir);
    for e in walk_files(&workdir) {
        let mode = fs::metadata(&e).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{} extracted as {mode:o}", e.display());
    }

    // uv, found as the daemon finds it (`from uv._find_uv import find_uv_bin`).
    let tools_python = tools_venv().join("bin/python");
    let o = run_ok(
        Command::new(&tools_python).args([
            "-c",
            "from uv._find_uv import find_uv_bin; print(find_uv_bin())",
        ]),
        "find uv",
    );
    let uv = String::from_utf8_lossy(&o.stdout).trim().to_string();

    // `uv venv .venv --python 3.12`, as the daemon runs it; this machine may have no
    // 3.12 and cannot download one, so then the machine's python3 stands in.
    let venv = Command::new(&uv)
        .args(["venv", ".venv", "--python", "3.12"])
        .current_dir(&workdir)
        .env("UV_PYTHON_DOWNLOADS", "never")
        .output()
        .expect("run uv venv");
    if !venv.status.success() {
        note!("package test: no Python 3.12 here; the venv uses the machine's python3");
        run_ok(
            Command::new(&uv)
                .args(["venv", ".venv", "--python", "python3"])
                .current_dir(&workdir)
                .env("UV_PYTHON_DOWNLOADS", "never"),
            "uv venv",
        );
    }
    // The daemon prefers pyproject.toml; this package must go the requirements.txt way.
    assert!(!workdir.join("pyproject.toml").exists());
    assert!(workdir.join("requirements.txt").is_file());
    // `uv pip install -r requirements.txt -vvv` (-vvv: PIP_VERBOSE, on by default) with
    // the daemon's environment for uv, and no network: uv offline, its index and every
    // proxy on a refused port. A daemon without internet access must install it too.
    let uv_offline = |args: &[&str]| {
        let refused = refused_url();
        let mut cmd = Command::new(&uv);
        cmd.args(args)
            .current_dir(&workdir)
            .env_clear()
            .env("VIRTUAL_ENV", workdir.join(".venv"))
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("UV_CACHE_DIR", plugin_working_path.join(".uv-cache"))
            .env("UV_OFFLINE", "1")
            .env("UV_DEFAULT_INDEX", format!("{refused}/simple"))
            .env("HTTP_PROXY", &refused)
            .env("HTTPS_PROXY", &refused)
            .env("ALL_PROXY", &refused);
        cmd
    };
    run_ok(
        &mut uv_offline(&["pip", "install", "-r", "requirements.txt", "-vvv"]),
        "uv pip install -r requirements.txt, offline",
    );
    let o = run_ok(&mut uv_offline(&["pip", "freeze"]), "uv pip freeze");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "",
        "requirements.txt installed packages"
    );
    // The same environment does refuse a real dependency: the check above has teeth.
    fs::write(workdir.join("needs-a-package.txt"), "six==1.16.0\n").expect("write");
    let o = uv_offline(&["pip", "install", "-r", "needs-a-package.txt"])
        .output()
        .expect("run uv");
    assert!(
        !o.status.success(),
        "uv installed a package without the network: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    fs::remove_file(workdir.join("needs-a-package.txt")).expect("rm");
    let python = workdir.join(".venv/bin/python");
    // The daemon pre-compiles the plugin (a failure is only logged there; ours must compile).
    run_ok(
        Command::new(&python)
            .args(["-m", "compileall", "-x", r"\.venv|\.uv-cache", "."])
            .current_dir(&workdir),
        "python -m compileall",
    );
    fs::create_dir_all(workdir.join(".venv/dify")).expect("mkdir");
    fs::write(workdir.join(".venv/dify/plugin.json"), r#"{"timestamp":0}"#).expect("write");
    workdir
}

/// An http URL on 127.0.0.1 where nothing listens: every connection to it is refused.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn text_of(s: &support::Session) -> String {
    s.items()
        .iter()
        .filter_map(|c| c["delta"]["message"]["content"].as_str())
        .collect()
}

#[test]
fn installed_like_the_daemon_it_starts_and_answers() {
    let pkg = unsigned();
    let working = scratch("installed");
    let workdir = install_like_the_daemon(pkg, &working);

    // What the daemon runs: `.venv/bin/python -m main` in the working dir, its own
    // environment plus INSTALL_METHOD=local and PATH.
    let mut cmd = Command::new(workdir.join(".venv/bin/python"));
    cmd.args(["-m", "main"])
        .current_dir(&workdir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("INSTALL_METHOD", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let mut p = Plugin::spawn(cmd);
    let ready = p.wait_first_heartbeat(Duration::from_secs(60));
    note!("package test: first heartbeat {ready:?} after `python -m main`");

    // main.py exec'd the binary: the same process (the daemon's pid and pipes) now runs it.
    let arch = std::env::consts::ARCH;
    let exe = fs::read_link(format!("/proc/{}/exe", p.pid())).expect("read /proc/pid/exe");
    assert_eq!(
        exe,
        workdir.join(format!("bin/dify-bedrock-{arch}-linux-musl")),
        "the process is not the package's binary"
    );
    let mode = fs::metadata(&exe).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "main.py gives the binary its execute bits");

    let d = double();
    let s = p.call(
        "invoke_llm",
        llm_request(
            NOVA,
            &key_credentials(&d),
            user(r#"Are you installed? [[double: {"text": "Installed and answering."}]]"#),
            true,
            json!({"max_tokens": 50}),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(text_of(&s), "Installed and answering.");
    assert_eq!(d.requests().len(), 1);

    // Stopped as the daemon stops it: stdin closed.
    p.close_stdin();
    let status = p
        .wait_exit(Duration::from_secs(10))
        .expect("exits after stdin closes");
    assert!(status.success(), "{status:?}; stderr: {}", p.stderr());
}

#[test]
fn the_aarch64_binary_starts_and_answers_under_qemu() {
    if !binaries().shipped.contains(&"aarch64") {
        note!(
            "package test: SKIPPED qemu: no aarch64 binary was built (see packaging/build-binaries.sh output)"
        );
        return;
    }
    let Some(qemu) = ["qemu-aarch64-static", "qemu-aarch64"]
        .into_iter()
        .find(|q| {
            Command::new(q)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        note!(
            "package test: SKIPPED qemu: qemu-user-static is not installed; packaging/setup-tools.sh --system installs it"
        );
        return;
    };
    // The binary as the package carries it, given its execute bits as main.py does.
    let dir = scratch("qemu");
    extract_like_the_daemon(unsigned(), &dir);
    let bin = dir.join("bin/dify-bedrock-aarch64-linux-musl");
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).expect("chmod");

    let mut cmd = Command::new(qemu);
    cmd.arg(&bin)
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("INSTALL_METHOD", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let mut p = Plugin::spawn(cmd);
    let ready = p.wait_first_heartbeat(Duration::from_secs(90));
    note!("package test: aarch64 first heartbeat after {ready:?} under {qemu}");

    let d = double();
    let s = p.call(
        "invoke_llm",
        llm_request(
            NOVA,
            &key_credentials(&d),
            user(r#"[[double: {"text": "Answering from arm64."}]]"#),
            false,
            json!({}),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(text_of(&s), "Answering from arm64.");
    p.close_stdin();
    assert!(p.wait_exit(Duration::from_secs(20)).is_some());
}

/// main.py under the machine's python3, with `platform.machine` and `os.execv` replaced:
/// which binary it picks, that it restores the execute bits, what it passes on.
fn run_main_py(machine: &str, binaries: &[&str]) -> Output {
    let dir = scratch(&format!("main-py-{machine}-{}", binaries.len()));
    fs::copy(root().join("packaging/main.py"), dir.join("main.py")).expect("copy main.py");
    fs::create_dir_all(dir.join("bin")).expect("mkdir");
    for b in binaries {
        let p = dir.join("bin").join(b);
        fs::write(&p, "not really").expect("write");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let script = r#"
import json, os, platform, runpy, stat, sys
machine = sys.argv[2]
platform.machine = lambda: machine
def execv(path, argv):
    print(json.dumps({"path": os.path.relpath(path), "argv": [os.path.relpath(argv[0])] + argv[1:],
                      "mode": oct(stat.S_IMODE(os.stat(path).st_mode))}))
    sys.exit(0)
os.execv = execv
sys.argv = [sys.argv[1], "serve", "--flag"]
runpy.run_path(sys.argv[0], run_name="__main__")
"#;
    Command::new("python3")
        .args(["-c", script, "main.py", machine])
        .current_dir(&dir)
        .output()
        .expect("run python3")
}

#[test]
fn main_py_hands_over_to_the_binary_for_the_machine() {
    let both = [
        "dify-bedrock-x86_64-linux-musl",
        "dify-bedrock-aarch64-linux-musl",
    ];
    for (machine, arch) in [
        ("x86_64", "x86_64"),
        ("AMD64", "x86_64"),
        ("aarch64", "aarch64"),
        ("arm64", "aarch64"),
    ] {
        let o = run_main_py(machine, &both);
        assert!(
            o.status.success(),
            "{machine}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got: Value = serde_json::from_slice(&o.stdout).expect("JSON from the fake execv");
        let path = format!("bin/dify-bedrock-{arch}-linux-musl");
        assert_eq!(
            got,
            json!({"path": path, "argv": [path, "serve", "--flag"], "mode": "0o755"}),
            "{machine}"
        );
    }
    let o = run_main_py("riscv64", &both);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no binary for this machine") && err.contains("riscv64"),
        "{err}"
    );

    let o = run_main_py("aarch64", &both[..1]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("has no aarch64 binary") && err.contains("dify-bedrock-x86_64-linux-musl"),
        "{err}"
    );
}

/// The daemon's pattern for the SDK version in requirements.txt, tried first
/// (`local_runtime/patch.go::getPluginSdkVersion`). It has nothing Python's `re` and
/// Go's RE2 read differently.
const DAEMON_SDK_VERSION_RE: &str = r"(?:dify[_-]plugin)(?:~=|==)([0-9.a-z]+)";

/// The version the daemon reads from a dependency file with that pattern, if any.
fn daemon_sdk_version(text: &str) -> Option<String> {
    let script = "import re, sys\nm = re.search(sys.argv[1], sys.stdin.read())\nprint(m.group(1) if m else '', end='')";
    let mut child = Command::new("python3")
        .args(["-c", script, DAEMON_SDK_VERSION_RE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let o = child.wait_with_output().expect("python3");
    assert!(o.status.success());
    let version = String::from_utf8(o.stdout).expect("utf-8");
    (!version.is_empty()).then_some(version)
}

#[test]
fn requirements_txt_gives_the_daemon_an_sdk_version_and_asks_for_nothing() {
    // The matcher reads as the daemon does: no spaces around ==, case matters.
    for (text, want) in [
        ("dify_plugin==0.10.1\n", Some("0.10.1")),
        ("x\n# dify-plugin~=0.2.0 y", Some("0.2.0")),
        ("dify_plugin == 0.10.1", None),
        ("dify_plugin>=0.5.0", None),
        ("Dify_Plugin==0.5.0", None),
    ] {
        assert_eq!(daemon_sdk_version(text).as_deref(), want, "{text:?}");
    }

    let (entries, _, _) = read_package(unsigned());
    let reqs = String::from_utf8(entry(&entries, "requirements.txt").data.clone()).expect("utf-8");
    let version = daemon_sdk_version(&reqs).unwrap_or_else(|| {
        panic!("the daemon finds no SDK version in requirements.txt (it logs an ERROR at every launch):\n{reqs}")
    });
    // A plain release the daemon's go-version parses; from 0.1.1 on it patches nothing.
    let parts: Vec<u64> = version
        .split('.')
        .map(|p| {
            p.parse()
                .unwrap_or_else(|_| panic!("{version:?} is not a plain version"))
        })
        .collect();
    assert!(
        parts >= vec![0, 1, 1],
        "{version} < 0.1.1: the daemon would patch the SDK"
    );
    // The comment names the SDK the conformance test checks the plugin with.
    let pinned =
        fs::read_to_string(root().join("tests/conformance/requirements.txt")).expect("read");
    assert_eq!(
        daemon_sdk_version(&pinned).as_deref(),
        Some(version.as_str()),
        "packaging/requirements.txt names another SDK than tests/conformance/requirements.txt"
    );
    // Still a comment: nothing to install.
    assert!(
        reqs.lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')),
        "{reqs}"
    );
}

/// The host build, stripped, standing in for the package's musl binary where main.py
/// really hands over to it (the unstripped debug build is ten times the size).
fn stand_in_binary() -> &'static Path {
    static STAND_IN: OnceLock<PathBuf> = OnceLock::new();
    STAND_IN.get_or_init(|| {
        let path = scratch("stand-in").join("dify-bedrock");
        fs::copy(BIN, &path).expect("copy the host binary");
        if !Command::new("strip")
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success())
        {
            note!("package test: no strip; main.py tests copy the unstripped binary");
        }
        path
    })
}

/// A directory laid out as the installed package's main.py sees it: main.py and this
/// machine's binary, unpacked 0644 as the daemon does. Returns the binary's path.
fn main_py_dir(dir: &Path) -> PathBuf {
    fs::copy(root().join("packaging/main.py"), dir.join("main.py")).expect("copy main.py");
    fs::create_dir_all(dir.join("bin")).expect("mkdir");
    let bin = dir.join(format!(
        "bin/dify-bedrock-{}-linux-musl",
        std::env::consts::ARCH
    ));
    fs::copy(stand_in_binary(), &bin).expect("copy the binary");
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o644)).expect("chmod");
    bin
}

/// `python3 -c` that runs `prelude` (to break something), then main.py as the daemon
/// would (`-m main`, no arguments), with the daemon's environment plus a marker.
fn main_py_command(dir: &Path, prelude: &str) -> Command {
    let script = format!(
        "import errno, os, runpy, sys\n{prelude}\nsys.argv = ['main.py']\nrunpy.run_path('main.py', run_name='__main__')\n"
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-c", &script])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("INSTALL_METHOD", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("DIFY_BEDROCK_TEST_MARKER", "kept");
    cmd
}

/// chmod refused, as on a read-only mount.
const CHMOD_FAILS: &str = "def chmod(path, *args, **kwargs):
    raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
os.chmod = chmod";

/// chmod works but executing from the disk is refused, as on a noexec mount.
const EXEC_FROM_DISK_FAILS: &str = "real_execv = os.execv
def execv(path, argv):
    if str(path).endswith('-linux-musl'):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), path)
    real_execv(path, argv)
os.execv = execv";

#[test]
fn main_py_runs_the_binary_from_memory_where_it_cannot_run_it_from_disk() {
    let arch = std::env::consts::ARCH;
    for (case, prelude, cause, mode) in [
        ("read-only", CHMOD_FAILS, "cannot make it executable", 0o644),
        (
            "noexec",
            EXEC_FROM_DISK_FAILS,
            "cannot execute it where it is",
            0o755,
        ),
    ] {
        let dir = scratch(&format!("main-py-memory-{case}"));
        let bin = main_py_dir(&dir);
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64();
        let mut p = Plugin::spawn(main_py_command(&dir, prelude));
        let ready = p.wait_first_heartbeat(Duration::from_secs(60));
        note!("package test: {case}: first heartbeat {ready:?} after main.py, from memory");

        // One log line before anything else, in the daemon's format, at WARNING.
        let (lines, junk) = p.stdout_lines();
        assert!(junk.is_empty(), "{case}: non-JSON on stdout: {junk:?}");
        let log = &lines[0];
        assert_eq!(log["event"], "log", "{case}: {lines:?}");
        assert_eq!(log["session_id"], Value::Null, "{case}");
        assert_eq!(log["data"]["level"], "WARNING", "{case}");
        let message = log["data"]["message"].as_str().expect("message");
        assert!(
            message.contains(&bin.display().to_string())
                && message.contains(cause)
                && message.contains("in-memory copy"),
            "{case}: {message}"
        );
        let timestamp = log["data"]["timestamp"]
            .as_f64()
            .expect("a float timestamp");
        assert!((timestamp - started).abs() < 60.0, "{case}: {timestamp}");
        let warnings = lines
            .iter()
            .filter(|l| l.to_string().contains("in-memory copy"))
            .count();
        assert_eq!(warnings, 1, "{case}: {lines:?}");
        let stderr = p.stderr();
        assert!(
            stderr.contains("dify-bedrock: ") && stderr.contains(cause),
            "{case}: {stderr}"
        );

        // The same process (python3's pid, pipes and environment) runs the binary from
        // memory, under the binary's name.
        let pid = p.pid();
        let exe = fs::read_link(format!("/proc/{pid}/exe")).expect("read /proc/pid/exe");
        assert!(
            exe.to_string_lossy()
                .starts_with(&format!("/memfd:dify-bedrock-{arch}-linux-musl")),
            "{case}: runs {}",
            exe.display()
        );
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).expect("read cmdline");
        let argv0 = cmdline.split(|b| *b == 0).next().expect("argv[0]");
        assert_eq!(argv0, bin.as_os_str().as_encoded_bytes(), "{case}: argv[0]");
        let environ = fs::read(format!("/proc/{pid}/environ")).expect("read environ");
        assert!(
            environ
                .split(|b| *b == 0)
                .any(|v| v == b"DIFY_BEDROCK_TEST_MARKER=kept"),
            "{case}: the environment was not kept"
        );
        let on_disk = fs::metadata(&bin).expect("stat").permissions().mode() & 0o777;
        assert_eq!(on_disk, mode, "{case}: the binary's mode on disk");

        let s = p.call(
            "get_ai_model_schemas",
            json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "credentials": {}}),
        );
        assert_eq!(s.result()["model_schema"]["model"], NOVA, "{case}");

        p.close_stdin();
        let status = p
            .wait_exit(Duration::from_secs(10))
            .expect("exits after stdin closes");
        assert!(
            status.success(),
            "{case}: {status:?}; stderr: {}",
            p.stderr()
        );
    }
}

#[test]
fn main_py_runs_the_binary_from_disk_when_it_can_and_says_nothing() {
    let dir = scratch("main-py-disk");
    let bin = main_py_dir(&dir);
    let mut p = Plugin::spawn(main_py_command(&dir, ""));
    p.wait_first_heartbeat(Duration::from_secs(60));
    let exe = fs::read_link(format!("/proc/{}/exe", p.pid())).expect("read /proc/pid/exe");
    assert_eq!(exe, bin);
    let mode = fs::metadata(&bin).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
    let s = p.call(
        "get_ai_model_schemas",
        json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "credentials": {}}),
    );
    assert_eq!(s.result()["model_schema"]["model"], NOVA);
    // No warning: the binary's heartbeat is the first line.
    let (lines, junk) = p.stdout_lines();
    assert!(junk.is_empty(), "{junk:?}");
    assert_eq!(lines[0]["event"], "heartbeat", "{lines:?}");
    p.close_stdin();
    assert!(
        p.wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
    assert_eq!(p.stderr(), "");
}

#[test]
fn main_py_fails_clearly_when_the_binary_cannot_run_from_memory_either() {
    for (case, prelude, says, logged) in [
        (
            "no memfd",
            "def memfd_create(*args):
    raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))
os.memfd_create = memfd_create",
            "and cannot copy it to memory",
            false,
        ),
        (
            "memfd not executable",
            "def refused(*args):
    raise OSError(errno.EACCES, os.strerror(errno.EACCES))
os.execve = refused
os.execv = refused",
            "nor its in-memory copy",
            true,
        ),
    ] {
        let dir = scratch(&format!("main-py-fails-{}", case.replace(' ', "-")));
        let bin = main_py_dir(&dir);
        let o = main_py_command(&dir, &format!("{CHMOD_FAILS}\n{prelude}"))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run python3");
        assert_eq!(o.status.code(), Some(1), "{case}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&format!("dify-bedrock: cannot start {}: ", bin.display()))
                && last.contains("cannot make it executable")
                && last.contains(says),
            "{case}: {stderr}"
        );
        // The warning is only written once an in-memory copy exists to run.
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            stdout.contains(r#""event": "log""#),
            logged,
            "{case}: {stdout}"
        );
        for line in stdout.lines() {
            serde_json::from_str::<Value>(line).expect("only JSON lines on stdout");
        }
    }
}
