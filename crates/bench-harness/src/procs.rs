//! What Linux tells about a process and the machine: CPU time (its own and its
//! children's), resident memory, and the facts a benchmark names (CPU model, cores,
//! memory, load average).

use std::time::Duration;

/// A process's CPU time at one moment, two ways: the kernel's per-thread nanosecond run
/// time (`/proc/PID/task/*/schedstat`), and user + system time in clock ticks from
/// `/proc/PID/stat`, which also counts threads that have exited but is only 10 ms fine.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot {
    /// Run time per thread id, in nanoseconds.
    threads: Vec<(u32, u64)>,
    /// utime + stime of the whole process, plus cutime + cstime (children it waited
    /// for) and utime + stime of the descendants still running, in ticks (1/100 s).
    ticks: u64,
    /// Descendant processes seen (their time is only in `ticks`).
    children: usize,
}

const TICK: Duration = Duration::from_millis(10);

impl CpuSnapshot {
    /// The process and its descendants (a plugin, whatever it spawns).
    pub fn take(pid: u32) -> CpuSnapshot {
        Self::snapshot(pid, true)
    }

    /// The process alone: the harness itself, whose children (the double, plugins) are
    /// not what is measured.
    pub fn take_own(pid: u32) -> CpuSnapshot {
        Self::snapshot(pid, false)
    }

    fn snapshot(pid: u32, with_children: bool) -> CpuSnapshot {
        let mut threads = Vec::new();
        if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for entry in dir.flatten() {
                let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                    continue;
                };
                let ns = std::fs::read_to_string(entry.path().join("schedstat"))
                    .ok()
                    .and_then(|s| s.split_whitespace().next()?.parse().ok());
                if let Some(ns) = ns {
                    threads.push((tid, ns));
                }
            }
        }
        let children = if with_children {
            descendants(pid)
        } else {
            Vec::new()
        };
        let ticks = stat_ticks(pid, with_children).unwrap_or(0)
            + children
                .iter()
                .filter_map(|c| stat_ticks(*c, true))
                .sum::<u64>();
        CpuSnapshot {
            threads,
            ticks,
            children: children.len(),
        }
    }

    /// CPU used between `self` and `later`. The nanosecond figure is used unless a thread
    /// seen in `self` is gone from `later` (its last slice would be lost), the process has
    /// children (their time is only in the ticks), or it disagrees with the tick count by
    /// more than the ticks' own error; then the ticks are used.
    pub fn until(&self, later: &CpuSnapshot) -> Duration {
        let ticks = Duration::from_millis(later.ticks.saturating_sub(self.ticks) * 10);
        let mut ns: u64 = 0;
        for (tid, after) in &later.threads {
            let before = self
                .threads
                .iter()
                .find(|(t, _)| t == tid)
                .map_or(0, |(_, b)| *b);
            ns += after.saturating_sub(before);
        }
        let lost = self
            .threads
            .iter()
            .any(|(tid, _)| !later.threads.iter().any(|(t, _)| t == tid));
        let precise = Duration::from_nanos(ns);
        let gap = precise.abs_diff(ticks);
        let with_children = self.children > 0 || later.children > 0;
        if lost || with_children || later.threads.is_empty() || gap > TICK * 2 + ticks / 20 {
            ticks
        } else {
            precise
        }
    }
}

fn stat_ticks(pid: u32, with_children: bool) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime, stime, cutime and cstime are fields 14 to 17 of the line, 12 to 15 after
    // the name: the process's own time and that of the children it waited for.
    fields
        .get(11..if with_children { 15 } else { 13 })?
        .iter()
        .map(|f| f.parse::<u64>().ok())
        .sum()
}

/// The process's descendants now running: children, their children, and so on.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let ppid = std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .parse()
                        .ok()
                });
            if let Some(ppid) = ppid {
                parents.push((p, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (child, _) in parents.iter().filter(|(_, pp)| *pp == parent) {
            out.push(*child);
            frontier.push(*child);
        }
    }
    out
}

/// A `/proc/PID/status` memory field (`VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
}

/// Resets the process's peak resident memory (VmHWM) to its current size, so a peak
/// read later belongs to what ran in between, not to start-up. False if refused.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The one-, five- and fifteen-minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// The machine in one line: CPU model, logical cores, memory, kernel.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_string(), |(_, v)| v.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!(
        "{model}, {cores} logical cores (`nproc`), {mem_gib:.0} GiB memory, Linux {kernel}, {}",
        std::env::consts::ARCH
    )
}
