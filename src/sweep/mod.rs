//! Sweeps: many simulations over a grid of parameters, run in parallel, streamed to a tidy CSV
//! in point order, resumable, and splittable into shards for a cluster.
//!
//! Every point's random streams derive from `(seed, point id)` and every baseline's from its
//! configuration, so the CSV is byte-identical for any thread count, shard split or resume.

pub mod output;
pub mod plots;
pub mod point;
pub mod require;
pub mod shard;
pub mod spec;
pub mod summary;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use crate::config::error::ConfigError;
use crate::config::load::{self, Override};
use crate::error::Error;
use crate::files;
use crate::limits::{self, LimitError};
use crate::scenario::TestCase;
use crate::sweep::output::{CsvSink, Sidecar};
use crate::sweep::point::BaselineCache;
use crate::sweep::spec::{Point, SweepSpec};

pub use shard::Shard;

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads.
    pub threads: usize,
    /// Output directory.
    pub out: PathBuf,
    /// Continue an interrupted run.
    pub resume: bool,
    /// The slice to run.
    pub shard: Shard,
    /// Show a progress bar (only on a terminal).
    pub progress: bool,
}

/// A sweep spec, loaded and checked: every point loads, places and fits.
pub struct Prepared {
    /// The spec.
    pub spec: SweepSpec,
    /// Where it came from.
    pub origin: String,
    /// Expanded axis values.
    pub axes: Vec<Vec<serde_yaml::Value>>,
    /// Overrides applied at every point.
    pub fixed: Vec<Override>,
    /// The tests of every point.
    pub cases: Vec<TestCase>,
    /// Number of points.
    pub n_points: u64,
    /// Most tiers of any point's system (the CSV's tier columns).
    pub tiers: usize,
}

