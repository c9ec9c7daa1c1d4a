//! Published HBF results reproduced: each scenario in `models/scenarios/` names its source, the
//! parameters it takes from it and those it assumes, and per published figure how tiersim
//! computes the same figure — the array arithmetic, a simulated burst of reads on a device, a
//! decode-rate gap between two systems, a system closed form ([`system`]) or the largest batch
//! whose simulated decode step meets a TPOT bound ([`slo`]). A figure tiersim cannot compute says what is missing; a
//! figure tiersim computes outside the scenario's tolerance carries the error it shows and the
//! reason (a physics tiersim lacks, an unstated parameter), never a correction factor.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use crate::config::error::ConfigError;
use crate::config::load;
use crate::config::system::Granularity;
use crate::engine::Scheduler;
use crate::rng;
use crate::scenario::{self, TestCase};
use crate::sim::machine::Machine;
use crate::tier::device::{Device, DeviceParams};
use crate::tier::latency::LatencyDist;
use crate::tier::read_path::ReadPath;
use crate::units::{Bytes, BytesPerSec, Seconds, SimTime};

pub mod slo;
pub mod system;

/// One embedded scenario: its name (the file name without `.yaml`) and YAML text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScenarioFile {
    /// File name without `.yaml`.
    pub name: &'static str,
    /// The YAML text.
    pub yaml: &'static str,
}

macro_rules! scenario_files {
    ($($name:literal),* $(,)?) => {
        /// The scenarios in `models/scenarios/`, device-level first.
        pub const SCENARIOS: &[ScenarioFile] = &[$(ScenarioFile {
            name: $name,
            yaml: include_str!(concat!("../models/scenarios/", $name, ".yaml")),
        }),*];
    };
}

scenario_files!(
    "spec-count-arithmetic",
    "son-table1-bandwidths",
    "flashlab-read-ceiling",
    "openhbf-max-read",
    "micron-weight-first",
    "son-batch-and-kv-writes",
    "kyung-kv-lifetime",
    "skhynix-h3",
    "flashaccel-plain-hbf",
);

/// A reproduction as its YAML states it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Equal to the file name.
    pub name: String,
    /// The publication or repository, precisely enough to find the figure.
    pub source: String,
    /// The published claim in the source's words.
    pub claim: String,
    /// Parameters taken from the source, each with where it stands there.
    #[serde(default)]
    pub taken: BTreeMap<String, String>,
    /// Parameters the source does not give, each with the value chosen and why.
    #[serde(default)]
    pub assumed: BTreeMap<String, String>,
    /// Text several cases share through a YAML anchor (a miss's reason).
    #[serde(default)]
    pub notes: BTreeMap<String, String>,
    /// Largest relative error that counts as reproduced (`0.1%`, `5%`, `15%`).
    pub tolerance: String,
    /// The published figures.
    pub cases: Vec<Case>,
}

/// One published figure and how tiersim computes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the figure is (`grade 2, tR 4 us`).
    pub label: String,
    /// The published figure: a rate (`262.1GB/s`), a bound on a gap (`<= 0.4%`), a ratio
    /// (`2.6x`), years (`6.2yr`), a share (`13.7%`) or a count (`194`, written bare or quoted).
    #[serde(deserialize_with = "text_or_number")]
    pub published: String,
    /// How tiersim computes it; absent when it cannot, and then `missing` says why.
    #[serde(default)]
    pub compute: Option<Compute>,
    /// What tiersim lacks to compute the figure.
    #[serde(default)]
    pub missing: Option<String>,
    /// The error tiersim shows beyond the tolerance, and its reason.
    #[serde(default)]
    pub miss: Option<Miss>,
}

/// A figure as text, whether YAML read it as a string or as a bare number (a count).
fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Figure {
        Text(String),
        Number(f64),
    }
    Ok(match Figure::deserialize(d)? {
        Figure::Text(t) => t,
        Figure::Number(x) => x.to_string(),
    })
}

/// A documented miss: the error tiersim shows and why.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Miss {
    /// tiersim's relative error, signed (`+9.7%`).
    pub error: String,
    /// The missing physics or parameter behind it.
    pub reason: String,
}

