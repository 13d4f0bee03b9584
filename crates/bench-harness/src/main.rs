//! The benchmark harness: builds the plugin and the Bedrock test double, makes the
//! Python stand-in's venv, then measures start-up, embedding and the chat matrix for
//! this plugin, the Python plugin and the bare AWS SDK in one run, and writes
//! BENCHMARKS.md and its chart. `--smoke` runs a tiny matrix in seconds.
//! Figures are only reported, never asserted: the machines are shared and noisy.

mod chart;
mod chat;
mod double;
mod embedding;
mod plugin;
mod prepare;
mod procs;
mod report;
mod startup;
mod stats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat::{Cell, CellRun, Target};
use plugin::Launch;

const USAGE: &str = "usage: cargo run --release -p bench-harness -- [options]

  --write FILE        write the report to FILE (BENCHMARKS.md) and the chart to
                      docs/benchmarks/ beside it
  --smoke             a tiny matrix in seconds (concurrency 1 and 4, few requests, one run);
                      writes to target/bench-smoke/ unless --write is given, and fails if
                      any request failed (nothing about speed)
  --runs N            runs per cell; figures are medians over runs (default 3)
  --only LIST         only these sections: startup, embedding, chat (comma-separated)
  --concurrency LIST  only these chat cells' streams in flight (e.g. 1,128)
  --delays LIST       only these chat cells' milliseconds between deltas (e.g. 0)
  --no-python         skip the Python plugin
  --debug             measure debug builds (faster to build; figures are not representative)
  --cell-timeout S    time limit of one cell of one target, in seconds (default 180)
  --texts N           texts per embedding scenario (default 1200)

Without --write (and without --smoke) the report is printed. Nothing is asserted about speed.";

#[derive(Debug, Clone)]
pub struct Options {
    pub write: Option<PathBuf>,
    pub smoke: bool,
    pub runs: usize,
    pub sections: Vec<String>,
    pub python: bool,
    pub release: bool,
    pub cell_timeout: Duration,
    pub texts: usize,
    pub concurrency: Option<Vec<usize>>,
    pub delays: Option<Vec<u64>>,
    pub command: String,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        write: None,
        smoke: false,
        runs: 3,
        sections: vec!["startup".into(), "embedding".into(), "chat".into()],
        python: true,
        release: true,
        cell_timeout: Duration::from_secs(180),
        texts: 1200,
        concurrency: None,
        delays: None,
        command: String::new(),
    };
    let (mut runs, mut timeout, mut texts) = (None, None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|_| format!("not a number: {v}"));
        match flag.as_str() {
            "--write" => o.write = Some(PathBuf::from(value()?)),
            "--smoke" => o.smoke = true,
            "--runs" => runs = Some(number(value()?)?.max(1) as usize),
            "--only" => {
                o.sections = value()?.split(',').map(|s| s.trim().to_string()).collect();
                if let Some(bad) = o
                    .sections
                    .iter()
                    .find(|s| !["startup", "embedding", "chat"].contains(&s.as_str()))
                {
                    return Err(format!("unknown section: {bad}"));
                }
            }
            "--concurrency" => o.concurrency = Some(list(&value()?)?),
            "--delays" => o.delays = Some(list(&value()?)?),
            "--no-python" => o.python = false,
            "--debug" => o.release = false,
            "--cell-timeout" => timeout = Some(Duration::from_secs(number(value()?)?.max(1))),
            "--texts" => texts = Some(number(value()?)?.max(1) as usize),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument: {other}\n\n{USAGE}")),
        }
    }
    o.runs = runs.unwrap_or(if o.smoke { 1 } else { 3 });
    o.cell_timeout = timeout.unwrap_or(Duration::from_secs(if o.smoke { 30 } else { 180 }));
    o.texts = texts.unwrap_or(if o.smoke { 200 } else { 1200 });
    o.command = std::iter::once(if o.release {
        "cargo run --release -p bench-harness --".to_string()
    } else {
        "cargo run -p bench-harness --".to_string()
    })
    .chain(args.iter().cloned())
    .collect::<Vec<_>>()
    .join(" ");
    Ok(o)
}