impl Prepared {
    /// Loads a spec from a file, or the embedded default when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let (text, origin) = match path {
            Some(p) => (load::read_spec(p)?, p.display().to_string()),
            None => (
                DEFAULT_SPEC.to_owned(),
                "the embedded default sweep".to_owned(),
            ),
        };
        let spec: SweepSpec = load::parse(&text, &origin)?;
        Self::new(spec, origin)
    }

    /// Checks a spec: axes expand, and every point's configuration loads and fits, before any
    /// point runs.
    pub fn new(spec: SweepSpec, origin: String) -> Result<Self, ConfigError> {
        let axes = spec.axis_values(&origin)?;
        let fixed = spec.fixed_overrides()?;
        files::file_name(&spec.name).map_err(|m| ConfigError::invalid(&origin, "name", m))?;
        let cases = point::cases(&spec);
        if cases.is_empty() {
            return Err(ConfigError::invalid(
                &origin,
                "tests",
                "has no test; give n_prompt, n_gen or pg values above 0",
            ));
        }
        if spec.repeats == 0 {
            return Err(ConfigError::invalid(
                &origin,
                "repeats",
                "is 0; expected at least 1",
            ));
        }
        let invalid =
            |field: &str, e: LimitError| ConfigError::invalid(&origin, field, e.to_string());
        limits::REPETITIONS
            .check(u64::from(spec.repeats))
            .map_err(|e| invalid("repeats", e))?;
        point::check_tests(&spec.tests, &origin)?;
        let n_points = SweepSpec::n_points(&axes, spec.grid).map_err(|e| invalid("vary", e))?;
        // Checking is cheap next to simulating; doing it for every point (in parallel) is what
        // lets a bad value fail before any result is written.
        let checks: Vec<Result<usize, ConfigError>> = {
            use rayon::prelude::*;
            (0..n_points)
                .into_par_iter()
                .map(|id| {
                    point::check_point(
                        &spec,
                        &fixed,
                        &cases,
                        &SweepSpec::point(&axes, spec.grid, id),
                    )
                })
                .collect()
        };
        let mut tiers = 0;
        for (id, r) in checks.into_iter().enumerate() {
            match r {
                Ok(t) => tiers = tiers.max(t),
                Err(e) => {
                    let at: Vec<String> = SweepSpec::point(&axes, spec.grid, id as u64)
                        .values
                        .iter()
                        .map(|(i, v)| format!("{}={}", spec.vary[*i].param, spec::value_text(v)))
                        .collect();
                    return Err(ConfigError::Parse {
                        origin: format!("{origin}, point {id} ({})", at.join(", ")),
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(Self {
            spec,
            origin,
            axes,
            fixed,
            cases,
            n_points,
            tiers,
        })
    }

    /// Point `id`.
    pub fn point(&self, id: u64) -> Point {
        SweepSpec::point(&self.axes, self.spec.grid, id)
    }

    /// The CSV file name of a run (shards get their own).
    pub fn csv_name(&self, shard: Shard) -> String {
        if shard.count == 1 {
            format!("{}.csv", self.spec.name)
        } else {
            format!(
                "{}.shard-{}-of-{}.csv",
                self.spec.name, shard.index, shard.count
            )
        }
    }
}

/// The sweep `cargo run --release -- sweep` runs without a spec: the seeds' model with its KV
/// cache spilled to HBF and to SSD, across the spill tier's bandwidth and latency.
pub const DEFAULT_SPEC: &str = include_str!("../../models/sweeps/default.yaml");

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The CSV written.
    pub csv: PathBuf,
    /// Points simulated by this run (excluding resumed ones).
    pub simulated: u64,
    /// Points already present from an earlier run.
    pub resumed: u64,
    /// Wall time.
    pub seconds: f64,
}

/// Runs a prepared sweep (or one shard of it) into `opts.out`.
pub fn run(p: &Prepared, opts: &RunOptions) -> Result<RunReport, Error> {
    let started = Instant::now();
    files::create_dir(&opts.out)?;
    let csv_path = opts.out.join(p.csv_name(opts.shard));
    let header = point::header(&p.spec, p.tiers);
    let sidecar = Sidecar::new(p, opts.shard);
    let mut sink = CsvSink::open(&csv_path, &header, &sidecar, opts.resume)?;
    let resumed = sink.done_count();
    let todo: Vec<u64> = (0..p.n_points)
        .filter(|&id| opts.shard.owns(id) && !sink.is_done(id))
        .collect();

    let bar = progress_bar(opts.progress, todo.len() as u64);
    let baselines = BaselineCache::default();
    let next = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let (tx, rx) =
        mpsc::sync_channel::<(u64, Result<Vec<Vec<String>>, ConfigError>)>(opts.threads * 4);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| Error::usage("--threads", e.to_string()))?;
    let mut write_result: Result<(), Error> = Ok(());
    std::thread::scope(|scope| {
        // Workers pull point ids in order, so finished points arrive nearly in order and the
        // reorder buffer stays as small as the number of threads.
        scope.spawn(|| {
            pool.scope(|s| {
                for _ in 0..opts.threads {
                    let tx = tx.clone();
                    s.spawn(|_| {
                        let tx = tx;
                        loop {
                            if failed.load(Ordering::Relaxed) {
                                break;
                            }
                            let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                            let Some(&id) = todo.get(i) else { break };
                            let pt = p.point(id);
                            let rows = point::run_point(
                                &p.spec, &p.fixed, &p.cases, p.tiers, &baselines, &pt,
                            );
                            if tx.send((id, rows)).is_err() {
                                break;
                            }
                        }
                    });
                }
            });
            drop(tx);
        });
        for (id, rows) in rx {
            let step = rows
                .map_err(Error::from)
                .and_then(|rows| sink.put(id, rows));
            if let Some(b) = &bar {
                b.inc(1);
            }
            if let Err(e) = step {
                failed.store(true, Ordering::Relaxed);
                write_result = Err(e);
                break;
            }
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    write_result?;
    sink.finish()?;
    Ok(RunReport {
        csv: csv_path,
        simulated: todo.len() as u64,
        resumed,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn progress_bar(wanted: bool, len: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {pos}/{len} points [{elapsed_precise}, {eta} left] {wide_bar}",
        )
        .expect("a valid template"),
    );
    Some(bar)
}
