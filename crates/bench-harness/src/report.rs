//! BENCHMARKS.md, written whole from one run's results: the run's facts, issue 16's
//! targets met or missed, the chat matrix, start-up, embedding, the method, and the
//! hand-written profile notes (benches/notes.md) copied in verbatim.

use std::fmt::Write as _;

use crate::chat::{Cell, CellRun, Target};
use crate::embedding::EmbedRun;
use crate::prepare::Paths;
use crate::stats::{self, median};
use crate::{Results, startup::Startup};

const NOTES: &str = "benches/notes.md";
/// The chart, relative to the report.
pub const CHART: &str = "docs/benchmarks/chat.svg";

fn num(x: Option<f64>, decimals: usize) -> String {
    match x {
        Some(v) => {
            let s = format!("{v:.decimals$}");
            group(&s)
        }
        None => "—".into(),
    }
}

/// Thousands separated by commas in the integer part.
fn group(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

fn mib(kib: Option<f64>) -> String {
    num(kib.map(|k| k / 1024.0), 1)
}

/// One line for the console after each run of a cell.
pub fn run_summary(run: &CellRun) -> String {
    if let Some(f) = &run.failed {
        return format!("failed: {f}");
    }
    let mut s = format!(
        "{} of {} answered in {:.2} s, {} µs CPU/chunk, first chunk p50 {} ms p99 {} ms, {} chunks/s",
        run.completed,
        run.requested,
        run.wall.as_secs_f64(),
        num(run.cpu_per_chunk_us(), 1),
        num(run.first_ms(50.0), 2),
        num(run.first_ms(99.0), 2),
        num(run.chunks_per_s(), 0),
    );
    if run.errors > 0 {
        let _ = write!(
            s,
            "; {} errors, first: {}",
            run.errors,
            run.first_error.as_deref().unwrap_or("")
        );
    }
    if let Some(t) = run.timed_out {
        let _ = write!(s, "; timed out after {} s", t.as_secs());
    }
    s
}

/// The runs of one cell for one target.
fn runs<'a>(r: &'a Results, cell: &Cell, target: Target) -> Option<&'a [CellRun]> {
    r.chat
        .iter()
        .find(|(c, t, _)| c == cell && *t == target)
        .map(|(_, _, runs)| runs.as_slice())
}

/// The median over complete runs of a figure.
fn med(runs: Option<&[CellRun]>, f: impl Fn(&CellRun) -> Option<f64>) -> Option<f64> {
    median(runs?.iter().filter(|r| r.complete()).map(f))
}

/// The median over runs of a figure of this target minus (or divided by) the same
/// figure of another target in the same run.
fn paired(
    a: Option<&[CellRun]>,
    b: Option<&[CellRun]>,
    f: impl Fn(&CellRun) -> Option<f64>,
    op: impl Fn(f64, f64) -> f64,
) -> Option<f64> {
    let (a, b) = (a?, b?);
    median(a.iter().zip(b).map(|(x, y)| {
        if x.complete() && y.complete() {
            Some(op(f(x)?, f(y)?))
        } else {
            None
        }
    }))
}

fn status(runs: Option<&[CellRun]>) -> String {
    let Some(runs) = runs else {
        return "not run".into();
    };
    let mut notes = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let mut parts = Vec::new();
        if let Some(f) = &r.failed {
            parts.push(format!("did not start: {}", f.replace('|', "/")));
        }
        if let Some(t) = r.timed_out {
            parts.push(format!(
                "timed out after {} s with {} of {} answered",
                t.as_secs(),
                group(&r.completed.to_string()),
                group(&r.requested.to_string())
            ));
        }
        if r.errors > 0 {
            parts.push(format!(
                "{} errors (first: {})",
                r.errors,
                r.first_error
                    .as_deref()
                    .unwrap_or("")
                    .chars()
                    .take(160)
                    .collect::<String>()
                    .replace('|', "/")
                    .replace('\n', " ")
            ));
        }
        if !parts.is_empty() {
            notes.push(format!("run {}: {}", i + 1, parts.join("; ")));
        }
    }
    if notes.is_empty() {
        "ok".into()
    } else {
        notes.join("; ")
    }
}

