//! A fake of the daemon's remote-debugging server (`debugging_runtime/hooks.go::onMessage`
//! and `runtime_intialization_handlers.go`, daemon commit bdb5642): accepts the plugin's
//! connection, checks its registration as the daemon does — the handshake and its key,
//! the manifest before the models, the provider's models as a list, icons among the
//! assets, nothing else before `end` — and refuses in plain text as the daemon does.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

/// The key tests give the plugin.
pub const KEY: &str = "test-debugging-key";

/// What a plugin sent to register.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// The message types, in order.
    pub kinds: Vec<String>,
    pub manifest: Value,
    pub provider: Value,
    pub assets: BTreeMap<String, Vec<u8>>,
}

/// Accepts one connection and its registration; `Err` says what the daemon would have
/// refused (after writing its refusal and closing, as the daemon does).
pub fn accept(
    listener: &TcpListener,
    key: &str,
    timeout: Duration,
) -> Result<(TcpStream, Registration), String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("listener: {e}"))?;
    let deadline = Instant::now() + timeout;
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err(format!("the plugin did not connect within {timeout:?}"));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    };
    stream
        .set_nonblocking(false)
        .map_err(|e| format!("socket: {e}"))?;
    register(stream, key)
}

/// The daemon's refusal: one plain-text line, then the connection closes.
fn refuse(mut stream: TcpStream, text: &str) -> String {
    let _ = stream.write_all(format!("{text}\n").as_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Both);
    text.to_string()
}

/// Reads the registration on `stream` up to `end`.
pub fn register(stream: TcpStream, key: &str) -> Result<(TcpStream, Registration), String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut reg = Registration::default();
    let mut handshake = false;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => return Err("the plugin closed the connection before `end`".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("reading the registration: {e}")),
        }
        if line.trim().is_empty() {
            continue;
        }
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            return Err(refuse(
                stream,
                "handshake failed, invalid handshake message",
            ));
        };
        // `type` and `data` are required: a protocol event (a heartbeat) fails here.
        let (Some(kind), Some(data)) = (msg["type"].as_str(), msg.get("data")) else {
            return Err(refuse(
                stream,
                "handshake failed, invalid handshake message",
            ));
        };
        if kind.is_empty() || data.is_null() {
            return Err(refuse(
                stream,
                "handshake failed, invalid handshake message",
            ));
        }
        reg.kinds.push(kind.to_string());
        match kind {
            "handshake" => {
                if handshake {
                    return Err(refuse(stream, "handshake already completed"));
                }
                if data["key"].as_str() != Some(key) {
                    return Err(refuse(stream, "handshake failed, invalid key"));
                }
                handshake = true;
            }
            _ if !handshake => {
                return Err(refuse(
                    stream,
                    "handshake failed, invalid handshake message",
                ));
            }
            "manifest_declaration" => {
                if let Err(e) = check_manifest(data) {
                    return Err(refuse(
                        stream,
                        &format!("handshake failed, invalid plugin declaration: {e}"),
                    ));
                }
                reg.manifest = data.clone();
            }
            "model_declaration" => {
                let Some(first) = data.as_array().and_then(|a| a.first()) else {
                    return Err(refuse(
                        stream,
                        "models register failed, invalid models declaration: not a list",
                    ));
                };
                if reg.manifest.is_null() {
                    // The daemon would overwrite the models with the manifest's config.
                    return Err(format!(
                        "model_declaration came before the manifest: {reg:?}"
                    ));
                }
                reg.provider = first.clone();
            }
            "asset_chunk" => {
                let (Some(name), Some(b64)) = (data["filename"].as_str(), data["data"].as_str())
                else {
                    return Err(refuse(
                        stream,
                        "handshake failed, invalid handshake message",
                    ));
                };
                if name.is_empty() || b64.is_empty() {
                    return Err(refuse(
                        stream,
                        "handshake failed, invalid handshake message",
                    ));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| {
                        refuse(
                            stream.try_clone().expect("socket"),
                            &format!("assets decode failed, error: {e}"),
                        )
                    })?;
                reg.assets
                    .entry(name.to_string())
                    .or_default()
                    .extend(bytes);
            }
            "end" => {
                if reg.provider.is_null() {
                    return Err(refuse(
                        stream,
                        "no registration transferred, cannot initialize",
                    ));
                }
                if let Err(e) = check_icons(&reg) {
                    return Err(refuse(
                        stream,
                        &format!("assets remap failed, invalid assets data, cannot remap: {e}"),
                    ));
                }
                if let Err(e) = check_models(&reg.provider) {
                    return Err(format!("the models would not work in Dify: {e}"));
                }
                stream.set_read_timeout(None).map_err(|e| e.to_string())?;
                return Ok((stream, reg));
            }
            // Unknown types are ignored by the daemon.
            _ => {}
        }
    }
}

