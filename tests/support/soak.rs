//! Helpers for long-running and shutdown tests: counting sessions without copying them,
//! the plugin's memory and identity from /proc, a seeded random number generator (so a
//! failing soak can be replayed from the seed it printed), and the file-descriptor limit.

use std::time::{Duration, Instant};

use super::Plugin;

impl Plugin {
    /// How many distinct sessions have ended so far.
    pub fn ended_count(&self) -> usize {
        self.shared.lock().ended.len()
    }

    /// Waits until at least `n` sessions have ended; panics after `timeout` with the
    /// number reached.
    pub fn wait_ended(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while st.ended.len() < n {
            let now = Instant::now();
            assert!(
                now < deadline && !st.stdout_closed,
                "only {} of {n} sessions ended within {timeout:?} (output closed: {}); stderr: {}",
                st.ended.len(),
                st.stdout_closed,
                self.stderr()
            );
            st = self
                .shared
                .changed
                .wait_timeout(st, (deadline - now).min(Duration::from_millis(500)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st.ended.len()
    }

    /// Whether the plugin's output (stdout, or the remote-debugging socket) has ended.
    pub fn output_closed(&self) -> bool {
        self.shared.lock().stdout_closed
    }

    /// Session ids the plugin wrote about that the test never sent (must be none).
    pub fn unknown_sessions(&self) -> Vec<String> {
        let st = self.shared.lock();
        let actions = self.actions.lock().unwrap_or_else(|e| e.into_inner());
        st.sessions
            .keys()
            .filter(|id| !actions.contains_key(*id))
            .cloned()
            .collect()
    }
}

/// A field of /proc/<pid>/status in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The resident set of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS").unwrap_or_else(|| panic!("no VmRSS for {pid}"))
}

/// The peak resident set of `pid` so far, in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM").unwrap_or_else(|| panic!("no VmHWM for {pid}"))
}

/// When `pid` started, in clock ticks since boot (field 22 of /proc/<pid>/stat): a
/// process restarted under the same id would have another.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the rest follows its closing paren.
    let rest = stat.rsplit_once(") ")?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The process state letter of `pid` (`R`, `S`, `Z`…), or `None` once it is gone.
pub fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Waits until `pid` is gone or a zombie; false after `timeout`.
pub fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if matches!(state(pid), None | Some('Z' | 'X')) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The soft limit on open files of this process (which the plugin inherits).
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// SplitMix64: small, seedable, good enough to choose faults; the same seed gives the
/// same choices on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The seed named by the environment variable `var` (decimal or 0x-hex), else one from
/// the clock; printed either way so that a failure can be replayed.
pub fn seed_from_env(var: &str) -> u64 {
    let given = std::env::var(var).ok().and_then(|v| {
        let v = v.trim();
        match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => v.parse().ok(),
        }
    });
    let seed = given.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5EED)
    });
    eprintln!("seed: {seed} (replay with {var}={seed})");
    seed
}

/// The binary a soak runs: `DIFY_BEDROCK_SOAK_BIN` (for instance the shipped static musl
/// build, whose allocator behaves differently), else the one cargo built.
pub fn binary() -> String {
    std::env::var("DIFY_BEDROCK_SOAK_BIN")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| super::BIN.to_string())
}

/// [`Plugin::start_over`] for another binary than the one cargo built.
pub fn start_binary(bin: &str, transport: super::Transport, env: &[(&str, &str)]) -> Plugin {
    use super::{Link, Transport, daemon};
    use std::process::Command;
    if bin == super::BIN {
        return Plugin::start_over(transport, env);
    }
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("INSTALL_METHOD", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    match transport {
        Transport::Stdio => Plugin::spawn(cmd),
        Transport::Tcp => {
            let listener =
                std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake daemon");
            let url = listener.local_addr().expect("address").to_string();
            cmd.env("INSTALL_METHOD", "remote")
                .env("REMOTE_INSTALL_URL", &url)
                .env("REMOTE_INSTALL_KEY", daemon::KEY);
            let mut plugin = Plugin::spawn(cmd);
            let (stream, registration) =
                daemon::accept(&listener, daemon::KEY, Duration::from_secs(20))
                    .unwrap_or_else(|e| panic!("{e}; stderr: {}", plugin.stderr()));
            plugin.attach_tcp(stream);
            plugin.registration = Some(registration);
            plugin
        }
        Transport::Http => {
            cmd.env("INSTALL_METHOD", "serverless")
                .env("SERVERLESS_HOST", "127.0.0.1")
                .env("SERVERLESS_PORT", "0");
            let mut plugin = Plugin::spawn(cmd);
            let addr = plugin.wait_listening(Duration::from_secs(20));
            plugin.link = Link::Http(addr);
            plugin
        }
    }
}
