//! `tiersim sweep`: run a sweep spec (or the embedded default) in parallel, or merge shards.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use crate::error::Error;
use crate::sweep::{self, Prepared, RunOptions, Shard, output, shard, summary};

/// Validated options of `tiersim sweep`.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The spec file; the embedded default when `None`.
    pub spec: Option<PathBuf>,
    /// How to run it.
    pub run: RunOptions,
    /// Whether to write SVG plots.
    pub plots: bool,
}

impl SweepOptions {
    /// Validates raw flags.
    pub fn from_args(a: &crate::cli::SweepArgs) -> Result<Self, Error> {
        let threads = crate::cli::worker_threads(a.threads)?;
        let shard = match &a.shard {
            Some(s) => Shard::from_flag(s, &slurm_env())?,
            None => Shard::ALL,
        };
        Ok(Self {
            spec: a.spec.clone(),
            run: RunOptions {
                threads,
                out: {
                    crate::files::check_out_dir(&a.out)?;
                    a.out.clone()
                },
                resume: a.resume,
                shard,
                progress: !a.no_progress,
            },
            plots: !a.no_plots && shard.count == 1,
        })
    }
}

/// The job array variables of this process's environment, for `--shard auto` (a value that is
/// not UTF-8 is kept, lossily, so the error can show it).
fn slurm_env() -> HashMap<String, String> {
    shard::slurm::ALL
        .iter()
        .filter_map(|&var| {
            let value = std::env::var_os(var)?;
            Some((var.to_owned(), value.to_string_lossy().into_owned()))
        })
        .collect()
}

/// Runs the sweep and prints its summary.
pub fn run(o: &SweepOptions, out: &mut dyn Write) -> Result<(), Error> {
    // Checking every point runs in parallel too, on the threads asked for.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(o.run.threads)
        .build()
        .map_err(|e| Error::usage("--threads", e.to_string()))?;
    let prepared = pool.install(|| Prepared::load(o.spec.as_deref()))?;
    let report = sweep::run(&prepared, &o.run)?;
    let text = summary::summarise(&report.csv, prepared.spec.vary.len())?;
    let mut lines = format!(
        "sweep {}: {} points simulated, {} resumed, {:.1} s on {} threads\n{text}",
        prepared.spec.name, report.simulated, report.resumed, report.seconds, o.run.threads
    );
    if o.plots {
        for p in crate::sweep::plots::write_sweep_plots(&prepared.spec, &report.csv, &o.run.out)? {
            lines.push_str(&format!("plot: {}\n", p.display()));
        }
    }
    out.write_all(lines.as_bytes()).map_err(Error::Output)?;
    // The embedded default is the headline study: its requirement table and decode ceiling
    // come with it, their curves only when plots are wanted.
    if o.spec.is_none() && o.run.shard.count == 1 {
        writeln!(out).map_err(Error::Output)?;
        crate::cli::require::run(None, &o.run.out, o.run.threads, o.plots, out)?;
        writeln!(out).map_err(Error::Output)?;
        default_ceiling(&o.run.out, o.plots, out)?;
    }
    Ok(())
}

/// The headline decode ceiling: the seeds' model's 32k-token KV read from one HBF stack (the
/// preset's device) per token, formula beside simulation, from 10 GB/s to 1.6 TB/s; its chart
/// only with `plots`.
fn default_ceiling(dir: &std::path::Path, plots: bool, out: &mut dyn Write) -> Result<(), Error> {
    let csv = dir.join("ceiling-qwen2.5-3b-hbf.csv");
    let svg = dir.join("ceiling-qwen2.5-3b-hbf.svg");
    let (csv, svg) = (csv.display().to_string(), svg.display().to_string());
    let mut args = vec![
        "tiersim",
        "ceiling",
        "--model",
        "qwen2.5-3b-instruct-q4_k_m",
        "--context",
        "32768",
        "--tier-mbps-list",
        "10000,20000,50000,100000,200000,400000,800000,1600000",
        "--queue-depth",
        "512",
        "--parallel-units",
        "256",
        "--io-size",
        "4KiB",
        "--read-latency",
        "{lognormal: {median: 4us, p99: 10us}}",
        "--write-kb-per-token",
        "36",
        "--write-mbps",
        "16000",
        "--write-latency",
        "100us",
        "--csv",
        &csv,
    ];
    if plots {
        args.extend(["--svg", &svg]);
    }
    let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(args)
        .map_err(|e| Error::usage("ceiling", e.to_string()))?;
    crate::cli::run(cli, out)
}

/// Merges shard CSVs into one file.
pub fn merge(
    inputs: &[PathBuf],
    target: &std::path::Path,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let rows = output::merge(inputs, target)?;
    writeln!(
        out,
        "merged {} shards, {rows} rows -> {}",
        inputs.len(),
        target.display()
    )
    .map_err(Error::Output)
}