/// How tiersim computes a figure: exactly one of the ways.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compute {
    /// The device arithmetic.
    #[serde(default)]
    pub array: Option<ArrayFigure>,
    /// A simulated burst of reads.
    #[serde(default)]
    pub burst: Option<BurstFigure>,
    /// A decode-rate gap between two systems.
    #[serde(default)]
    pub tg_gap: Option<TgGapFigure>,
    /// An HBF node's KV-cache lifetime, years.
    #[serde(default)]
    pub kv_lifetime: Option<system::KvLifetimeFigure>,
    /// The largest batch per device that fits a capacity, or its ratio to another.
    #[serde(default)]
    pub capacity_batch: Option<system::CapacityBatchFigure>,
    /// The share of a decode step spent writing admitted requests' KV.
    #[serde(default)]
    pub kv_write_share: Option<system::KvWriteShareFigure>,
    /// The largest batch per GPU within a TPOT bound, its decode step simulated, or its ratio
    /// to a capacity-bound baseline.
    #[serde(default)]
    pub slo_batch: Option<slo::SloBatchFigure>,
}

/// `stacks × min(link, units × io_size / latency)`: the device arithmetic.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrayFigure {
    /// Units serving one page each.
    pub units: u32,
    /// Bytes per read (or program).
    pub io_size: Bytes,
    /// Time a unit holds per io (tR, or tPROG for write figures).
    pub latency: Seconds,
    /// Interface bandwidth per stack; none when the figure is the array's alone.
    #[serde(default)]
    pub link: Option<BytesPerSec>,
    /// Stacks summed.
    #[serde(default = "one")]
    pub stacks: u32,
}

/// `reads` ios of `io_size` issued at once on a device, simulated: bytes over the time until
/// the last completes, summed over `stacks` identical devices each taking `reads`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstFigure {
    /// Reads issued at time zero on each stack.
    pub reads: u64,
    /// Identical stacks, each serving its own `reads`.
    #[serde(default = "one")]
    pub stacks: u32,
    /// Units serving one read at a time.
    pub units: u32,
    /// Bytes per read.
    pub io_size: Bytes,
    /// Fixed read latency (tR).
    pub latency: Seconds,
    /// Link bandwidth the data crosses.
    pub link: BytesPerSec,
    /// The stages besides the sense and the link, as the source's device has them.
    #[serde(default)]
    pub read_path: Option<ReadPath>,
}

/// The largest relative gap of tg between `system` and `baseline` over `depths`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TgGapFigure {
    /// Model preset or file.
    pub model: String,
    /// The system with the tier under study.
    pub system: String,
    /// `--set` overrides applied to `system` (`placement.kv.budget=~`).
    #[serde(default)]
    pub set: Vec<String>,
    /// The system it is compared with.
    pub baseline: String,
    /// Tokens decoded per test.
    pub n_gen: u32,
    /// KV depths before the timed decode.
    pub depths: Vec<u32>,
}

fn one() -> u32 {
    1
}

/// The ways a figure can be computed, as errors list them.
const WAYS: &str = "array, burst, tg_gap, kv_lifetime, capacity_batch, kv_write_share, slo_batch";

/// A published figure, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    /// A bandwidth.
    Rate(BytesPerSec),
    /// An upper bound on a relative gap (a fraction).
    AtMost(f64),
    /// A ratio of two systems' figures (`2.6x`).
    Ratio(f64),
    /// A lifetime in years (`6.2yr`).
    Years(f64),
    /// A share of time (`13.7%`), as a fraction.
    Share(f64),
    /// A count, such as requests per GPU (`194`, `3.75`).
    Count(f64),
    /// A figure tiersim does not compute, as the source states it (`1.7-5.3x HBM4`).
    Text(String),
}

impl fmt::Display for Published {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rate(r) => write!(f, "{:.1} GB/s", r.0 / 1e9),
            Self::AtMost(x) => write!(f, "<= {} %", x * 100.0),
            Self::Ratio(x) => write!(f, "{x}x"),
            Self::Years(x) => write!(f, "{x:.1} yr"),
            // A share is stored as a fraction; undo the float noise of the division by 100.
            Self::Share(x) => write!(f, "{} %", (x * 100.0 * 1e9).round() / 1e9),
            Self::Count(x) => write!(f, "{x}"),
            Self::Text(t) => f.write_str(t),
        }
    }
}

