//! The standalone binary: prints its URL when ready, accepts the key pair and
//! API key given on the command line, and logs each request as a JSON line.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn binary_serves_and_logs() {
    let log = std::env::temp_dir().join(format!("bedrock-double-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let mut child = Command::new(env!("CARGO_BIN_EXE_bedrock-double"))
        .args([
            "--port",
            "0",
            "--access-key",
            "AKIACLIEXAMPLE000001",
            "--secret-key",
            "cli-secret",
        ])
        .args(["--api-key", "ABSKY2xpLWtleQ=="])
        .arg("--log")
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("url line");
    let url = line.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let conf = br::Config::builder()
        .behavior_version(br::config::BehaviorVersion::latest())
        .http_client(http())
        .region(br::config::Region::new("us-east-1"))
        .endpoint_url(&url)
        .credentials_provider(creds("AKIACLIEXAMPLE000001", "cli-secret", None))
        .build();
    let out = br::Client::from_conf(conf)
        .converse()
        .model_id("amazon.nova-micro-v1:0")
        .messages(user("from the cli"))
        .send()
        .await;
    let bearer = br::Client::from_conf(
        br::Config::builder()
            .behavior_version(br::config::BehaviorVersion::latest())
            .http_client(http())
            .region(br::config::Region::new("us-east-1"))
            .endpoint_url(&url)
            .bearer_token(br::config::Token::new("ABSKY2xpLWtleQ==", None))
            .auth_scheme_preference([
                aws_smithy_runtime_api::client::auth::http::HTTP_BEARER_AUTH_SCHEME_ID,
            ])
            .build(),
    )
    .converse()
    .model_id("amazon.nova-micro-v1:0")
    .messages(user("bearer"))
    .send()
    .await;
    // We started this child; stop it by its handle before asserting.
    let _ = child.kill();
    let _ = child.wait();
    out.expect("converse through the binary");
    bearer.expect("bearer through the binary");

    let text = std::fs::read_to_string(&log).expect("log file");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["operation"], "Converse");
    assert_eq!(lines[0]["identity"], "AKIACLIEXAMPLE000001");
    assert_eq!(
        lines[0]["body"]["messages"][0]["content"][0]["text"],
        "from the cli"
    );
    assert_eq!(lines[1]["identity"], "bearer:cli");
    assert!(!text.contains("ABSKY2xpLWtleQ=="));
    let _ = std::fs::remove_file(&log);
}
