//! `tiersim ceiling`: the predecessor's `kv_spill_sim.py`, byte for byte.

use std::io::Write;

use std::path::PathBuf;

use crate::analytic::KvSpillCeiling;
use crate::ceiling::{CAUSES, CeilingPoint, CeilingSetup};
use crate::cli::CeilingArgs;
use crate::config::load;
use crate::config::system::Granularity;
use crate::error::Error;
use crate::limits;
use crate::model::quant::QuantType;
use crate::model::traffic::ModelTraffic;
use crate::report::numfmt::{self, c_g, python_float};
use crate::report::plot::{Axis, LineChart, Series, Unit, line_svg};
use crate::tier::latency::LatencyDist;
use crate::units::{Bytes, BytesPerSec, Seconds};

/// Validated options of `tiersim ceiling`.
#[derive(Debug, Clone)]
pub struct CeilingOptions {
    /// KV kilobytes (10^3 bytes) fetched per token.
    pub kv_kb_per_token: f64,
    /// Tier bandwidths in MB/s (10^6 bytes per second).
    pub tier_mbps: Vec<f64>,
    /// Latency of one access in milliseconds.
    pub op_lat_ms: f64,
    /// Accesses per token.
    pub ops_per_token: f64,
    /// The simulation beside the formula, when any simulation flag was given.
    pub simulate: Option<SimulateCeiling>,
}

/// The simulated ceiling's setup and outputs.
#[derive(Debug, Clone)]
pub struct SimulateCeiling {
    /// The setup (bytes, device, tokens, seed).
    pub setup: CeilingSetup,
    /// Where the bytes per token come from, for the table's heading.
    pub source: String,
    /// Write bandwidth; the read bandwidth of each point when absent.
    pub write_bw: Option<BytesPerSec>,
    /// CSV output.
    pub csv: Option<PathBuf>,
    /// SVG output.
    pub svg: Option<PathBuf>,
}

impl CeilingOptions {
    /// Validates raw flags the way `kv_spill_sim.py`'s argparse reads them (Python `float`).
    pub fn from_args(a: &CeilingArgs) -> Result<Self, Error> {
        let list = match (&a.tier_mbps_list, &a.tier_mbps) {
            (Some(list), _) => list
                .split(',')
                .map(|v| py_float("--tier-mbps-list", v))
                .collect::<Result<Vec<_>, _>>()?,
            (None, Some(one)) => vec![py_float("--tier-mbps", one)?],
            (None, None) => {
                return Err(Error::usage(
                    "--tier-mbps",
                    "missing; give --tier-mbps or --tier-mbps-list, e.g. --tier-mbps-list 500,1000,2000",
                ));
            }
        };
        limits::LIST_VALUES
            .check(list.len() as u64)
            .map_err(|e| Error::usage("--tier-mbps-list", e.to_string()))?;
        if let Some(bad) = list.iter().find(|m| !(m.is_finite() && **m > 0.0)) {
            return Err(Error::usage(
                "--tier-mbps",
                format!(
                    "`{}` is not a bandwidth; expected a positive, finite number of MB/s",
                    c_g(*bad)
                ),
            ));
        }
        // The formula is a sum of non-negative times: a negative or non-finite term would print
        // a ceiling that means nothing.
        let non_negative = |flag: &str, text: &str| {
            let v = py_float(flag, text)?;
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(Error::usage(
                    flag,
                    format!("`{text}` must be a finite number, 0 or more"),
                ))
            }
        };
        let mut o = Self {
            kv_kb_per_token: non_negative("--kv-kb-per-token", &a.kv_kb_per_token)?,
            tier_mbps: list,
            op_lat_ms: non_negative("--op-lat-ms", &a.op_lat_ms)?,
            ops_per_token: non_negative("--ops-per-token", &a.ops_per_token)?,
            simulate: None,
        };
        let wants_sim = a.queue_depth.is_some()
            || a.parallel_units.is_some()
            || a.io_size.is_some()
            || a.read_latency.is_some()
            || a.model.is_some()
            || a.write_kb_per_token.is_some()
            || a.csv.is_some()
            || a.svg.is_some()
            || a.fine;
        if wants_sim {
            o.simulate = Some(simulation(a, &mut o)?);
        }
        Ok(o)
    }
}

/// The ceiling exactly as the script computes it, operation for operation, so that the printed
/// digits agree: `kv · 1000 / (mbps · 1e6) + ops · lat / 1000`, inverted.
pub fn script_tg_max(kv_kb: f64, mbps: f64, op_lat_ms: f64, ops: f64) -> f64 {
    let t = kv_kb * 1000.0 / (mbps * 1e6) + ops * op_lat_ms / 1000.0;
    if t == 0.0 { f64::INFINITY } else { 1.0 / t }
}

