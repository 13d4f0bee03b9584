//! What the harness builds before measuring: the plugin and the double (`cargo build`),
//! and the Python plugin (its venv, made with the conformance tests' script, and its
//! directory, assembled from benches/python-plugin and this repository's declarations).

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Paths {
    pub root: PathBuf,
    pub target: PathBuf,
}

impl Paths {
    pub fn new() -> Paths {
        // The harness lives at crates/bench-harness in the workspace it measures.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let root = root.canonicalize().unwrap_or(root);
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| if t.is_absolute() { t } else { root.join(t) })
            .unwrap_or_else(|| root.join("target"));
        Paths { root, target }
    }

    pub fn profile_dir(&self, release: bool) -> PathBuf {
        self.target.join(if release { "release" } else { "debug" })
    }
}

/// Builds `dify-bedrock` and `bedrock-double`; returns their paths. Release: the two
/// packages alone, as the plugin ships. Debug (the CI smoke run, after the tests): the
/// workspace's binaries and tests, the same features as `cargo test --workspace` unifies,
/// so that nothing the tests built is compiled again.
pub fn build(paths: &Paths, release: bool) -> Result<(PathBuf, PathBuf), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&paths.root).arg("build");
    if release {
        cmd.args(["--release", "-p", "dify-bedrock", "-p", "bedrock-double"]);
    } else {
        cmd.args(["--workspace", "--bins", "--tests"]);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build failed ({status})"));
    }
    let dir = paths.profile_dir(release);
    Ok((dir.join("dify-bedrock"), dir.join("bedrock-double")))
}

/// The Python plugin's interpreter and directory, ready to run, or why not.
pub struct PythonPlugin {
    pub python: PathBuf,
    pub dir: PathBuf,
    pub versions: String,
}

pub fn python_plugin(paths: &Paths) -> Result<PythonPlugin, String> {
    let venv = paths.target.join("bench-venv");
    let requirements = paths.root.join("benches/python-plugin/requirements.txt");
    let status = Command::new("bash")
        .arg(paths.root.join("tests/conformance/setup_venv.sh"))
        .arg(&venv)
        .arg(&requirements)
        .status()
        .map_err(|e| format!("cannot run setup_venv.sh: {e}"))?;
    if !status.success() {
        return Err(format!(
            "setup_venv.sh could not make the venv at {} (Python 3.12 and PyPI are needed; see above)",
            venv.display()
        ));
    }
    let python = venv.join("bin/python");
    let versions = Command::new(&python)
        .args([
            "-c",
            "import sys, boto3, botocore, importlib.metadata as m; \
             print(f\"Python {sys.version.split()[0]}, dify_plugin {m.version('dify_plugin')}, \
             boto3 {boto3.__version__}, botocore {botocore.__version__}, gevent {m.version('gevent')}\")",
        ])
        .output()
        .map_err(|e| format!("cannot run the venv's python: {e}"))?;
    if !versions.status.success() {
        return Err(format!(
            "the venv cannot import boto3: {}",
            String::from_utf8_lossy(&versions.stderr).trim()
        ));
    }
    let versions = String::from_utf8_lossy(&versions.stdout).trim().to_string();

    let dir = paths.target.join("bench-python-plugin");
    let _ = std::fs::remove_dir_all(&dir);
    let copy = |from: &str, to: &str| {
        copy_tree(&paths.root.join(from), &dir.join(to))
            .map_err(|e| format!("cannot copy {from}: {e}"))
    };
    // This repository's declarations (the same models and form), then the Python code.
    copy("models", "models")?;
    copy("_assets", "_assets")?;
    copy("benches/python-plugin", "")?;
    let provider = std::fs::read_to_string(paths.root.join("provider/bedrock.yaml"))
        .map_err(|e| format!("cannot read provider/bedrock.yaml: {e}"))?;
    let provider = format!(
        "{provider}\nextra:\n  python:\n    provider_source: provider/bedrock.py\n    model_sources:\n      \
         - models/llm/llm.py\n      - models/text_embedding/text_embedding.py\n"
    );
    std::fs::write(dir.join("provider/bedrock.yaml"), provider)
        .map_err(|e| format!("cannot write the provider YAML: {e}"))?;
    Ok(PythonPlugin {
        python,
        dir,
        versions,
    })
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_tree(&entry.path(), &target)?;
            }
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// The commit measured, marked when the plugin's sources differ from it.
pub fn commit(paths: &Paths) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(&paths.root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&[
        "status",
        "--porcelain",
        "--",
        "src",
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "models",
        "provider",
    ])
    .is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head} with uncommitted changes to the plugin")
    } else {
        head
    }
}