fn list<T: std::str::FromStr>(v: &str) -> Result<Vec<T>, String> {
    v.split(',')
        .map(|x| x.trim().parse().map_err(|_| format!("not a number: {x}")))
        .collect()
}

/// The chat matrix: answers of `deltas` chunks, at each delay and concurrency.
pub struct Matrix {
    pub deltas: usize,
    pub cells: Vec<Cell>,
}

fn matrix(o: &Options) -> Matrix {
    let mut cells = Vec::new();
    let concurrency: Vec<usize> = match &o.concurrency {
        Some(c) => c.clone(),
        None if o.smoke => vec![1, 4],
        None => vec![1, 16, 128, 1024],
    };
    let delays = o.delays.clone().unwrap_or(vec![0, 20]);
    for &delay_ms in &delays {
        for &c in &concurrency {
            cells.push(Cell {
                delay_ms,
                concurrency: c,
                requests: requests(o.smoke, delay_ms, c),
            });
        }
    }
    Matrix { deltas: 50, cells }
}

/// Requests per cell. Back to back: enough for stable percentiles (at least 200, or four
/// per slot). With a pause between deltas an answer takes about a second, so two per slot
/// and at least 10. At 1,024 streams one wave: every slot sends one request and all are
/// in flight together (the memory figure), which also bounds the Python plugin's time.
fn requests(smoke: bool, delay_ms: u64, c: usize) -> usize {
    match (smoke, delay_ms) {
        (true, 0) => c.max(20),
        (true, _) => c,
        (false, _) if c >= 1024 => c,
        (false, 0) => (4 * c).max(200),
        (false, _) => (2 * c).max(10),
    }
}

/// Everything one run of the harness measured.
pub struct Results {
    pub options: Options,
    pub date: String,
    pub commit: String,
    pub machine: String,
    pub load_before: String,
    pub load_after: String,
    pub python_versions: Option<String>,
    pub python_problem: Option<String>,
    pub release: bool,
    pub deltas: usize,
    pub chat: Vec<(Cell, Target, Vec<CellRun>)>,
    pub startup: Vec<(Target, startup::Startup)>,
    pub embedding: Vec<(embedding::Scenario, Target, Vec<embedding::EmbedRun>)>,
    pub wall: Duration,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-harness: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-harness: {e}");
            ExitCode::FAILURE
        }
    }
}

fn say(msg: impl AsRef<str>) {
    eprintln!("bench-harness: {}", msg.as_ref());
}