fn simulation(a: &CeilingArgs, o: &mut CeilingOptions) -> Result<SimulateCeiling, Error> {
    if a.context == 0 && a.model.is_some() {
        return Err(Error::usage(
            "--context",
            "is 0; expected the tokens in the KV cache, at least 1",
        ));
    }
    let (read, source) = match &a.model {
        Some(name) => {
            let m = load::model(Some(name), &[])?;
            let t = ModelTraffic::new(&m.spec);
            let ty = QuantType::from_name(&a.kv_type).ok_or_else(|| {
                Error::usage(
                    "--kv-type",
                    format!("`{}` is not a ggml type such as f16 or q8_0", a.kv_type),
                )
            })?;
            let per = t.kv_per_token(ty, ty);
            let kv: Bytes = (0..t.layers.len())
                .map(|l| per * t.attended(l, u64::from(a.context)) as f64)
                .sum();
            let weights = if a.weights { t.model_size } else { Bytes::ZERO };
            // The formula then charges the same bytes.
            o.kv_kb_per_token = (kv + weights).0 / 1000.0;
            let what = if a.weights { "KV + weights" } else { "KV" };
            (
                kv + weights,
                format!(
                    "{what} of {} at {} tokens ({ty})",
                    crate::sweep::plots::labels::model_name(&m.spec),
                    numfmt::grouped(f64::from(a.context))
                ),
            )
        }
        None => (
            Bytes(o.kv_kb_per_token * 1000.0),
            format!("{} per token", numfmt::bytes(o.kv_kb_per_token * 1000.0)),
        ),
    };
    let latency = Seconds::ms(o.op_lat_ms);
    let mut device = CeilingSetup::formula_device(read, o.ops_per_token, latency);
    for (flag, given, field) in [
        ("--queue-depth", a.queue_depth, &mut device.queue_depth),
        (
            "--parallel-units",
            a.parallel_units,
            &mut device.parallel_units,
        ),
    ] {
        match given {
            Some(0) => return Err(Error::usage(flag, "is 0; expected at least 1")),
            Some(n) => *field = n,
            None => {}
        }
    }
    if let Some(io) = &a.io_size {
        device.io_size = Bytes::parse(io).map_err(|e| Error::usage("--io-size", e.to_string()))?;
        if !(device.io_size.0.is_finite() && device.io_size.0 > 0.0) {
            return Err(Error::usage(
                "--io-size",
                format!("`{io}` must be positive, e.g. 4KiB"),
            ));
        }
    }
    if let Some(l) = &a.read_latency {
        device.read_latency = latency_arg("--read-latency", l)?;
    }
    device.write_latency = match &a.write_latency {
        Some(l) => latency_arg("--write-latency", l)?,
        None => LatencyDist::fixed(Seconds::us(100.0)),
    };
    let write = match &a.write_kb_per_token {
        Some(w) => Bytes(py_float("--write-kb-per-token", w)? * 1000.0),
        None => Bytes::ZERO,
    };
    let write_bw = match &a.write_mbps {
        Some(w) => Some(BytesPerSec(py_float("--write-mbps", w)? * 1e6)),
        None => None,
    };
    if a.tokens == 0 {
        return Err(Error::usage("--tokens", "is 0; expected at least 1"));
    }
    // Fine granularity issues one transfer per io: bound them per token and over the run
    // before a point allocates them (coarse issues a handful per token).
    let per_token = if a.fine {
        let n = (read.0.max(write.0) / device.io_size.0).ceil();
        limits::TRANSFERS
            .check(if n.is_finite() { n as u64 } else { u64::MAX })
            .map_err(|e| Error::usage("--io-size", format!("{e} per token with --fine")))?
    } else {
        1
    };
    limits::RUN_TRANSFERS
        .product([per_token, u64::from(a.tokens), 4 * o.tier_mbps.len() as u64])
        .map_err(|e| Error::usage("--tokens", e.to_string()))?;

    let sim = SimulateCeiling {
        setup: CeilingSetup {
            read_per_token: read,
            write_per_token: write,
            formula: KvSpillCeiling {
                bytes_per_token: Bytes(o.kv_kb_per_token * 1000.0),
                ops_per_token: o.ops_per_token,
                op_latency: latency,
            },
            device,
            granularity: if a.fine {
                Granularity::Fine
            } else {
                Granularity::Coarse
            },
            lanes: 8,
            tokens: a.tokens,
            seed: a.seed,
        },
        source,
        write_bw,
        csv: a.csv.clone(),
        svg: a.svg.clone(),
    };
    for path in sim.csv.iter().chain(&sim.svg) {
        crate::files::check_writable(path)?;
    }
    Ok(sim)
}