fn verdict(value: Option<f64>, limit: f64) -> &'static str {
    match value {
        Some(v) if v <= limit => "**met**",
        Some(_) => "**missed**",
        None => "not measured",
    }
}

fn cell(r: &Results, delay_ms: u64, concurrency: usize) -> Option<Cell> {
    r.chat
        .iter()
        .map(|(c, _, _)| *c)
        .find(|c| c.delay_ms == delay_ms && c.concurrency == concurrency)
}

fn per_stream(runs: &[CellRun], concurrency: usize) -> Option<f64> {
    median(
        runs.iter()
            .filter(|r| r.complete())
            .map(|r| r.above_idle_kib().map(|k| k / concurrency as f64)),
    )
}

/// The command that measures one part of the matrix (with the run's build profile).
fn command(r: &Results, args: &str) -> String {
    let base = if r.release {
        "cargo run --release -p bench-harness --"
    } else {
        "cargo run -p bench-harness -- --debug"
    };
    format!("`{base} {args}`")
}

fn targets_section(out: &mut String, r: &Results) {
    let _ = writeln!(out, "## Issue 16's targets\n");
    let _ = writeln!(
        out,
        "dify-bedrock's figures against the targets (medians over the runs); the Python \
         plugin's in the same run, for scale. CPU per chunk includes the request's own cost \
         (the whole process's CPU over the cell, divided by the chunks it sent). Added latency is \
         the plugin's p99 to the first chunk minus the AWS SDK's p99 reading the same streams \
         directly, in the same run. Each row's command measures just that cell (all three \
         side by side); the figures here come from the full run.\n"
    );
    let _ = writeln!(
        out,
        "| target | where | dify-bedrock | Python plugin | verdict | command |\n| --- | --- | ---: | ---: | --- | --- |"
    );
    let cpu_cells = [
        (0, 1, "1 stream, back to back"),
        (0, 128, "128 streams, back to back"),
        (20, 16, "16 streams, 20 ms between deltas"),
    ];
    for (d, c, label) in cpu_cells {
        let Some(cell) = cell(r, d, c) else { continue };
        let p = med(runs(r, &cell, Target::Plugin), CellRun::cpu_per_chunk_us);
        let py = med(runs(r, &cell, Target::Python), CellRun::cpu_per_chunk_us);
        let _ = writeln!(
            out,
            "| ≤ 10 µs plugin CPU per streamed chunk | {label} | {} µs | {} µs | {} | {} |",
            num(p, 1),
            num(py, 1),
            verdict(p, 10.0),
            command(r, &format!("--only chat --delays {d} --concurrency {c}"))
        );
    }
    for (c, limit) in [(1, 1.0), (128, 5.0)] {
        let Some(cell) = cell(r, 0, c) else { continue };
        let sdk = runs(r, &cell, Target::Sdk);
        let p99 = |x: &CellRun| x.first_ms(99.0);
        let p = paired(runs(r, &cell, Target::Plugin), sdk, p99, |a, b| a - b);
        let py = paired(runs(r, &cell, Target::Python), sdk, p99, |a, b| a - b);
        let _ = writeln!(
            out,
            "| added latency to the first chunk ≤ {limit} ms at p99 | {c} stream{}, back to back | {} ms | {} ms | {} | {} |",
            if c == 1 { "" } else { "s" },
            num(p, 2),
            num(py, 2),
            // The floor's cell runs just before, not beside, the plugin's: a negative
            // difference says the run's noise was larger than what the plugin adds.
            match p {
                Some(v) if v < 0.0 => "inconclusive: the floor's p99 was the higher (noise)",
                _ => verdict(p, limit),
            },
            command(r, &format!("--only chat --delays 0 --concurrency {c}"))
        );
    }
    // Memory: the worse of the two delays. With 20 ms between deltas every stream is
    // open for about a second, so all 1,024 are in flight together; back to back they
    // are shorter and some may end before the last ones start.
    let mut worst: (Option<f64>, Option<f64>) = (None, None);
    let mut wheres = Vec::new();
    for d in [0, 20] {
        let Some(cell) = cell(r, d, 1024) else {
            continue;
        };
        let p = runs(r, &cell, Target::Plugin).and_then(|x| per_stream(x, 1024));
        let py = runs(r, &cell, Target::Python).and_then(|x| per_stream(x, 1024));
        wheres.push(format!("{d} ms: {} KiB", num(p, 1)));
        worst.0 = max_opt(worst.0, p);
        worst.1 = max_opt(worst.1, py);
    }
    if !wheres.is_empty() {
        let _ = writeln!(
            out,
            "| ≤ 64 KiB per in-flight stream (1,024 streams within 64 MiB above idle) | 1,024 streams, the worse of the two delays ({}) | {} KiB | {} KiB | {} | {} |",
            wheres.join(", "),
            num(worst.0, 1),
            num(worst.1, 1),
            verdict(worst.0, 64.0),
            command(r, "--only chat --concurrency 1024")
        );
    }
    // Embedding: no number to meet; CPU per vector shows how much of the throughput the
    // plugin could limit.
    for model in ["amazon.titan-embed-text-v2:0", "cohere.embed-english-v3"] {
        let per_vector = |t: Target| {
            median(
                r.embedding
                    .iter()
                    .filter(|(s, x, _)| s.model == model && *x == t)
                    .flat_map(|(_, _, runs)| runs.iter().map(EmbedRun::cpu_per_vector_ms)),
            )
        };
        let (p, py) = (per_vector(Target::Plugin), per_vector(Target::Python));
        if p.is_none() && py.is_none() {
            continue;
        }
        let _ = writeln!(
            out,
            "| embedding throughput limited by the upstream: CPU per vector | `{model}`, all scenarios | {} ms | {} ms | reported (no number set) | {} |",
            num(p, 3),
            num(py, 3),
            command(r, "--only embedding")
        );
    }
    let _ = writeln!(out);
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn chat_section(out: &mut String, r: &Results, chart_link: &str) {
    let _ = writeln!(out, "## Chat: streamed answers\n");
    let _ = writeln!(
        out,
        "Each answer is {} text deltas from the Bedrock test double (`{}`, ConverseStream), \
         with no pause or 20 ms between deltas. \"Streams\" is the number of requests in flight: \
         each slot sends its next request as soon as its last one ended. Each plugin runs as \
         Dify's daemon runs it (stdin/stdout, `INSTALL_METHOD=local`), a fresh process per cell \
         and run, after one warm-up request whose answer is checked word for word. The AWS SDK \
         row is the floor: the Rust SDK in the harness reading the same streams with one shared \
         client, no plugin; its CPU is the harness process's.\n",
        r.deltas,
        crate::chat::MODEL
    );
    let _ = writeln!(
        out,
        "![Latency to the first chunk and chunks per second against streams in flight]({chart_link})\n"
    );
    let delays: Vec<u64> = {
        let mut d: Vec<u64> = r.chat.iter().map(|(c, _, _)| c.delay_ms).collect();
        d.dedup();
        d
    };
    for d in delays {
        let _ = writeln!(out, "### {d} ms between deltas\n");
        let _ = writeln!(
            out,
            "| streams | requests | who | CPU per chunk | first chunk p50 / p99 | added p50 / p99 | chunks/s | peak RSS | above idle | per stream | upstream connections per request | runs |\n\
             | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        );
        let cells: Vec<Cell> = {
            let mut v: Vec<Cell> = r
                .chat
                .iter()
                .map(|(c, _, _)| *c)
                .filter(|c| c.delay_ms == d)
                .collect();
            v.dedup();
            v
        };
        for cell in cells {
            let sdk = runs(r, &cell, Target::Sdk);
            for t in [Target::Plugin, Target::Python, Target::Sdk] {
                let Some(rs) = runs(r, &cell, t) else {
                    continue;
                };
                let added = |p: f64| {
                    if t == Target::Sdk {
                        "—".to_string()
                    } else {
                        num(paired(Some(rs), sdk, |x| x.first_ms(p), |a, b| a - b), 2)
                    }
                };
                let mem = t != Target::Sdk;
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} µs | {} / {} ms | {} / {} ms | {} | {} | {} | {} | {} | {} |",
                    group(&cell.concurrency.to_string()),
                    group(&cell.requests.to_string()),
                    t.label(),
                    num(med(Some(rs), CellRun::cpu_per_chunk_us), 1),
                    num(med(Some(rs), |x| x.first_ms(50.0)), 2),
                    num(med(Some(rs), |x| x.first_ms(99.0)), 2),
                    added(50.0),
                    added(99.0),
                    num(med(Some(rs), CellRun::chunks_per_s), 0),
                    if mem {
                        format!(
                            "{} MiB",
                            mib(med(Some(rs), |x| x.peak_kib.map(|k| k as f64)))
                        )
                    } else {
                        "—".into()
                    },
                    if mem {
                        format!("{} MiB", mib(med(Some(rs), CellRun::above_idle_kib)))
                    } else {
                        "—".into()
                    },
                    if mem {
                        format!(
                            "{} KiB",
                            num(
                                med(Some(rs), |x| x
                                    .above_idle_kib()
                                    .map(|k| k / cell.concurrency as f64)),
                                1
                            )
                        )
                    } else {
                        "—".into()
                    },
                    num(med(Some(rs), |x| x.upstream.per_request()), 3),
                    status(Some(rs)),
                );
            }
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "### Python plugin ÷ dify-bedrock, within each run\n");
    let _ = writeln!(
        out,
        "Each ratio is taken between the two plugins in the same run of the same cell, then \
         the median over runs.\n"
    );
    let _ = writeln!(
        out,
        "| delay | streams | CPU per chunk | first chunk p99 | memory above idle | chunks/s (dify-bedrock ÷ Python) |\n| ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let cells: Vec<Cell> = {
        let mut v: Vec<Cell> = r.chat.iter().map(|(c, _, _)| *c).collect();
        v.dedup();
        v
    };
    for cell in cells {
        let p = runs(r, &cell, Target::Plugin);
        let py = runs(r, &cell, Target::Python);
        let ratio = |f: fn(&CellRun) -> Option<f64>, a, b| num(paired(a, b, f, |x, y| x / y), 1);
        let _ = writeln!(
            out,
            "| {} ms | {} | {}× | {}× | {}× | {}× |",
            cell.delay_ms,
            group(&cell.concurrency.to_string()),
            ratio(CellRun::cpu_per_chunk_us, py, p),
            ratio(|x| x.first_ms(99.0), py, p),
            ratio(CellRun::above_idle_kib, py, p),
            ratio(CellRun::chunks_per_s, p, py),
        );
    }
    let _ = writeln!(out);
}

fn startup_section(out: &mut String, r: &Results) {
    let _ = writeln!(out, "## Start-up and idle memory\n");
    let _ = writeln!(
        out,
        "Spawn to the first heartbeat (the daemon's \"ready\"; it waits up to 120 s), resident \
         memory 2 s after start, and after answering `get_ai_model_schemas` requests (16 in \
         flight). The Python plugin's manifest reserves 256 MiB, as the official plugin's does; \
         this plugin's 128 MiB.\n"
    );
    let get = |t: Target| r.startup.iter().find(|(x, _)| *x == t).map(|(_, s)| s);
    let (p, py) = (get(Target::Plugin), get(Target::Python));
    let _ = writeln!(
        out,
        "| figure | dify-bedrock | Python plugin | Python ÷ dify-bedrock |\n| --- | ---: | ---: | ---: |"
    );
    let ready = |s: Option<&Startup>, pct: f64| {
        s.and_then(|s| stats::percentile(&s.ready, pct))
            .map(stats::ms)
    };
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{}×", num(Some(a / b), 0)),
        _ => "—".into(),
    };
    let spawns = |s: Option<&Startup>| s.map_or(0, |s| s.ready.len());
    let _ = writeln!(
        out,
        "| spawn → first heartbeat, median ({} / {} spawns) | {} ms | {} ms | {} |",
        spawns(p),
        spawns(py),
        num(ready(p, 50.0), 2),
        num(ready(py, 50.0), 0),
        ratio(ready(py, 50.0), ready(p, 50.0))
    );
    let _ = writeln!(
        out,
        "| spawn → first heartbeat, p90 | {} ms | {} ms | |",
        num(ready(p, 90.0), 2),
        num(ready(py, 90.0), 0)
    );
    let kib = |s: Option<&Startup>, f: fn(&Startup) -> Option<u64>| s.and_then(f).map(|k| k as f64);
    let idle = |s: &Startup| s.idle_kib;
    let after = |s: &Startup| s.after_kib;
    let peak = |s: &Startup| s.after_peak_kib;
    let _ = writeln!(
        out,
        "| resident memory, idle 2 s after start | {} MiB | {} MiB | {} |",
        mib(kib(p, idle)),
        mib(kib(py, idle)),
        ratio(kib(py, idle), kib(p, idle))
    );
    let n = p.or(py).map_or(0, |s| s.schema_requests);
    let _ = writeln!(
        out,
        "| resident memory after {} schema requests (peak) | {} MiB ({} MiB) | {} MiB ({} MiB) | {} |",
        group(&n.to_string()),
        mib(kib(p, after)),
        mib(kib(p, peak)),
        mib(kib(py, after)),
        mib(kib(py, peak)),
        ratio(kib(py, after), kib(p, after))
    );
    for (t, s) in [(Target::Plugin, p), (Target::Python, py)] {
        if let Some(problem) = s.and_then(|s| s.problem.as_ref()) {
            let _ = writeln!(out, "\n{}: {problem}", t.label());
        }
    }
    let _ = writeln!(out);
}

