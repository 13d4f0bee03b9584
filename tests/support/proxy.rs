//! A minimal HTTP forward proxy for tests: it reads the first request head to find the
//! target (absolute-form URI or CONNECT), connects there, and pipes bytes both ways. It
//! counts the connections it carried, so a test can prove traffic went through it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Proxy {
    pub url: String,
    carried: Arc<AtomicUsize>,
}

impl Proxy {
    pub fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let carried = Arc::new(AtomicUsize::new(0));
        let count = carried.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let count = count.clone();
                std::thread::spawn(move || {
                    let _ = forward(client, &count);
                });
            }
        });
        Proxy { url, carried }
    }

    /// Connections carried to their target.
    pub fn carried(&self) -> usize {
        self.carried.load(Ordering::SeqCst)
    }
}

fn forward(mut client: TcpStream, carried: &AtomicUsize) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let first = text.lines().next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let (authority, connect) = if method == "CONNECT" {
        (target.to_string(), true)
    } else {
        let rest = target
            .strip_prefix("http://")
            .ok_or(std::io::ErrorKind::InvalidData)?;
        (rest.split('/').next().unwrap_or(rest).to_string(), false)
    };
    let mut upstream = TcpStream::connect(&authority)?;
    carried.fetch_add(1, Ordering::SeqCst);
    if connect {
        client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
    } else {
        // HTTP/1.1 servers accept absolute-form request targets, so the head goes on as is.
        upstream.write_all(&head)?;
    }
    let mut client_read = client.try_clone()?;
    let mut upstream_write = upstream.try_clone()?;
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut upstream_write);
        let _ = upstream_write.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut upstream, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = up.join();
    Ok(())
}