/// A latency flag: YAML for a distribution, or `fio:FILE.json` for a measured one.
fn latency_arg(flag: &str, text: &str) -> Result<LatencyDist, Error> {
    if let Some(path) = text.strip_prefix("fio:") {
        return crate::tier::fio::latency_from_fio_file(
            std::path::Path::new(path),
            None,
            crate::tier::fio::FioOp::Read,
        )
        .map_err(|e| Error::usage(flag, e.to_string()));
    }
    let doc = crate::config::load::document_text(text)
        .map_err(|m| Error::usage(flag, format!("the value {m}")))?;
    serde_yaml::from_str(doc).map_err(|e| {
        Error::usage(
            flag,
            format!(
                "`{}` is not a latency distribution ({})",
                crate::units::elide(text),
                crate::config::load::schema_words(&e.to_string())
            ),
        )
    })
}

/// Prints what `kv_spill_sim.py` prints, then the simulated ceiling when asked for.
pub fn run(o: &CeilingOptions, out: &mut dyn Write) -> Result<(), Error> {
    match &o.simulate {
        None => run_formula(o, out),
        Some(sim) => run_simulated(o, sim, out),
    }
}

fn run_simulated(
    o: &CeilingOptions,
    sim: &SimulateCeiling,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let points: Vec<CeilingPoint> = {
        use rayon::prelude::*;
        o.tier_mbps
            .par_iter()
            .map(|&mbps| {
                let bw = BytesPerSec(mbps * 1e6);
                let mut setup = sim.setup.clone();
                setup.device.write_bw = sim.write_bw.unwrap_or(bw);
                setup.point(bw)
            })
            .collect::<Result<_, _>>()?
    };
    let d = &sim.setup.device;
    let mean = d.read_latency.mean();
    let mut text = format!(
        "# {}: {} read per token; device: queue depth {}, {} units, {} accesses, {} mean read\n",
        sim.source,
        numfmt::bytes(sim.setup.read_per_token.0),
        d.queue_depth,
        d.parallel_units,
        numfmt::bytes_binary(d.io_size.0),
        numfmt::duration(mean.0)
    );
    text.push_str("| tier MB/s | formula t/s | simulated t/s | p50 ms | p99 ms | p99.9 ms |");
    for c in CAUSES {
        text.push_str(&format!(" {c} % |"));
    }
    text.push_str("\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut head = vec![
        "tier_mbps",
        "formula_tps",
        "simulated_tps",
        "token_p50_ms",
        "token_p99_ms",
        "token_p999_ms",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    head.extend(CAUSES.iter().map(|c| format!("{c}_share")));
    let _ = csv.write_record(&head);
    for (mbps, p) in o.tier_mbps.iter().zip(&points) {
        let [p50, p99, p999] = p.token_time.map(|t| t.as_ms());
        let mbps_text = if mbps.fract() == 0.0 {
            numfmt::grouped(*mbps)
        } else {
            numfmt::sig(*mbps, 6)
        };
        text.push_str(&format!(
            "| {mbps_text} | {} | {} | {} | {} | {} |",
            numfmt::fixed(p.formula_tps, 3),
            numfmt::fixed(p.simulated_tps, 3),
            numfmt::fixed(p50, 4),
            numfmt::fixed(p99, 4),
            numfmt::fixed(p999, 4)
        ));
        for s in p.shares {
            text.push_str(&format!(" {} |", numfmt::fixed(100.0 * s, 1)));
        }
        text.push('\n');
        // Rust's shortest round-trip digits, never in exponent form: 1600000, not 1.6e+06.
        let mut rec = vec![
            format!("{mbps}"),
            format!("{}", p.formula_tps),
            format!("{}", p.simulated_tps),
            format!("{p50}"),
            format!("{p99}"),
            format!("{p999}"),
        ];
        rec.extend(p.shares.iter().map(|s| format!("{s}")));
        let _ = csv.write_record(&rec);
    }
    if let Some(path) = &sim.csv {
        crate::files::write_atomic(path, &csv.into_inner().unwrap_or_default())?;
        text.push_str(&format!("table: {}\n", path.display()));
    }
    if let Some(path) = &sim.svg {
        crate::files::write_atomic(path, line_svg(&ceiling_chart(o, sim, &points)).as_bytes())?;
        text.push_str(&format!("plot: {}\n", path.display()));
    }
    out.write_all(text.as_bytes()).map_err(Error::Output)
}

/// Formula and simulation against the tier's read bandwidth, with a note on where and why the
/// simulated device falls short of the formula.
fn ceiling_chart(o: &CeilingOptions, sim: &SimulateCeiling, points: &[CeilingPoint]) -> LineChart {
    let d = &sim.setup.device;
    let mean = d.read_latency.mean().0;
    let along = |f: fn(&CeilingPoint) -> f64| -> Vec<(f64, f64)> {
        o.tier_mbps
            .iter()
            .zip(points)
            .map(|(m, p)| (m * 1e6, f(p)))
            .collect()
    };
    let mut notes = Vec::new();
    let short = o
        .tier_mbps
        .iter()
        .zip(points)
        .find(|(_, p)| p.simulated_tps < 0.95 * p.formula_tps);
    if let Some((mbps, _)) = short {
        // The device's own read bounds (DESIGN §2.3): units busy for one latency per access,
        // and the host queue, each access holding a slot for its latency plus its transfer.
        let io = d.io_size.0;
        let units = f64::from(d.parallel_units) * io / mean;
        let queue = f64::from(d.queue_depth) * io / (mean + io / (mbps * 1e6));
        let why = if units <= queue {
            format!(
                "{} parallel units × {} per {} mean read cap reads at {}",
                d.parallel_units,
                numfmt::bytes_binary(io),
                numfmt::duration(mean),
                numfmt::rate(units)
            )
        } else {
            format!(
                "queue depth {} × {} per {} mean read caps reads near {}",
                d.queue_depth,
                numfmt::bytes_binary(io),
                numfmt::duration(mean),
                numfmt::rate(queue)
            )
        };
        notes.push(format!(
            "From {} up the simulated ceiling falls more than 5 % below the formula, which \
             counts only bytes ÷ bandwidth and the latency of each access: {why}.",
            numfmt::rate(mbps * 1e6)
        ));
    }
    LineChart {
        title: "Decode ceiling vs tier read bandwidth".into(),
        subtitle: Some(format!(
            "{}: {} read per token\ndevice: {} parallel units, queue depth {}, {} accesses, {} \
             mean read; {} decoded tokens, seed {}",
            sim.source,
            numfmt::bytes(sim.setup.read_per_token.0),
            d.parallel_units,
            d.queue_depth,
            numfmt::bytes_binary(d.io_size.0),
            numfmt::duration(mean),
            sim.setup.tokens,
            sim.setup.seed
        )),
        x: Axis::new("tier read bandwidth", Unit::BytesPerSec),
        y: Axis::new("decode ceiling", Unit::TokensPerSec),
        series: vec![
            Series::new(
                "formula: bytes ÷ bandwidth + latency (kv_spill_sim.py)",
                along(|p| p.formula_tps),
            ),
            Series::new("simulated device", along(|p| p.simulated_tps)),
        ],
        references: Vec::new(),
        gaps: Vec::new(),
        notes,
    }
}

fn run_formula(o: &CeilingOptions, out: &mut dyn Write) -> Result<(), Error> {
    let mut text = format!(
        "kv_kb_per_token= {}\nop_lat_ms= {}\nops_per_token= {}\n\ntier_mbps,tg_tps_max\n",
        python_float(o.kv_kb_per_token),
        python_float(o.op_lat_ms),
        python_float(o.ops_per_token)
    );
    for &mbps in &o.tier_mbps {
        let tg = script_tg_max(o.kv_kb_per_token, mbps, o.op_lat_ms, o.ops_per_token);
        text.push_str(&format!("{},{:.3}\n", c_g(mbps), tg));
    }
    out.write_all(text.as_bytes()).map_err(Error::Output)
}

/// Python's `float()`: surrounding whitespace and digit-group underscores allowed.
fn py_float(flag: &str, text: &str) -> Result<f64, Error> {
    let t = text.trim();
    let digits_around = |i: usize| {
        let b = t.as_bytes();
        i > 0 && i + 1 < b.len() && b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit()
    };
    let ok_underscores = t
        .char_indices()
        .filter(|&(_, c)| c == '_')
        .all(|(i, _)| digits_around(i));
    let cleaned: String = t.chars().filter(|&c| c != '_').collect();
    match cleaned.parse::<f64>() {
        Ok(v) if ok_underscores && !cleaned.is_empty() => Ok(v),
        _ => Err(Error::usage(flag, format!("`{text}` is not a number"))),
    }
}