fn embedding_section(out: &mut String, r: &Results) {
    let _ = writeln!(out, "## Embedding\n");
    let texts = r
        .embedding
        .first()
        .and_then(|(_, _, runs)| runs.first())
        .map_or(0, |x| x.texts);
    let _ = writeln!(
        out,
        "{} short texts (~45 characters, `input_type: document`) per scenario, sent as Dify \
         sends them: requests of the model's `max_chunks` texts, one or four requests in flight, \
         in a fresh plugin process after a one-text warm-up request. Throughput is texts per \
         second of wall time; plugin CPU is the whole process's over the scenario; peak memory \
         is `VmHWM` from the warm-up on. dify-bedrock sends Titan one text per InvokeModel call \
         (8 calls in flight per request) and Cohere 96 texts per call; the Python plugin, as the \
         official one, one text per call, one call after another.\n",
        group(&texts.to_string())
    );
    let _ = writeln!(
        out,
        "| model | texts/request | requests in flight | who | InvokeModel calls | connections | wall time | texts/s | plugin CPU | CPU per vector | peak RSS | runs |\n\
         | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    );
    for (s, t, runs) in &r.embedding {
        let ok: Vec<&EmbedRun> = runs.iter().filter(|x| x.problem.is_none()).collect();
        let m = |f: fn(&EmbedRun) -> Option<f64>| median(ok.iter().map(|x| f(x)));
        let problems: Vec<String> = runs
            .iter()
            .enumerate()
            .filter_map(|(i, x)| {
                x.problem
                    .as_ref()
                    .map(|p| format!("run {}: {}", i + 1, p.replace('|', "/")))
            })
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} s | {} | {} s | {} ms | {} MiB | {} |",
            s.model,
            s.per_request,
            s.in_flight,
            t.label(),
            num(m(|x| Some(x.upstream.requests as f64)), 0),
            num(m(|x| Some(x.upstream.connections as f64)), 0),
            num(m(|x| Some(x.wall.as_secs_f64())), 2),
            num(m(EmbedRun::texts_per_s), 0),
            num(m(|x| x.cpu.map(|c| c.as_secs_f64())), 2),
            num(m(EmbedRun::cpu_per_vector_ms), 3),
            mib(m(|x| x.peak_kib.map(|k| k as f64))),
            if problems.is_empty() {
                "ok".into()
            } else {
                problems.join("; ")
            },
        );
    }
    let _ = writeln!(out);
}