/// `PluginDeclaration` as the daemon validates it (`plugin_declaration.go`, `ManifestValidate`).
fn check_manifest(m: &Value) -> Result<(), String> {
    if m["type"] != "plugin" {
        return Err(format!("type is {}, not plugin", m["type"]));
    }
    let name_ok = |v: &Value, max: usize| {
        v.as_str().is_some_and(|s| {
            !s.is_empty()
                && s.len() <= max
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        })
    };
    if !name_ok(&m["author"], 64) || !name_ok(&m["name"], 128) {
        return Err("author or name does not match ^[a-z0-9_-]".into());
    }
    if m["meta"]["runner"]["language"] != "python" {
        return Err("meta.runner.language must be python".into());
    }
    let created = m["created_at"].as_str().unwrap_or("");
    // RFC 3339 with an offset, as Go's time.Time reads it.
    if created.len() < 20 || !(created.ends_with('Z') || created[19..].contains(['+', '-'])) {
        return Err(format!("created_at {created:?} is not RFC 3339"));
    }
    for arch in m["meta"]["arch"].as_array().into_iter().flatten() {
        if arch != "amd64" && arch != "arm64" {
            return Err(format!("arch {arch}"));
        }
    }
    if m["label"]["en_US"].as_str().is_none_or(str::is_empty) || m["version"].as_str().is_none() {
        return Err("label.en_US and version are required".into());
    }
    Ok(())
}

/// `RemapAssets`: every icon must name an asset that was sent.
fn check_icons(reg: &Registration) -> Result<(), String> {
    let mut names = Vec::new();
    for field in [
        "icon_small",
        "icon_large",
        "icon_small_dark",
        "icon_large_dark",
    ] {
        if let Some(langs) = reg.provider[field].as_object() {
            names.extend(langs.values().filter_map(Value::as_str));
        }
    }
    for field in ["icon", "icon_dark"] {
        names.extend(reg.manifest[field].as_str());
    }
    for name in names.into_iter().filter(|n| !n.is_empty()) {
        if !reg.assets.contains_key(name) {
            return Err(format!("file not found: {name}"));
        }
    }
    Ok(())
}

/// What Dify needs of each model (the daemon does not check it at registration, but a
/// model without these would not work).
fn check_models(provider: &Value) -> Result<(), String> {
    let models = provider["models"]
        .as_array()
        .ok_or("models is not a list (a map of globs would register no model)")?;
    if models.is_empty() {
        return Err("no models".into());
    }
    for m in models {
        let name = m["model"].as_str().ok_or("a model without its name")?;
        if m["label"]["en_US"].as_str().is_none() || m["model_type"].as_str().is_none() {
            return Err(format!("{name}: label and model_type are required"));
        }
        for rule in m["parameter_rules"].as_array().into_iter().flatten() {
            if rule["type"].as_str().is_none() {
                return Err(format!("{name}: rule {} has no type", rule["name"]));
            }
        }
    }
    if !provider["position"].is_object() {
        return Err("no position".into());
    }
    Ok(())
}