/// A percentage as written (`0.1%`, `+9.7%`), as a fraction.
pub fn percent(text: &str) -> Option<f64> {
    let t = text.trim().strip_suffix('%')?.trim();
    t.trim_start_matches('+')
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .map(|x| x / 100.0)
}

impl Case {
    /// The published figure, parsed; `origin` and `field` name it in errors. A figure tiersim
    /// does not compute stays text.
    pub fn published(&self, origin: &str, field: &str) -> Result<Published, ConfigError> {
        if self.compute.is_none() {
            return Ok(Published::Text(self.published.trim().to_owned()));
        }
        if let Some(rest) = self.published.trim().strip_prefix("<=") {
            return percent(rest).map(Published::AtMost).ok_or_else(|| {
                ConfigError::invalid(
                    origin,
                    field,
                    format!("`{}` is not a bound such as `<= 0.4%`", self.published),
                )
            });
        }
        if let Some(figure) = Published::plain(&self.published) {
            return Ok(figure);
        }
        BytesPerSec::parse(&self.published)
            .map(Published::Rate)
            .map_err(|_| {
                ConfigError::invalid(
                    origin,
                    field,
                    format!(
                        "`{}` is not a rate (`262.1GB/s`), a bound (`<= 0.4%`), a ratio \
                         (`2.6x`), years (`6.2yr`), a share (`13.7%`) or a count (`194`)",
                        self.published
                    ),
                )
            })
    }
}

impl Published {
    /// A ratio, years, a share or a count as written; `None` for anything else.
    fn plain(text: &str) -> Option<Self> {
        let t = text.trim();
        let number = |s: &str| s.trim().parse::<f64>().ok().filter(|x| x.is_finite());
        if let Some(x) = t.strip_suffix('x') {
            return number(x).map(Self::Ratio);
        }
        if let Some(x) = t.strip_suffix("yr") {
            return number(x).map(Self::Years);
        }
        if t.ends_with('%') {
            return percent(t).map(Self::Share);
        }
        number(t).map(Self::Count)
    }

    /// Whether tiersim's figure is held to this one by relative error (not a bound).
    fn relative(&self) -> Option<f64> {
        match self {
            Self::Rate(r) => Some(r.0),
            Self::Ratio(x) | Self::Years(x) | Self::Share(x) | Self::Count(x) => Some(*x),
            Self::AtMost(_) | Self::Text(_) => None,
        }
    }

    /// tiersim's figure `t` in this figure's unit.
    fn show(&self, t: f64) -> String {
        match self {
            Self::Rate(_) => format!("{:.1} GB/s", t / 1e9),
            Self::Ratio(_) => format!("{t:.2}x"),
            Self::Years(_) => format!("{t:.2} yr"),
            Self::Share(_) => format!("{:.1} %", t * 100.0),
            Self::Count(_) if t < 10.0 => format!("{t:.2}"),
            Self::Count(_) => format!("{t:.1}"),
            Self::AtMost(_) | Self::Text(_) => format!("{:.3} %", t * 100.0),
        }
    }
}

/// What tiersim made of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseOutcome {
    /// The case's label.
    pub label: String,
    /// The published figure.
    pub published: Published,
    /// tiersim's figure (bytes/s for a rate, a fraction for a gap); `None` when not computed.
    pub tiersim: Option<f64>,
    /// Relative error against a published rate; for a bound, the gap itself.
    pub error: Option<f64>,
    /// Whether the figure is reproduced within the tolerance (or under the bound).
    pub within: bool,
    /// What a reader needs beside the numbers: the miss's reason or what is missing.
    pub note: String,
}

/// What tiersim made of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The scenario.
    pub scenario: Scenario,
    /// Its tolerance as a fraction.
    pub tolerance: f64,
    /// One outcome per case.
    pub cases: Vec<CaseOutcome>,
}