fn method_section(out: &mut String, r: &Results) {
    let _ = writeln!(out, "## How it is measured\n");
    let _ = writeln!(
        out,
        "- **The harness** (`crates/bench-harness`) builds `dify-bedrock` and `bedrock-double` \
         ({} profile), makes the Python venv with `tests/conformance/setup_venv.sh` and \
         `benches/python-plugin/requirements.txt`, starts the double as its own process with \
         `--log` (it sets `TCP_NODELAY`), and plays Dify's daemon over each plugin's stdin and \
         stdout. Every process that could reach the AWS credential chain runs with \
         `AWS_EC2_METADATA_DISABLED=true` and no AWS profile files; all traffic stays on 127.0.0.1.\n\
         - **The Python plugin** (`benches/python-plugin`) stands in for the official Python \
         Bedrock plugin: dify_plugin with its gevent runtime, this repository's declarations, and \
         the official plugin's hot path rewritten here: a new boto3 `bedrock-runtime` client per \
         request (endpoint URL from the credentials), `converse_stream` with one `LLMResultChunk` \
         per text delta and usage in a last chunk, and `invoke_model` one text at a time for \
         embeddings. It loads less than the real plugin (no openai, no tiktoken), so its start-up \
         and memory are a lower bound for that plugin's.\n\
         - **CPU** is the process's own: the sum over its threads of the kernel's run time \
         (`/proc/PID/task/*/schedstat`, nanoseconds) between the start and the end of the cell, \
         checked against user + system time in `/proc/PID/stat` (10 ms ticks), which is used \
         instead when they disagree or a thread ended. Per chunk means divided by the `stream` \
         lines the plugin wrote (50 text chunks and one closing chunk with usage per answer); the \
         SDK's is per text delta, and is the harness process's CPU.\n\
         - **Latency to the first chunk** runs from the moment the request line is written to \
         the plugin's stdin (the SDK: the call to `send`) to the moment the harness reads the \
         first chunk that carries text. The added latency is paired per run with the SDK's in \
         the same cell; on two shared cores the double, the harness and the plugin compete, so \
         at high concurrency it includes queueing for the CPU. The floor's cell runs just \
         before the plugins', not at the same moment, so a negative difference means the \
         plugin's latency is within that run's noise of the floor's.\n\
         - **Memory**: the resident size after the warm-up and 300 ms of rest is the idle \
         figure; the peak (`VmHWM`, reset through `/proc/PID/clear_refs` after the warm-up) \
         minus it is the memory above idle, divided by the streams in flight per stream.\n\
         - **Upstream connections per request**: distinct connection ids in the double's log for \
         the cell's ConverseStream calls, divided by the calls: 1.0 means a new TCP connection \
         for every request.\n\
         - **Requests per cell** (the caps keep a full run near 15 minutes): back to back, four \
         per stream in flight and at least 200; with 20 ms between deltas (an answer takes about \
         a second), two per stream and at least 10; at 1,024 streams one wave of 1,024 requests, \
         all in flight together, for every target alike. The Python plugin is the slow one \
         there: a cell that does not finish within the time limit is reported as timed out \
         rather than waited for.\n\
         - **Runs**: {} per cell; each figure is the median over the runs that completed. A \
         cell whose time ran out ({} s per target) or that had errors says so in its last \
         column, and its figures are left out.\n\
         - Not a test: nothing here is asserted. The double serves from one thread and shares \
         the two cores, so chunks per second at high concurrency are the machine's limit as much \
         as the plugin's; CPU per chunk is the steadier figure.\n",
        if r.release { "release" } else { "debug" },
        r.options.runs,
        r.options.cell_timeout.as_secs()
    );
}

