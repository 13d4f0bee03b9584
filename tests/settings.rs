//! The daemon's knobs and the SDK's variables, through the built binary: the line limit
//! the daemon reads with (and its precedence), the heartbeat kept under the daemon's
//! thresholds, `.env` in the working directory, `serve` options over both, and
//! MAX_REQUEST_TIMEOUT ending a silent request. `.env.example` documents every variable.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use support::aws::{double, key_credentials, llm_request, user};
use support::{Plugin, Transport};

const NOVA: &str = "amazon.nova-lite-v1:0";
const SECS: fn(u64) -> Duration = Duration::from_secs;

fn schema_request() -> Value {
    json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "credentials": {}})
}

fn tokens_request() -> Value {
    json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "credentials": {},
           "prompt_messages": [{"role": "user", "content": "Hello, world!"}]})
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("settings-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn an_answer_over_the_daemons_line_limit_is_an_error_and_the_plugin_keeps_serving() {
    // Nova Lite's schema is several KiB; the token count is tiny.
    let mut p = Plugin::start_with(&[("PLUGIN_RUNTIME_MAX_BUFFER_SIZE", "2048")]);
    p.wait_first_heartbeat(SECS(10));
    let s = p.call("get_ai_model_schemas", schema_request());
    let e = s.expect_error();
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("over the daemon's 2048 byte line limit"),
        "{e}"
    );
    let (lines, _) = p.stdout_lines();
    assert!(lines.iter().all(|l| l.to_string().len() < 2048));
    assert_eq!(
        p.call("get_llm_num_tokens", tokens_request()).result()["num_tokens"],
        4
    );
    // The legacy name wins when it is customised, as in the daemon.
    let mut p = Plugin::start_with(&[
        ("PLUGIN_RUNTIME_MAX_BUFFER_SIZE", "2048"),
        ("PLUGIN_STDIO_MAX_BUFFER_SIZE", "1048576"),
    ]);
    let s = p.call("get_ai_model_schemas", schema_request());
    assert_eq!(s.result()["model_schema"]["model"], NOVA);
}

#[test]
fn the_heartbeat_interval_is_kept_under_the_daemons_thresholds() {
    let mut p = Plugin::start_with(&[("HEARTBEAT_INTERVAL", "500")]);
    p.wait_first_heartbeat(SECS(10));
    // A request makes sure start-up logging has been written.
    p.call("get_llm_num_tokens", tokens_request());
    let logs = p.logs();
    assert!(
        logs.iter().any(|l| l["data"]["level"] == "WARNING"
            && l["data"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("HEARTBEAT_INTERVAL=500 s is too long")),
        "{logs:#?}"
    );
    // A fractional interval, as the SDK accepts.
    let p = Plugin::start_with(&[("HEARTBEAT_INTERVAL", "0.2")]);
    p.wait_first_heartbeat(SECS(10));
    std::thread::sleep(Duration::from_millis(1000));
    assert!(p.heartbeats().len() >= 3, "{:?}", p.heartbeats().len());
}

#[test]
fn the_mode_comes_from_dot_env_and_serve_options_win() {
    let dir = temp_dir("dotenv");
    std::fs::write(
        dir.join(".env"),
        "install_method=serverless\nSERVERLESS_HOST=127.0.0.1\nSERVERLESS_PORT=0\nRUST_LOG=debug\n",
    )
    .expect(".env");
    let mut cmd = Plugin::command(&[]);
    cmd.env_remove("INSTALL_METHOD").current_dir(&dir);
    let p = Plugin::spawn(cmd);
    // The serverless server logs where it listens (and RUST_LOG from .env applies).
    let deadline = std::time::Instant::now() + SECS(20);
    while !p.stderr().contains("on http://127.0.0.1:") {
        assert!(std::time::Instant::now() < deadline, "{}", p.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(p);
    // The environment wins over .env, and `serve --install-method` over both.
    let mut cmd = Plugin::command(&[("INSTALL_METHOD", "serverless")]);
    cmd.current_dir(&dir)
        .args(["serve", "--install-method", "local"]);
    let mut p = Plugin::spawn(cmd);
    p.wait_first_heartbeat(SECS(10));
    assert_eq!(
        p.call("get_llm_num_tokens", tokens_request()).result()["num_tokens"],
        4
    );
}

#[test]
fn a_request_silent_for_max_request_timeout_is_stopped() {
    let d = double();
    for transport in [Transport::Stdio, Transport::Http] {
        let mut p = Plugin::start_over(transport, &[("MAX_REQUEST_TIMEOUT", "1")]);
        let s = p.call(
            "invoke_llm",
            llm_request(
                NOVA,
                &key_credentials(&d),
                user(r#"hi [[double: {"text": "late", "first_byte_ms": 4000}]]"#),
                true,
                json!({}),
            ),
        );
        let e = s.expect_error();
        assert!(
            e["message"]
                .as_str()
                .unwrap_or("")
                .contains("nothing for 1 s (MAX_REQUEST_TIMEOUT)"),
            "{transport:?}: {e}"
        );
        // The follow-up must answer well inside the 1 s limit even on a loaded machine, so
        // it is the schema lookup (no tokenizer to load) rather than a token count.
        assert_eq!(
            p.call("get_ai_model_schemas", schema_request()).result()["model_schema"]["model"],
            NOVA,
            "{transport:?}: the plugin keeps serving"
        );
    }
}

#[test]
fn dot_env_example_documents_every_variable_the_plugin_reads() {
    let root = env!("CARGO_MANIFEST_DIR");
    let example = std::fs::read_to_string(format!("{root}/.env.example")).expect(".env.example");
    let documented: Vec<&str> = example
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    let source = std::fs::read_to_string(format!("{root}/src/settings.rs")).expect("settings.rs");
    let code = source.split("#[cfg(test)]").next().unwrap_or("");
    let mut read = Vec::new();
    for piece in code.split('"').skip(1).step_by(2) {
        let is_var = piece.len() > 3
            && piece.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            && piece.contains('_');
        if is_var && !read.contains(&piece) {
            read.push(piece);
        }
    }
    assert!(read.len() > 15, "found too few variables: {read:?}");
    let missing: Vec<&&str> = read.iter().filter(|v| !documented.contains(v)).collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
}