impl Scenario {
    /// Parses and checks a scenario: its tolerance and every published figure parse, and every
    /// case either computes or says what is missing.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let s: Scenario = load::parse(text, origin)?;
        s.tolerance_fraction(origin)?;
        for (i, c) in s.cases.iter().enumerate() {
            let field = format!("cases.{i}");
            c.published(origin, &format!("{field}.published"))?;
            if let Some(compute) = &c.compute
                && compute.ways() != 1
            {
                return Err(ConfigError::invalid(
                    origin,
                    format!("{field}.compute"),
                    format!("must give exactly one of {WAYS}"),
                ));
            }
            if c.compute.is_none() && c.missing.is_none() {
                return Err(ConfigError::invalid(
                    origin,
                    field,
                    "has neither `compute` nor `missing`; a figure tiersim cannot compute must say what is missing",
                ));
            }
            if let Some(m) = &c.miss
                && percent(&m.error).is_none()
            {
                return Err(ConfigError::invalid(
                    origin,
                    format!("{field}.miss.error"),
                    format!("`{}` is not a signed percentage such as `+9.7%`", m.error),
                ));
            }
        }
        Ok(s)
    }

    fn tolerance_fraction(&self, origin: &str) -> Result<f64, ConfigError> {
        percent(&self.tolerance)
            .filter(|x| *x > 0.0)
            .ok_or_else(|| {
                ConfigError::invalid(
                    origin,
                    "tolerance",
                    format!(
                        "`{}` is not a positive percentage such as `5%`",
                        self.tolerance
                    ),
                )
            })
    }

    /// Computes every case.
    pub fn run(self, origin: &str) -> Result<Outcome, ConfigError> {
        let tolerance = self.tolerance_fraction(origin)?;
        let mut cases = Vec::with_capacity(self.cases.len());
        for (i, c) in self.cases.iter().enumerate() {
            let published = c.published(origin, &format!("cases.{i}.published"))?;
            let tiersim = match &c.compute {
                Some(compute) => Some(compute.figure(origin)?),
                None => None,
            };
            let error = tiersim.map(|t| match published.relative() {
                Some(p) => t / p - 1.0,
                None => t,
            });
            let within = match (&published, error) {
                (Published::AtMost(b), Some(gap)) => gap <= *b,
                (p, Some(e)) if p.relative().is_some() => e.abs() <= tolerance,
                _ => false,
            };
            let note = match (&c.missing, &c.miss, within) {
                (Some(m), _, _) => format!("not reproduced: {m}"),
                (None, Some(m), false) => format!("miss {}: {}", m.error, m.reason),
                (None, None, false) => "undocumented miss".to_owned(),
                (None, _, true) => String::new(),
            };
            cases.push(CaseOutcome {
                label: c.label.clone(),
                published,
                tiersim,
                error,
                within,
                note,
            });
        }
        Ok(Outcome {
            scenario: self,
            tolerance,
            cases,
        })
    }
}

impl Compute {
    /// How many ways are given (exactly one is valid).
    fn ways(&self) -> usize {
        usize::from(self.array.is_some())
            + usize::from(self.burst.is_some())
            + usize::from(self.tg_gap.is_some())
            + usize::from(self.kv_lifetime.is_some())
            + usize::from(self.capacity_batch.is_some())
            + usize::from(self.kv_write_share.is_some())
            + usize::from(self.slo_batch.is_some())
    }

