//! The chat chart (SVG): for each delay, latency to the first chunk (p50 and p99) and
//! chunks per second against streams in flight, this plugin beside the Python plugin
//! beside the AWS SDK floor. Medians over complete runs, as in the tables.

use std::path::Path;

use plotters::prelude::*;

use crate::Results;
use crate::chat::{CellRun, Target};
use crate::stats::median;

/// (streams, p50 ms, p99 ms, chunks/s) per cell of one delay, for one target.
type Points = Vec<(f64, Option<f64>, Option<f64>, Option<f64>)>;

fn points(r: &Results, delay_ms: u64, target: Target) -> Points {
    r.chat
        .iter()
        .filter(|(c, t, _)| c.delay_ms == delay_ms && *t == target)
        .map(|(c, _, runs)| {
            let m = |f: &dyn Fn(&CellRun) -> Option<f64>| {
                median(runs.iter().filter(|x| x.complete()).map(f))
            };
            (
                c.concurrency as f64,
                m(&|x| x.first_ms(50.0)),
                m(&|x| x.first_ms(99.0)),
                m(&|x| x.chunks_per_s()),
            )
        })
        .collect()
}

fn color(t: Target) -> RGBColor {
    match t {
        Target::Plugin => RGBColor(0xd9, 0x5f, 0x02),
        Target::Python => RGBColor(0x1b, 0x6a, 0xc9),
        Target::Sdk => RGBColor(0x55, 0x55, 0x55),
    }
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (0.1, 10.0)
    } else {
        (lo / 1.5, hi * 1.5)
    }
}

/// An axis label: whole numbers without decimals, small ones with as few as they need.
fn short(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn err(e: impl std::fmt::Display) -> String {
    format!("cannot draw the chart: {e}")
}

pub fn chat(r: &Results, path: &Path) -> Result<(), String> {
    let mut delays: Vec<u64> = r.chat.iter().map(|(c, _, _)| c.delay_ms).collect();
    delays.dedup();
    let targets = [Target::Plugin, Target::Python, Target::Sdk];
    let height = 420 * delays.len().max(1) as u32;
    let root = SVGBackend::new(path, (1200, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let rows = root.split_evenly((delays.len().max(1), 2));
    let (x_lo, x_hi) = range(r.chat.iter().map(|(c, _, _)| c.concurrency as f64));
    for (row, delay) in delays.iter().enumerate() {
        let data: Vec<(Target, Points)> = targets
            .iter()
            .map(|t| (*t, points(r, *delay, *t)))
            .filter(|(_, p)| !p.is_empty())
            .collect();

        // Left: latency to the first chunk, p50 solid and p99 thin.
        let (lo, hi) = range(
            data.iter()
                .flat_map(|(_, p)| p.iter().flat_map(|(_, a, b, _)| [*a, *b]).flatten()),
        );
        let mut chart = ChartBuilder::on(&rows[row * 2])
            .caption(
                format!("First chunk, {delay} ms between deltas (ms, p50 thick, p99 thin)"),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("streams in flight")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("ms")
            .y_label_formatter(&|y| short(*y))
            .draw()
            .map_err(err)?;
        for (t, p) in &data {
            let c = color(*t);
            let p50: Vec<(f64, f64)> = p
                .iter()
                .filter_map(|(x, a, _, _)| Some((*x, (*a)?)))
                .collect();
            let p99: Vec<(f64, f64)> = p
                .iter()
                .filter_map(|(x, _, b, _)| Some((*x, (*b)?)))
                .collect();
            chart
                .draw_series(LineSeries::new(p50, c.stroke_width(3)))
                .map_err(err)?
                .label(t.label())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))
                });
            chart
                .draw_series(LineSeries::new(p99, c.stroke_width(1)))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;

        // Right: chunks per second.
        let (lo, hi) = range(
            data.iter()
                .flat_map(|(_, p)| p.iter().filter_map(|(_, _, _, c)| *c)),
        );
        let mut chart = ChartBuilder::on(&rows[row * 2 + 1])
            .caption(
                format!("Chunks per second, {delay} ms between deltas"),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("streams in flight")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("chunks/s")
            .y_label_formatter(&|y| short(*y))
            .draw()
            .map_err(err)?;
        for (t, p) in &data {
            let c = color(*t);
            let line: Vec<(f64, f64)> = p
                .iter()
                .filter_map(|(x, _, _, v)| Some((*x, (*v)?)))
                .collect();
            chart
                .draw_series(LineSeries::new(line, c.stroke_width(3)))
                .map_err(err)?
                .label(t.label())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}