async fn run(options: Options) -> Result<(), String> {
    let started = Instant::now();
    let paths = prepare::Paths::new();
    say(format!(
        "building dify-bedrock and bedrock-double ({})",
        if options.release { "release" } else { "debug" }
    ));
    let build_started = Instant::now();
    let (plugin_bin, double_bin) = prepare::build(&paths, options.release)?;
    say(format!(
        "built in {:.0} s",
        build_started.elapsed().as_secs_f64()
    ));
    let (python, python_problem) = if options.python {
        say("preparing the Python plugin's venv (tests/conformance/setup_venv.sh)");
        match prepare::python_plugin(&paths) {
            Ok(p) => (Some(p), None),
            Err(e) => {
                say(format!(
                    "the Python plugin is skipped: {e}; measuring this plugin only"
                ));
                (None, Some(e))
            }
        }
    } else {
        (None, Some("skipped (--no-python)".into()))
    };

    let mut targets = vec![(
        Target::Plugin,
        Launch {
            name: "dify-bedrock",
            program: plugin_bin,
            args: vec![],
            dir: None,
        },
    )];
    if let Some(p) = &python {
        targets.push((
            Target::Python,
            Launch {
                name: "python",
                program: p.python.clone(),
                args: vec!["-m".into(), "main".into()],
                dir: Some(p.dir.clone()),
            },
        ));
    }

    let double = double::DoubleProcess::start(
        &double_bin,
        paths
            .target
            .join(format!("bench-double-{}.jsonl", std::process::id())),
    )?;
    say(format!("the double listens at {}", double.url));

    let m = matrix(&options);
    let mut results = Results {
        date: today(),
        commit: prepare::commit(&paths),
        machine: procs::machine(),
        load_before: procs::load_average(),
        load_after: String::new(),
        python_versions: python.as_ref().map(|p| p.versions.clone()),
        python_problem,
        release: options.release,
        deltas: m.deltas,
        chat: Vec::new(),
        startup: Vec::new(),
        embedding: Vec::new(),
        wall: Duration::ZERO,
        options: options.clone(),
    };
    let wants = |s: &str| options.sections.iter().any(|x| x == s);

    if wants("startup") {
        // The smoke run leaves out the Python plugin's start-up: its spawns cost seconds
        // each and the same code is exercised by the other sections.
        let skip = |t: &Target| options.smoke && *t == Target::Python;
        for (target, launch) in targets.iter().filter(|(t, _)| !skip(t)) {
            let spawns = match (options.smoke, target) {
                (true, _) => 3,
                (false, Target::Python) => 10,
                (false, _) => 30,
            };
            let requests = if options.smoke { 50 } else { 1000 };
            say(format!(
                "start-up: {} ({spawns} spawns, {requests} schema requests)",
                target.label()
            ));
            let s = startup::measure(launch, spawns, requests).await;
            if let Some(p) = &s.problem {
                say(format!("  problem: {p}"));
            }
            results.startup.push((*target, s));
        }
    }

    if wants("embedding") {
        let texts = Arc::new(embedding::texts(options.texts));
        for s in embedding::SCENARIOS {
            for (target, launch) in &targets {
                let mut runs = Vec::new();
                for r in 0..options.runs {
                    say(format!(
                        "embedding: {} {} texts/request, {} in flight, {} (run {}/{})",
                        s.model,
                        s.per_request,
                        s.in_flight,
                        target.label(),
                        r + 1,
                        options.runs
                    ));
                    let tag = format!("e-{}-{}-{}-{r}", s.per_request, s.in_flight, launch.name);
                    let run = embedding::run(
                        launch,
                        &double,
                        s,
                        texts.clone(),
                        &tag,
                        options.cell_timeout,
                    )
                    .await;
                    match &run.problem {
                        Some(p) => say(format!("  problem: {p}")),
                        None => say(format!(
                            "  {:.0} texts/s, {:.3} ms CPU per vector",
                            run.texts_per_s().unwrap_or(0.0),
                            run.cpu_per_vector_ms().unwrap_or(0.0)
                        )),
                    }
                    runs.push(run);
                }
                results.embedding.push((s, *target, runs));
            }
        }
    }

    if wants("chat") {
        let all: Vec<Target> = [Target::Sdk]
            .into_iter()
            .chain(targets.iter().map(|(t, _)| *t))
            .collect();
        for cell in &m.cells {
            for t in &all {
                results.chat.push((*cell, *t, Vec::new()));
            }
        }
        // Runs outermost, so that a burst of load on the machine touches one run of
        // every cell rather than every run of one cell.
        for r in 0..options.runs {
            for (i, cell) in m.cells.iter().enumerate() {
                for (j, t) in all.iter().enumerate() {
                    say(format!(
                        "chat: {} ms between deltas, {} streams, {} requests, {} (run {}/{})",
                        cell.delay_ms,
                        cell.concurrency,
                        cell.requests,
                        t.label(),
                        r + 1,
                        options.runs
                    ));
                    let tag = format!("c{}-{}-{r}", cell.delay_ms, cell.concurrency);
                    let run = match t {
                        Target::Sdk => {
                            chat::run_sdk_cell(&double, *cell, m.deltas, options.cell_timeout).await
                        }
                        _ => {
                            let Some((_, launch)) = targets.iter().find(|(x, _)| x == t) else {
                                continue;
                            };
                            chat::run_plugin_cell(
                                launch,
                                &double,
                                *cell,
                                m.deltas,
                                &format!("{tag}-{}", launch.name),
                                options.cell_timeout,
                            )
                            .await
                        }
                    };
                    say(format!("  {}", report::run_summary(&run)));
                    results.chat[i * all.len() + j].2.push(run);
                }
            }
        }
    }

    results.load_after = procs::load_average();
    results.wall = started.elapsed();
    drop(double);

    let text = report::markdown(&results, &paths);
    let out = match (&options.write, options.smoke) {
        (Some(file), _) => Some(if file.is_absolute() {
            file.clone()
        } else {
            std::env::current_dir()
                .map(|d| d.join(file))
                .unwrap_or(file.clone())
        }),
        // The smoke run writes too, so that the report and the chart are exercised.
        (None, true) => Some(paths.target.join("bench-smoke/BENCHMARKS.md")),
        (None, false) => None,
    };
    match out {
        Some(file) => {
            let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
            if wants("chat") {
                // Where the report's link (docs/benchmarks/chat.svg) points.
                let charts = dir.join(report::CHART);
                if let Some(parent) = charts.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
                }
                chart::chat(&results, &charts)?;
                say(format!("wrote {}", charts.display()));
            }
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            std::fs::write(&file, text)
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            say(format!("wrote {}", file.display()));
        }
        None => println!("{text}"),
    }
    say(format!("done in {:.0} s", started.elapsed().as_secs_f64()));
    if options.smoke {
        let problems = problems(&results);
        if !problems.is_empty() {
            return Err(format!(
                "the smoke run found {} problem(s):\n  {}",
                problems.len(),
                problems.join("\n  ")
            ));
        }
    }
    Ok(())
}