    /// tiersim's figure: bytes/s for `array` and `burst`, a fraction for `tg_gap` and
    /// `kv_write_share`, years for `kv_lifetime`, a batch or a ratio for `capacity_batch` and
    /// `slo_batch`.
    pub fn figure(&self, origin: &str) -> Result<f64, ConfigError> {
        if let Some(k) = &self.kv_lifetime {
            return k.years(origin);
        }
        if let Some(c) = &self.capacity_batch {
            return c.figure(origin);
        }
        if let Some(w) = &self.kv_write_share {
            return w.share(origin);
        }
        if let Some(s) = &self.slo_batch {
            return s.figure(origin);
        }
        if let Some(a) = &self.array {
            let array = f64::from(a.units) * a.io_size.0 / a.latency.0;
            let per_stack = a.link.map_or(array, |l| array.min(l.0));
            return Ok(f64::from(a.stacks) * per_stack);
        }
        if let Some(b) = &self.burst {
            if let Some(path) = &b.read_path
                && let Err((field, why)) = path.validate(b.units)
            {
                return Err(ConfigError::invalid(
                    origin,
                    format!("compute.burst.read_path.{field}"),
                    why,
                ));
            }
            let device = burst_device(b.units, b.io_size, b.latency, b.link, b.read_path);
            return Ok(f64::from(b.stacks) * burst_rate(b.reads, &device).0);
        }
        let Some(g) = &self.tg_gap else {
            return Err(ConfigError::invalid(
                origin,
                "compute",
                format!("names no way to compute; expected one of {WAYS}"),
            ));
        };
        let model = load::model(Some(&g.model), &[])?;
        let sets = g
            .set
            .iter()
            .map(|s| load::Override::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        let tg = |name: &str, sets: &[load::Override], depth: u32| -> Result<f64, ConfigError> {
            let sys = load::system(Some(name), sets)?;
            let machine = Machine::new(&model.spec, &sys.spec)
                .map_err(|e| ConfigError::invalid(origin, "compute.tg_gap", e.to_string()))?;
            let case = TestCase {
                n_prompt: 0,
                n_gen: g.n_gen,
                n_depth: depth,
                ..Default::default()
            };
            let out = scenario::run_test(&machine, &case, 1, 1, depth)
                .map_err(|e| ConfigError::invalid(origin, "compute.tg_gap", e.to_string()))?;
            Ok(out.rate_stats(&case).0)
        };
        let mut gap: f64 = 0.0;
        for &d in &g.depths {
            gap = gap.max((tg(&g.system, &sets, d)? / tg(&g.baseline, &[], d)? - 1.0).abs());
        }
        Ok(gap)
    }
}

/// A device of `units` units with a fixed read `latency` behind a `link` and an optional read
/// path, with two reads outstanding per unit so that units, not the queue, bound a burst.
pub fn burst_device(
    units: u32,
    io_size: Bytes,
    latency: Seconds,
    link: BytesPerSec,
    read_path: Option<ReadPath>,
) -> DeviceParams {
    DeviceParams {
        read_bw: link,
        write_bw: link,
        read_latency: LatencyDist::fixed(latency),
        write_latency: LatencyDist::fixed(latency),
        parallel_units: units,
        queue_depth: units.saturating_mul(2),
        io_size,
        read_path,
    }
}

/// The rate a burst of `reads` reads issued at once reaches on `device`: bytes over the time
/// the last read completes. Every read is simulated (fine granularity).
pub fn burst_rate(reads: u64, device: &DeviceParams) -> BytesPerSec {
    let mut dev = Device::new(device, Granularity::Fine, device.parallel_units);
    // Fixed latencies draw nothing; the stream only satisfies the device's interface.
    let mut rng = rng::stream(0, 0);
    let mut sched = Scheduler::new();
    let bytes = Bytes(device.io_size.0 * reads as f64);
    dev.read(SimTime::ZERO, bytes, &mut rng, |at, leg| {
        sched.schedule(at, leg)
    });
    let mut end = SimTime::ZERO;
    while let Some((t, leg)) = sched.pop() {
        end = end.max(dev.transfer(t, leg));
    }
    bytes / end.to_seconds()
}

/// Every embedded scenario, parsed.
pub fn all() -> Result<Vec<Scenario>, ConfigError> {
    SCENARIOS
        .iter()
        .map(|f| Scenario::parse(f.yaml, &format!("scenario {}", f.name)))
        .collect()
}

/// The embedded scenario called `name`, or a scenario YAML file.
pub fn find(name: &str) -> Result<(Scenario, String), ConfigError> {
    if name.ends_with(".yaml") || name.contains('/') {
        let path = std::path::Path::new(name);
        let text = crate::config::load::read_spec(path)?;
        return Ok((Scenario::parse(&text, name)?, name.to_owned()));
    }
    let file =
        SCENARIOS
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| ConfigError::UnknownPreset {
                kind: "scenario",
                name: name.to_owned(),
                known: SCENARIOS
                    .iter()
                    .map(|f| f.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
    let origin = format!("scenario {}", file.name);
    Ok((Scenario::parse(file.yaml, &origin)?, origin))
}

impl Outcome {
    /// The outcome as markdown: the source, the tolerance, then published against tiersim per
    /// case with the error and, for a miss or a figure not computed, why.
    pub fn markdown(&self) -> String {
        let s = &self.scenario;
        let mut out = format!(
            "## {}\n\n{}\n\nClaim: {}\n\n| figure | published | tiersim | error | status |\n|---|---|---|---|---|\n",
            s.name,
            s.source,
            s.claim.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        for c in &self.cases {
            let tiersim = match c.tiersim {
                Some(t) => c.published.show(t),
                None => "-".to_owned(),
            };
            let error = match c.error {
                Some(e) if c.published.relative().is_some() => format!("{:+.1} %", e * 100.0),
                _ => "-".to_owned(),
            };
            let status = if c.within && matches!(c.published, Published::AtMost(_)) {
                "under the bound".to_owned()
            } else if c.within {
                format!("within {} %", self.tolerance * 100.0)
            } else {
                c.note.clone()
            };
            out.push_str(&format!(
                "| {} | {} | {tiersim} | {error} | {status} |\n",
                c.label, c.published
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_parse_with_sign_and_refuse_bare_numbers() {
        assert_eq!(percent("0.1%"), Some(0.001));
        assert!((percent("+9.7%").unwrap() - 0.097).abs() < 1e-15);
        assert_eq!(percent(" -3 % "), Some(-0.03));
        assert_eq!(percent("5"), None);
        assert_eq!(percent("fast%"), None);
    }

    #[test]
    fn ratios_years_shares_and_counts_parse_by_their_suffix() {
        assert_eq!(Published::plain("2.6x"), Some(Published::Ratio(2.6)));
        assert_eq!(Published::plain(" 6.2yr"), Some(Published::Years(6.2)));
        assert_eq!(Published::plain("3.75"), Some(Published::Count(3.75)));
        let Some(Published::Share(s)) = Published::plain("13.7%") else {
            panic!("13.7% is a share")
        };
        assert!((s - 0.137).abs() < 1e-15);
        assert_eq!(Published::plain("262.1GB/s"), None);
        assert_eq!(Published::plain("fastx"), None);
    }

    #[test]
    fn a_burst_on_one_round_of_units_takes_one_latency_plus_the_link() {
        // 256 units, one read each: 4 us of sensing, then 1 MiB over 1 TB/s.
        let dev = |reads_units: u32, link: f64| {
            burst_device(
                reads_units,
                Bytes(4096.0),
                Seconds::us(4.0),
                BytesPerSec(link),
                None,
            )
        };
        let r = burst_rate(256, &dev(256, 1e12));
        let t = 4e-6 + 256.0 * 4096.0 / 1e12;
        assert!((r.0 - 256.0 * 4096.0 / t).abs() / r.0 < 1e-6, "{}", r.0);
        // Many rounds approach the array rate units x page / tR from below.
        let r = burst_rate(256 * 64, &dev(256, 1e13));
        let array = 256.0 * 4096.0 / 4e-6;
        assert!(r.0 < array && r.0 > 0.99 * array, "{}", r.0);
    }

    #[test]
    fn a_case_without_compute_must_say_what_is_missing() {
        let text = "name: t\nsource: s\nclaim: c\ntolerance: 5%\ncases:\n  - {label: a, published: 1GB/s}\n";
        let err = Scenario::parse(text, "t.yaml").unwrap_err().to_string();
        assert!(err.contains("cases.0") && err.contains("missing"), "{err}");
        let text = text.replace(
            "1GB/s}",
            "1GB/s, compute: {array: {units: 1, io_size: 4KiB, latency: 1us}}}",
        );
        assert!(Scenario::parse(&text, "t.yaml").is_ok());
        let count = text.replace("1GB/s", "194");
        assert!(Scenario::parse(&count, "t.yaml").is_ok());
        let bad = text.replace("1GB/s", "fast");
        let err = Scenario::parse(&bad, "t.yaml").unwrap_err().to_string();
        assert!(err.contains("cases.0.published"), "{err}");
        let bad = text.replace("5%", "5");
        assert!(
            Scenario::parse(&bad, "t.yaml")
                .unwrap_err()
                .to_string()
                .contains("tolerance")
        );
    }

    #[test]
    fn every_embedded_scenario_parses_and_is_named_after_its_file() {
        for f in SCENARIOS {
            let s = Scenario::parse(f.yaml, f.name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.name, f.name);
            assert!(
                !s.taken.is_empty(),
                "{}: no parameter taken from the source",
                f.name
            );
        }
    }
}
