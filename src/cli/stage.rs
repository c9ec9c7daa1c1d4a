//! `tiersim stage`: the time to bring a model's weights into the local tier through a tier with
//! a bandwidth cap and a latency per chunk — the predecessor's `tier_copy.py` emulation, with the
//! storage under it as an optional second limit.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::analytic::staging_time;
use crate::config::load;
use crate::config::system::Granularity;
use crate::engine::Scheduler;
use crate::error::Error;
use crate::limits;
use crate::model::traffic::ModelTraffic;
use crate::rng;
use crate::tier::device::{Device, DeviceParams};
use crate::tier::latency::LatencyDist;
use crate::units::{Bytes, BytesPerSec, ClockOverflow, Seconds, SimTime};

/// `tiersim stage` flags.
#[derive(Debug, Args)]
pub struct StageArgs {
    /// Model whose weights are staged (preset, YAML or GGUF).
    #[arg(long, default_value = "qwen2.5-3b-instruct-q4_k_m")]
    pub model: String,
    /// Bandwidth caps in MB/s (10^6 B/s), comma-separated.
    #[arg(long, default_value = "250,500,1000,2000", value_delimiter = ',')]
    pub cap_mbps_list: Vec<f64>,
    /// Latency added per chunk in ms, comma-separated.
    #[arg(long, default_value = "0,1,5", value_delimiter = ',')]
    pub chunk_lat_ms_list: Vec<f64>,
    /// Chunk size.
    #[arg(long, default_value = "4MB")]
    pub chunk: String,
    /// Read bandwidth of the storage the copy reads from, in MB/s (unlimited when absent).
    #[arg(long)]
    pub source_mbps: Option<f64>,
    /// Measured staging times to compare with (the Findings V2 CSV in `calibration/`).
    #[arg(long)]
    pub compare: Option<PathBuf>,
}

/// Simulated staging of `size` through a queue-depth-1 copy loop of `chunk` chunks.
///
/// Fails when the copy lasts past the clock's range; the caller bounds the chunk count
/// ([`limits::TRANSFERS`]) first, since each chunk is one transfer.
pub fn simulate_staging(
    size: Bytes,
    bw: BytesPerSec,
    chunk: Bytes,
    latency: Seconds,
) -> Result<Seconds, ClockOverflow> {
    let params = DeviceParams {
        read_bw: bw,
        write_bw: bw,
        read_latency: LatencyDist::fixed(latency),
        write_latency: LatencyDist::fixed(latency),
        parallel_units: 1,
        queue_depth: 1,
        io_size: chunk,
        read_path: None,
    };
    let mut dev = Device::new(&params, Granularity::Fine, 1);
    let mut sched = Scheduler::new();
    let mut rng = rng::stream(0, 0);
    dev.read(SimTime::ZERO, size, &mut rng, |at, leg| {
        sched.schedule(at, leg)
    });
    let mut end = SimTime::ZERO;
    while let Some((t, leg)) = sched.pop() {
        end = end.max(dev.transfer(t, leg));
    }
    Ok(end.check()?.to_seconds())
}

