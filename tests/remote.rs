//! Remote debugging through the built binary against a fake daemon on 127.0.0.1 that
//! checks the registration as the daemon does: a refused key ends the process with the
//! daemon's words, a dropped connection is re-established with the same registration,
//! and a daemon that stays away is given up on after a bounded number of tries.

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Plugin, daemon};

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn remote_plugin(listener: &TcpListener, key: &str) -> Plugin {
    let url = listener.local_addr().expect("address").to_string();
    Plugin::spawn(Plugin::command(&[
        ("INSTALL_METHOD", "remote"),
        ("REMOTE_INSTALL_URL", &url),
        ("REMOTE_INSTALL_KEY", key),
        ("HEARTBEAT_INTERVAL", "1"),
    ]))
}

#[test]
fn a_refused_key_is_said_plainly_and_ends_the_process() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut p = remote_plugin(&listener, "expired-key");
    let e = daemon::accept(&listener, daemon::KEY, SECS(20)).expect_err("a wrong key");
    assert_eq!(e, "handshake failed, invalid key");
    let status = p.wait_exit(SECS(15)).expect("exits after the refusal");
    assert!(!status.success(), "{status:?}");
    let stderr = p.wait_stderr("refused the plugin: handshake failed, invalid key", SECS(5));
    assert!(stderr.contains("REMOTE_INSTALL_KEY"), "{stderr}");
    // No second try with a key the daemon refused.
    listener.set_nonblocking(true).expect("nonblocking");
    assert!(listener.accept().is_err(), "the plugin connected again");
}

#[test]
fn a_refused_declaration_is_reported_with_the_daemons_multi_line_text() {
    // A daemon that takes the key, then rejects the manifest in two lines.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut p = remote_plugin(&listener, daemon::KEY);
    let (mut stream, _) = listener.accept().expect("connects");
    let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
    let mut first = String::new();
    std::io::BufRead::read_line(&mut reader, &mut first).expect("handshake");
    assert!(first.contains("\"handshake\""), "{first}");
    std::io::Write::write_all(
        &mut stream,
        b"register failed, invalid manifest detected: Key: 'PluginDeclaration.Name'\nError:Field validation for 'Name' failed\n",
    )
    .expect("write");
    drop(stream);
    drop(reader);
    let status = p.wait_exit(SECS(15)).expect("exits");
    assert!(!status.success());
    let stderr = p.wait_stderr("Field validation for 'Name'", SECS(5));
    assert!(stderr.contains("invalid manifest detected"), "{stderr}");
}

#[test]
fn a_dropped_connection_is_made_again_with_the_same_registration() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut p = remote_plugin(&listener, daemon::KEY);
    let (first, reg1) = daemon::accept(&listener, daemon::KEY, SECS(20)).expect("registers");
    p.attach_tcp(first);
    let s = p.call(
        "get_ai_model_schemas",
        json!({"provider": "bedrock", "model": "amazon.nova-lite-v1:0", "model_type": "llm", "credentials": {}}),
    );
    assert_eq!(s.result()["model_schema"]["model"], "amazon.nova-lite-v1:0");
    // The daemon restarts: the connection goes away.
    let dropped = Instant::now();
    p.close_stdin();
    let (second, reg2) = daemon::accept(&listener, daemon::KEY, SECS(20)).expect("registers again");
    assert!(
        dropped.elapsed() < SECS(10),
        "reconnected after {:?}",
        dropped.elapsed()
    );
    assert_eq!(reg1.kinds, reg2.kinds);
    assert_eq!(reg1.manifest, reg2.manifest);
    assert_eq!(reg1.provider, reg2.provider);
    assert_eq!(reg1.assets, reg2.assets);
    p.attach_tcp(second);
    let s = p.call(
        "get_llm_num_tokens",
        json!({"provider": "bedrock", "model": "amazon.nova-lite-v1:0", "model_type": "llm", "credentials": {},
               "prompt_messages": [{"role": "user", "content": "Hello, world!"}]}),
    );
    assert_eq!(s.result()["num_tokens"], 4);
    // Heartbeats flow on the new connection.
    let before = p.heartbeats().len();
    std::thread::sleep(SECS(2));
    assert!(
        p.heartbeats().len() > before,
        "no heartbeat after reconnecting"
    );
}

#[test]
fn a_daemon_that_stays_away_is_given_up_on() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = listener.local_addr().expect("address").to_string();
    drop(listener);
    let started = Instant::now();
    let mut p = Plugin::spawn(Plugin::command(&[
        ("INSTALL_METHOD", "remote"),
        ("REMOTE_INSTALL_URL", &url),
        ("REMOTE_INSTALL_KEY", daemon::KEY),
    ]));
    let status = p.wait_exit(SECS(30)).expect("gives up");
    assert!(!status.success());
    // Three tries with 1 s and 2 s between them.
    assert!(started.elapsed() >= SECS(3), "{:?}", started.elapsed());
    let stderr = p.wait_stderr(
        &format!("could not keep a connection to the Dify plugin daemon at {url}"),
        SECS(5),
    );
    assert!(stderr.contains("3 tries"), "{stderr}");
}

#[test]
fn remote_mode_needs_its_key() {
    let mut p = Plugin::spawn(Plugin::command(&[
        ("INSTALL_METHOD", "remote"),
        ("REMOTE_INSTALL_URL", "127.0.0.1:9"),
    ]));
    let status = p.wait_exit(SECS(10)).expect("exits");
    assert_eq!(status.code(), Some(2));
    p.wait_stderr("REMOTE_INSTALL_KEY is required", SECS(5));
}
