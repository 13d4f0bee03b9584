//! The container recipe (packaging/Dockerfile): it copies the static binaries that
//! packaging/build-binaries.sh builds, its context lets exactly those through, and the
//! binary runs as the image runs it — only the image's environment, an empty working
//! directory, no user database — serving health checks and requests. Where a Docker
//! engine is available the image itself is built.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::aws::{double, key_credentials, llm_request, user};
use support::http;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn dockerfile() -> String {
    std::fs::read_to_string(format!("{ROOT}/packaging/Dockerfile")).expect("Dockerfile")
}

/// The binaries the recipe copies, relative to the repository root.
fn copied_binaries() -> Vec<String> {
    dockerfile()
        .lines()
        .filter_map(|l| l.strip_prefix("COPY target/"))
        .filter_map(|l| l.split_whitespace().next())
        .map(|p| format!("target/{p}"))
        .collect()
}

/// `ENV` of the final stage.
fn image_env() -> Vec<(String, String)> {
    let text = dockerfile();
    let last_stage = text.rsplit("\nFROM ").next().unwrap_or("");
    last_stage
        .lines()
        .filter_map(|l| l.strip_prefix("ENV "))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn the_recipe_copies_what_the_build_script_builds() {
    let script = std::fs::read_to_string(format!("{ROOT}/packaging/build-binaries.sh"))
        .expect("build-binaries.sh");
    let copied = copied_binaries();
    assert_eq!(copied.len(), 2, "{copied:?}");
    for triple in ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"] {
        assert!(script.contains(triple), "the build script builds {triple}");
        let path = format!("target/package/{triple}/release/dify-bedrock");
        assert!(copied.contains(&path), "{path} not in {copied:?}");
    }
    let ignore = std::fs::read_to_string(format!("{ROOT}/packaging/Dockerfile.dockerignore"))
        .expect("dockerignore");
    let allowed: Vec<&str> = ignore.lines().filter_map(|l| l.strip_prefix('!')).collect();
    assert_eq!(
        allowed, copied,
        "the context must let exactly the binaries through"
    );
    let env = image_env();
    assert!(
        env.contains(&("INSTALL_METHOD".into(), "serverless".into())),
        "{env:?}"
    );
}

#[test]
fn the_binary_serves_as_the_image_runs_it() {
    let arch = std::env::consts::ARCH;
    let binary = PathBuf::from(ROOT).join(format!(
        "target/package/{arch}-unknown-linux-musl/release/dify-bedrock"
    ));
    // CI builds it before the tests; elsewhere (or when it predates the sources) the
    // host build stands in for it.
    let built = std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
    let binary = if built.is_some_and(|b| b >= newest(&PathBuf::from(ROOT).join("src"))) {
        binary
    } else {
        eprintln!(
            "note: {} is not built from the current sources; running the host build as the image would",
            binary.display()
        );
        PathBuf::from(support::BIN)
    };
    let workdir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("container-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).expect("workdir");
    let port = free_port();
    let mut cmd = Command::new(&binary);
    cmd.arg("serve").env_clear().current_dir(&workdir);
    for (k, v) in image_env() {
        cmd.env(k, v);
    }
    // Loopback for the test; the image listens on 0.0.0.0.
    cmd.env("SERVERLESS_HOST", "127.0.0.1")
        .env("SERVERLESS_PORT", port.to_string())
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let mut p = support::Plugin::spawn(cmd);
    let addr = format!("127.0.0.1:{port}").parse().expect("address");
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        match http::get(addr, "/health") {
            Ok(r) => break r,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("no health answer: {e}; {}", p.stderr()),
        }
    };
    assert_eq!((health.status, health.body.as_str()), (200, "OK"));
    let d = double();
    let line = support::envelope(
        "s-container",
        "invoke_llm",
        llm_request(
            "amazon.nova-lite-v1:0",
            &key_credentials(&d),
            user(r#"hi [[double: {"text": "from the image"}]]"#),
            true,
            json!({}),
        ),
    )
    .to_string();
    let r = http::post_invoke(addr, &line).expect("invoke");
    let events: Vec<serde_json::Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    let text: String = events
        .iter()
        .filter_map(|e| e["data"]["data"]["delta"]["message"]["content"].as_str())
        .collect();
    assert_eq!(text, "from the image");
    assert_eq!(
        events.last().map(|e| &e["data"]["type"]),
        Some(&json!("end"))
    );
    assert!(
        p.wait_exit(Duration::from_millis(10)).is_none(),
        "still serving"
    );
}

#[test]
fn the_image_builds_where_docker_runs() {
    let docker = Command::new("docker").arg("info").output();
    if !docker.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "note: no Docker engine here; the image is not built (the binary it copies is tested above)"
        );
        return;
    }
    let missing: Vec<String> = copied_binaries()
        .into_iter()
        .filter(|p| !Path::new(ROOT).join(p).exists())
        .collect();
    if !missing.is_empty() {
        eprintln!("note: {missing:?} not built; the image is not built");
        return;
    }
    let status = Command::new("docker")
        .args([
            "build",
            "-f",
            "packaging/Dockerfile",
            "-t",
            "dify-bedrock:test",
            ".",
        ])
        .current_dir(ROOT)
        .status()
        .expect("docker build");
    assert!(status.success());
}

/// The newest modification time of the files below `dir`.
fn newest(dir: &Path) -> std::time::SystemTime {
    let mut latest = std::time::SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(latest)
        };
        latest = latest.max(time);
    }
    latest
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