/// Prints formula, simulation and (optionally) measurement per cap and chunk latency.
pub fn run(a: &StageArgs, out: &mut dyn Write) -> Result<(), Error> {
    let m = load::model(Some(&a.model), &[])?;
    let size = ModelTraffic::new(&m.spec).model_size;
    let chunk = Bytes::parse(&a.chunk).map_err(|e| Error::usage("--chunk", e.to_string()))?;
    if !(chunk.0.is_finite() && chunk.0 > 0.0) {
        return Err(Error::usage(
            "--chunk",
            format!("`{}` must be a positive size, e.g. 4MB", a.chunk),
        ));
    }
    if let Some(c) = a
        .cap_mbps_list
        .iter()
        .find(|c| !(c.is_finite() && **c > 0.0))
    {
        return Err(Error::usage(
            "--cap-mbps-list",
            format!("`{c}` is not a bandwidth; expected positive, finite MB/s"),
        ));
    }
    if let Some(l) = a
        .chunk_lat_ms_list
        .iter()
        .find(|l| !(l.is_finite() && **l >= 0.0))
    {
        return Err(Error::usage(
            "--chunk-lat-ms-list",
            format!("`{l}` is not a latency; expected finite milliseconds, 0 or more"),
        ));
    }
    if let Some(s) = a.source_mbps.filter(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(Error::usage(
            "--source-mbps",
            format!("`{s}` is not a bandwidth; expected positive, finite MB/s"),
        ));
    }
    // One transfer per chunk: bound the copy before it is built.
    let chunks = (size.0 / chunk.0).ceil();
    limits::TRANSFERS
        .check(if chunks.is_finite() {
            chunks as u64
        } else {
            u64::MAX
        })
        .map_err(|e| Error::usage("--chunk", format!("`{}` {e}", a.chunk)))?;
    limits::RUN_TRANSFERS
        .product([
            chunks as u64,
            a.cap_mbps_list.len() as u64,
            a.chunk_lat_ms_list.len() as u64,
        ])
        .map_err(|e| Error::usage("--cap-mbps-list", e.to_string()))?;
    let measured = match &a.compare {
        Some(p) => read_measured(p)?,
        None => Vec::new(),
    };
    let mut text = format!(
        "# staging {} ({size}) in {} chunks{}\n",
        m.spec.name,
        Bytes(chunk.0),
        a.source_mbps
            .map_or(String::new(), |s| format!(", source storage {s} MB/s"))
    );
    text.push_str("| cap MB/s | chunk ms | formula s | simulated s | sim MB/s |");
    if !measured.is_empty() {
        text.push_str(" measured s | measured MB/s |");
    }
    text.push('\n');
    for &cap in &a.cap_mbps_list {
        for &lat in &a.chunk_lat_ms_list {
            let formula = staging_time(size, BytesPerSec(cap * 1e6), chunk, Seconds::ms(lat));
            let bw = BytesPerSec(a.source_mbps.map_or(cap, |s| s.min(cap)) * 1e6);
            let sim = simulate_staging(size, bw, chunk, Seconds::ms(lat))?;
            text.push_str(&format!(
                "| {cap} | {lat} | {:.2} | {:.2} | {:.1} |",
                formula.0,
                sim.0,
                size.0 / sim.0 / 1e6
            ));
            if let Some((s, mbps)) = measured
                .iter()
                .find(|(c, l, _, _)| *c == cap && *l == lat)
                .map(|(_, _, s, m)| (s, m))
            {
                text.push_str(&format!(" {s:.2} | {mbps:.1} |"));
            } else if !measured.is_empty() {
                text.push_str(" - | - |");
            }
            text.push('\n');
        }
    }
    out.write_all(text.as_bytes()).map_err(Error::Output)
}

/// `(cap_mbps, chunk_lat_ms, seconds, MB/s)` rows of a Findings V2 staging CSV.
fn read_measured(path: &std::path::Path) -> Result<Vec<(f64, f64, f64, f64)>, Error> {
    let bad = |m: String| Error::usage("--compare", format!("{}: {m}", path.display()));
    let text = crate::files::read_text(path).map_err(|e| bad(e.reason))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let csv_error = |e: csv::Error| {
        let line = e.position().map_or(1, csv::Position::line);
        bad(format!("line {line}: not valid CSV ({e})"))
    };
    let mut r = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let h = r.headers().map_err(csv_error)?.clone();
    let col = |n: &str| {
        h.iter()
            .position(|x| x.trim() == n)
            .ok_or_else(|| bad(format!("the header has no `{n}` column")))
    };
    let (c, l, s, e) = (
        col("cap_mbps")?,
        col("chunk_lat_ms")?,
        col("stage_median_seconds")?,
        col("stage_eff_median_mbps")?,
    );
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(csv_error)?;
        let line = rec.position().map_or(0, csv::Position::line);
        let f = |k: usize| {
            let v = rec.get(k).unwrap_or("").trim();
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    bad(format!(
                        "line {line}, column `{}`: `{}` is not a number; expected a finite \
                         number of at least 0",
                        &h[k],
                        crate::units::elide(v)
                    ))
                })
        };
        rows.push((f(c)?, f(l)?, f(s)?, f(e)?));
    }
    Ok(rows)
}