/// What went wrong in a run, whatever the speed: a plugin that did not start, a request
/// that failed or went unanswered, a wrong count. The smoke run fails on any of these.
fn problems(r: &Results) -> Vec<String> {
    let mut out = Vec::new();
    for (t, s) in &r.startup {
        if let Some(p) = &s.problem {
            out.push(format!("start-up, {}: {p}", t.label()));
        }
    }
    for (s, t, runs) in &r.embedding {
        for run in runs {
            if let Some(p) = &run.problem {
                out.push(format!(
                    "embedding {} ({}), {}: {p}",
                    s.model,
                    s.in_flight,
                    t.label()
                ));
            }
        }
    }
    for (c, t, runs) in &r.chat {
        for run in runs {
            if !run.complete() {
                out.push(format!(
                    "chat {} ms × {} streams, {}: {}",
                    c.delay_ms,
                    c.concurrency,
                    t.label(),
                    report::run_summary(run)
                ));
            }
        }
    }
    out
}

/// Today's date (UTC), from the clock: days since the epoch to a civil date.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn smoke_matrix_is_small() {
        let o = super::parse(&args(&["--smoke"])).unwrap();
        let m = super::matrix(&o);
        assert_eq!(m.cells.len(), 4);
        assert!(
            m.cells
                .iter()
                .all(|c| c.concurrency <= 4 && c.requests <= 20)
        );
    }

    #[test]
    fn cells_can_be_chosen() {
        let o = super::parse(&args(&["--concurrency", "1,128", "--delays", "0"])).unwrap();
        let cells: Vec<(u64, usize)> = super::matrix(&o)
            .cells
            .iter()
            .map(|c| (c.delay_ms, c.concurrency))
            .collect();
        assert_eq!(cells, [(0, 1), (0, 128)]);
        assert!(super::parse(&args(&["--delays", "x"])).is_err());
    }
}
