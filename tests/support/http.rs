//! A small HTTP/1.1 client that calls the serverless plugin as the daemon's serverless
//! runtime does (`serverless_runtime/io.go`): `POST /invoke?action=…` with the request
//! sent chunked (Go sets no Content-Length), `Accept: text/event-stream`, the session id
//! header; the answer read as lines while it streams. Hand-written so that tests can also
//! send what a client library would refuse to.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How the request body is sent.
pub enum Body<'a> {
    Empty,
    /// With a Content-Length.
    Fixed(&'a [u8]),
    /// Transfer-Encoding: chunked, as Go sends a body of unknown length.
    Chunked(&'a [u8]),
}

/// What the daemon sends for one session.
pub fn post_invoke(addr: SocketAddr, line: &str) -> io::Result<Response> {
    post_invoke_streaming(addr, line, |_| {})
}

/// As [`post_invoke`], calling `on_line` with each answer line as it arrives.
pub fn post_invoke_streaming(
    addr: SocketAddr,
    line: &str,
    on_line: impl FnMut(&str),
) -> io::Result<Response> {
    let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    let action = value["data"]["action"].as_str().unwrap_or("").to_string();
    let session = value["session_id"].as_str().unwrap_or("").to_string();
    request(
        addr,
        "POST",
        &format!("/invoke?action={action}"),
        &[
            ("Content-Type", "application/json"),
            ("Accept", "text/event-stream"),
            ("Dify-Plugin-Session-ID", &session),
        ],
        Body::Chunked(line.as_bytes()),
        on_line,
    )
}

/// One request on a connection of its own; `on_line` sees each body line as it arrives.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
    mut on_line: impl FnMut(&str),
) -> io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match &body {
        Body::Empty => head.push_str("Content-Length: 0\r\n"),
        Body::Fixed(b) => head.push_str(&format!("Content-Length: {}\r\n", b.len())),
        Body::Chunked(_) => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let sent = (|| -> io::Result<()> {
        match body {
            Body::Empty => {}
            Body::Fixed(b) => stream.write_all(b)?,
            Body::Chunked(b) => {
                // Several chunks, as a streaming writer would send them.
                for part in b.chunks(64 * 1024) {
                    stream.write_all(format!("{:x}\r\n", part.len()).as_bytes())?;
                    stream.write_all(part)?;
                    stream.write_all(b"\r\n")?;
                }
                stream.write_all(b"0\r\n\r\n")?;
            }
        }
        stream.flush()
    })();
    // A server may answer before it read the whole body (a refusal); read its answer,
    // as Go's client does.
    if let Err(e) = sent
        && !matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        )
    {
        return Err(e);
    }
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let mut body = Vec::new();
    let mut pending = Vec::new();
    let mut deliver = |bytes: &[u8], body: &mut Vec<u8>| {
        body.extend_from_slice(bytes);
        pending.extend_from_slice(bytes);
        while let Some(at) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=at).collect();
            on_line(String::from_utf8_lossy(&line).trim_end());
        }
    };
    if chunked {
        loop {
            let mut size_line = String::new();
            if reader.read_line(&mut size_line)? == 0 {
                break;
            }
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|e| io::Error::other(format!("bad chunk size {size_line:?}: {e}")))?;
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size];
            reader.read_exact(&mut chunk)?;
            deliver(&chunk, &mut body);
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    } else {
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest)?;
        deliver(&rest, &mut body);
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// `GET path`.
pub fn get(addr: SocketAddr, path: &str) -> io::Result<Response> {
    request(addr, "GET", path, &[], Body::Empty, |_| {})
}