/// The "## Profile notes" section of benches/notes.md, heading included, up to the next
/// level-2 heading or the end: copied verbatim.
fn profile_notes(notes: &str) -> Option<&str> {
    let start = if notes.starts_with(NOTES_HEADING) {
        0
    } else {
        notes.find(&format!("\n{NOTES_HEADING}"))? + 1
    };
    let section = &notes[start..];
    let end = section[NOTES_HEADING.len()..]
        .find("\n## ")
        .map_or(section.len(), |i| i + NOTES_HEADING.len() + 1);
    Some(section[..end].trim_end())
}

const NOTES_HEADING: &str = "## Profile notes";

fn notes_section(out: &mut String, paths: &Paths) {
    let notes = std::fs::read_to_string(paths.root.join(NOTES)).unwrap_or_default();
    match profile_notes(&notes) {
        Some(section) => {
            let _ = writeln!(
                out,
                "<!-- The section below is copied verbatim from {NOTES}; edit it there. -->\n"
            );
            out.push_str(section);
            out.push('\n');
        }
        None => {
            let _ = writeln!(
                out,
                "{NOTES_HEADING}\n\n({NOTES} has no \"{NOTES_HEADING}\" section.)"
            );
        }
    }
}

pub fn markdown(r: &Results, paths: &Paths) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Benchmarks\n\n<!-- Written by crates/bench-harness; regenerate it rather than edit it. \
         The profile notes at the end come from {NOTES}. -->\n"
    );
    let _ = writeln!(
        out,
        "Every figure on this page comes from one run of one command, which builds what it \
         needs (the release plugin, the Bedrock test double, the Python plugin's venv) and \
         measures this plugin beside a Python plugin and the bare AWS SDK in the same run:\n\n\
         ```sh\ncargo run --release -p bench-harness -- --write BENCHMARKS.md\n```\n\n\
         `-- --smoke` runs a tiny matrix in seconds, writes its report under \
         `target/bench-smoke/` and fails only if a request failed (CI runs it). Figures are \
         measured, never asserted in tests: these machines are shared and noisy, so compare \
         the ratios within one run rather than absolute figures between runs.\n"
    );
    let _ = writeln!(out, "| run | |\n| --- | --- |");
    let _ = writeln!(out, "| date | {} |", r.date);
    let _ = writeln!(
        out,
        "| plugin measured | commit `{}`, {} build |",
        r.commit,
        if r.release { "release" } else { "debug" }
    );
    let _ = writeln!(out, "| machine | {} |", r.machine);
    let _ = writeln!(
        out,
        "| load average (1, 5, 15 min) | {} at the start, {} at the end |",
        r.load_before, r.load_after
    );
    let _ = writeln!(
        out,
        "| Python plugin | {} |",
        r.python_versions
            .clone()
            .or_else(|| r
                .python_problem
                .clone()
                .map(|p| format!("not measured: {p}")))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "| runs per cell | {} (figures are medians) |",
        r.options.runs
    );
    let _ = writeln!(out, "| command | `{}` |", r.options.command);
    let _ = writeln!(
        out,
        "| duration | {:.0} min |\n",
        r.wall.as_secs_f64() / 60.0
    );
    let chart_link = CHART;
    if !r.chat.is_empty() {
        targets_section(&mut out, r);
        chat_section(&mut out, r, chart_link);
    }
    if !r.startup.is_empty() {
        startup_section(&mut out, r);
    }
    if !r.embedding.is_empty() {
        embedding_section(&mut out, r);
    }
    method_section(&mut out, r);
    // A figure not measured is a bare dash, without its unit.
    for unit in ["ms", "µs", "KiB", "MiB", "s", "×"] {
        out = out
            .replace(&format!("— / — {unit}"), "—")
            .replace(&format!("— {unit} ("), "— (")
            .replace(&format!("— {unit} |"), "— |")
            .replace(&format!("—{unit} |"), "— |");
    }
    notes_section(&mut out, paths);
    out
}

#[cfg(test)]
mod tests {
    use super::{group, profile_notes};

    #[test]
    fn notes_section_only() {
        let notes =
            "# Notes\n\nintro\n\n## Profile notes\n\nA.\n\n### Sub\n\nB.\n\n## Other\n\nC.\n";
        assert_eq!(
            profile_notes(notes),
            Some("## Profile notes\n\nA.\n\n### Sub\n\nB.")
        );
        assert_eq!(
            profile_notes("## Profile notes\n\nX\n"),
            Some("## Profile notes\n\nX")
        );
        assert_eq!(profile_notes("# Nothing\n"), None);
    }

    #[test]
    fn thousands() {
        assert_eq!(group("1234567.25"), "1,234,567.25");
        assert_eq!(group("-1234"), "-1,234");
        assert_eq!(group("999"), "999");
    }
}
