//! Empirical latency distributions from real measurements: fio's JSON results.
//!
//! `fio --output-format=json` reports, per job and direction, a percentile table of the
//! latencies it measured (`jobs[i].read.clat_ns.percentile`, a map such as
//! `{"1.000000": 36096, ..., "99.990000": 4014080}` in nanoseconds) beside the exact `min`,
//! `max`, `mean` and sample count `N`. This module turns one such table into a
//! [`LatencyDist::Empirical`] that a tier's `read_latency` or `write_latency` can use.
//!
//! Choices, and why:
//!
//! - **Which table.** `lat_ns` (submission plus completion, what the application waits) is
//!   preferred when fio printed its percentiles (`--lat_percentiles=1`); otherwise `clat_ns`,
//!   fio's default. For synchronous engines (`psync`) the two differ by tens of nanoseconds,
//!   but for `libaio` the submission latency `slat` can be a quarter of the total, so the
//!   choice is reported in [`FioLatency::table`] and [`FioLatency::slat_mean`]. Results of
//!   fio 2.x, whose tables are `lat` and `clat` in microseconds, are read the same way.
//! - **Low anchor.** [`LatencyDist::Empirical`] places the 0th percentile at its first latency
//!   and has no knot at 0 %, so fio's exact `min` is added at `100/N` % — where the empirical
//!   CDF puts the smallest of `N` samples — when that lies below the first percentile (so
//!   not when `N` is unknown, as in fio 2.x, or below 100).
//! - **High anchor.** fio's exact `max` is added at 100 %, so the last `(100 − p)` % of the
//!   mass is spread linearly between the last percentile and the slowest access fio saw,
//!   rather than piled on the last percentile. The table says nothing finer about that
//!   stretch, and the maximum is a measured sample, so nothing is extrapolated past it.
//! - fio's percentiles are the midpoints of its log-linear histogram buckets (64 per power of
//!   two), so a percentile may sit slightly below `min` or above `max`; an anchor that would
//!   then make the table decrease is left out rather than forced, keeping every figure fio
//!   printed exactly as printed.
//!
//! The distribution's quantile at each of fio's percentiles is fio's value exactly; its mean
//! differs a little from fio's, which is over every sample, because between the knots
//! (notably 99.9 → 99.95 → 99.99 → 100 %) the shape is interpolated.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::tier::latency::LatencyDist;
use crate::units::Seconds;

/// Which direction of a fio job's I/O to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FioOp {
    /// The job's `read` section.
    Read,
    /// The job's `write` section.
    Write,
}

impl FioOp {
    /// The section's key in fio's JSON (`read`, `write`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

impl fmt::Display for FioOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for FioOp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            other => Err(format!(
                "`{other}` is not an fio direction; expected `read` or `write`"
            )),
        }
    }
}

/// Which of a section's latency tables the percentiles were taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FioTable {
    /// `lat_ns`: submission plus completion latency, in nanoseconds (fio 3.x with
    /// `--lat_percentiles=1`).
    LatNs,
    /// `clat_ns`: completion latency, from submission's return to completion, in nanoseconds
    /// (fio 3.x's default table).
    ClatNs,
    /// `lat`: as [`FioTable::LatNs`] in microseconds (fio 2.x).
    LatUs,
    /// `clat`: as [`FioTable::ClatNs`] in microseconds (fio 2.x).
    ClatUs,
}

impl FioTable {
    /// Tables in order of preference: the whole latency before its completion part, and
    /// fio 3.x's nanosecond tables before fio 2.x's microsecond ones.
    const PREFERENCE: [FioTable; 4] = [Self::LatNs, Self::ClatNs, Self::LatUs, Self::ClatUs];

    /// The table's key in fio's JSON.
    pub fn key(self) -> &'static str {
        match self {
            Self::LatNs => "lat_ns",
            Self::ClatNs => "clat_ns",
            Self::LatUs => "lat",
            Self::ClatUs => "clat",
        }
    }

    /// Whether the table leaves out the submission latency `slat`.
    pub fn is_completion_only(self) -> bool {
        matches!(self, Self::ClatNs | Self::ClatUs)
    }

    fn to_seconds(self, v: f64) -> Seconds {
        match self {
            Self::LatNs | Self::ClatNs => Seconds::ns(v),
            Self::LatUs | Self::ClatUs => Seconds::us(v),
        }
    }

    /// The submission-latency table that goes with this one.
    fn slat_key(self) -> &'static str {
        match self {
            Self::LatNs | Self::ClatNs => "slat_ns",
            Self::LatUs | Self::ClatUs => "slat",
        }
    }
}

impl fmt::Display for FioTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Why fio results could not be turned into a latency distribution.
#[derive(Debug, thiserror::Error)]
pub enum FioError {
    /// The file could not be read.
    #[error("cannot read fio results `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The text is not one complete JSON document.
    #[error("{origin} is not fio JSON output: {message}")]
    Json {
        /// Where the text came from: a quoted path, or `the input`.
        origin: String,
        /// What the JSON parser said, with line and column.
        message: String,
    },
    /// No job has the name asked for, or there are no jobs at all.
    #[error("{}", no_job_message(wanted.as_deref(), available))]
    NoJob {
        /// The name asked for, if one was.
        wanted: Option<String>,
        /// The names of the jobs the results do hold.
        available: Vec<String>,
    },
    /// Several jobs qualify and none was named, or several share the name.
    #[error("{}", ambiguous_message(names))]
    AmbiguousJob {
        /// The names of the qualifying jobs, in file order.
        names: Vec<String>,
    },
    /// The chosen job has no percentile table for the direction asked for.
    #[error("{}", no_percentiles_message(job, *op, *ios))]
    NoPercentiles {
        /// The job's name.
        job: String,
        /// The direction asked for.
        op: FioOp,
        /// How many I/Os of that direction the job did, when fio says.
        ios: Option<u64>,
    },
    /// The JSON is well formed but not shaped like fio's results.
    #[error("malformed fio results: {what}")]
    Malformed {
        /// What is missing or wrong, with its place in the document.
        what: String,
    },
}

fn quoted(names: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for n in names {
        if !seen.contains(&n.as_str()) {
            seen.push(n);
        }
    }
    seen.iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn no_job_message(wanted: Option<&str>, available: &[String]) -> String {
    match (wanted, available.is_empty()) {
        (None, _) => "the fio results hold no jobs".to_owned(),
        (Some(w), true) => format!("no job named `{w}`: the fio results hold no jobs"),
        (Some(w), false) => format!(
            "no job named `{w}` in the fio results; their jobs are {}",
            quoted(available)
        ),
    }
}

fn ambiguous_message(names: &[String]) -> String {
    match names.first() {
        Some(first) if names.iter().all(|n| n == first) => format!(
            "the fio results hold {} jobs named `{first}` (numjobs above 1?); rerun fio with \
             --group_reporting to merge them into one",
            names.len()
        ),
        _ => format!(
            "the fio results hold {} jobs ({}); choose one with --job NAME",
            names.len(),
            quoted(names)
        ),
    }
}

fn no_percentiles_message(job: &str, op: FioOp, ios: Option<u64>) -> String {
    match ios {
        Some(0) => format!("job `{job}` has no {op} percentiles: it did no {op}s"),
        Some(n) => format!(
            "job `{job}` has no {op} percentiles although it did {n} {op}s (was \
             clat_percentiles=0 or an empty --percentile_list set?)"
        ),
        None => format!(
            "job `{job}` has no {op} percentiles (did the job do {op}s? was clat_percentiles=0 \
             or an empty --percentile_list set?)"
        ),
    }
}

fn malformed(what: impl Into<String>) -> FioError {
    FioError::Malformed { what: what.into() }
}

/// One job's latency in one direction as fio measured it, and the distribution made from it.
#[derive(Debug, Clone, PartialEq)]
pub struct FioLatency {
    /// fio's `fio version` string (`fio-3.33`), when present.
    pub fio_version: Option<String>,
    /// The job's name.
    pub job: String,
    /// The direction read.
    pub op: FioOp,
    /// The table the percentiles came from.
    pub table: FioTable,
    /// fio's percentile table as printed, percentiles increasing, with fio 2.x's `0.00`
    /// padding entries left out.
    pub percentiles: Vec<(f64, Seconds)>,
    /// The table's sample count `N` (or the section's `total_ios`), when present.
    pub samples: Option<u64>,
    /// The exact smallest latency fio measured.
    pub min: Option<Seconds>,
    /// The exact mean of every latency fio measured.
    pub mean: Option<Seconds>,
    /// The exact largest latency fio measured.
    pub max: Option<Seconds>,
    /// The mean submission latency, when the table leaves it out and fio measured it (an
    /// asynchronous engine without `--lat_percentiles=1`).
    pub slat_mean: Option<Seconds>,
    /// The job's options as fio echoes them (`global options` overlaid by `job options`).
    pub options: BTreeMap<String, String>,
    /// The percentage of the job's I/Os that fio saw issued at queue depth 1 (the `1` entry of
    /// its `iodepth_level`), when present.
    pub depth_one_percent: Option<f64>,
    /// The distribution: fio's percentiles plus the `min` and `max` anchors (module docs).
    pub dist: LatencyDist,
}

/// Reads the latency distribution of one job and direction from fio's JSON output.
///
/// `job` names the job (its `jobname`); it may be left out when the results hold one job.
///
/// # Errors
///
/// See [`FioLatency::from_json`].
pub fn latency_from_fio_json(
    text: &str,
    job: Option<&str>,
    op: FioOp,
) -> Result<LatencyDist, FioError> {
    FioLatency::from_json(text, job, op).map(|l| l.dist)
}

/// Reads the latency distribution of one job and direction from a file of fio's JSON output.
///
/// # Errors
///
/// See [`FioLatency::from_file`].
pub fn latency_from_fio_file(
    path: &Path,
    job: Option<&str>,
    op: FioOp,
) -> Result<LatencyDist, FioError> {
    FioLatency::from_file(path, job, op).map(|l| l.dist)
}

impl FioLatency {
    /// Reads one job and direction from the text of `fio --output-format=json` (or `json+`).
    ///
    /// Lines before the one that opens the JSON object are skipped: fio prints notes such as
    /// `note: both iodepth >= 1 and synchronous I/O engine are selected` to standard output,
    /// so they end up in the file when its output is redirected rather than given `--output`.
    ///
    /// # Errors
    ///
    /// [`FioError::Json`] for text that is not one complete JSON document (a truncated file);
    /// [`FioError::NoJob`] or [`FioError::AmbiguousJob`] when `job` does not pick exactly one
    /// job; [`FioError::NoPercentiles`] when that job has no table for `op`;
    /// [`FioError::Malformed`] for JSON that is not shaped like fio's results.
    pub fn from_json(text: &str, job: Option<&str>, op: FioOp) -> Result<Self, FioError> {
        Self::parse(text, "the input", job, op)
    }

    /// Reads one job and direction from a file of fio's JSON output.
    ///
    /// # Errors
    ///
    /// [`FioError::Io`] when the file cannot be read, and those of [`FioLatency::from_json`].
    pub fn from_file(path: &Path, job: Option<&str>, op: FioOp) -> Result<Self, FioError> {
        let text = crate::files::read_text(path).map_err(|e| FioError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(e.reason),
        })?;
        Self::parse(&text, &format!("`{}`", path.display()), job, op)
    }

    /// The queue depth the job's I/Os ran at: its `iodepth` option when fio echoed it, but 1
    /// when fio's `iodepth_level` shows most I/Os issued at depth 1 (a synchronous engine
    /// caps the depth at 1 whatever the option says).
    pub fn iodepth(&self) -> Option<u32> {
        let option = self.options.get("iodepth")?.trim().parse().ok()?;
        if self.depth_one_percent.is_some_and(|p| p >= 50.0) {
            Some(1)
        } else {
            Some(option)
        }
    }

    fn parse(text: &str, origin: &str, job: Option<&str>, op: FioOp) -> Result<Self, FioError> {
        Self::parse_shape(text, origin, job, op).map_err(|e| match e {
            // The shape errors know their place in the document; the input is named here.
            FioError::Malformed { what } => FioError::Malformed {
                what: format!("in {origin}, {what}"),
            },
            other => other,
        })
    }

    fn parse_shape(
        text: &str,
        origin: &str,
        job: Option<&str>,
        op: FioOp,
    ) -> Result<Self, FioError> {
        let root = parse_json(text, origin)?;
        // fio's client/server mode writes its jobs under `client_stats`.
        let jobs = root
            .get("jobs")
            .or_else(|| root.get("client_stats"))
            .ok_or_else(|| {
                malformed("there is no `jobs` list; is this fio's --output-format=json output?")
            })?
            .as_array()
            .ok_or_else(|| malformed("`jobs` is not a list"))?;
        let names = jobs
            .iter()
            .enumerate()
            .map(|(i, j)| {
                j.get("jobname")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| malformed(format!("jobs[{i}] has no `jobname` string")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let index = select_job(&names, job)?;
        let job_value = &jobs[index];
        let name = names[index].clone();
        let place = format!("jobs[{index}] (`{name}`)");

        let mut options = BTreeMap::new();
        for opts in [root.get("global options"), job_value.get("job options")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
        {
            for (k, v) in opts {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                options.insert(k.clone(), v);
            }
        }

        let section = job_value
            .get(op.key())
            .ok_or_else(|| malformed(format!("{place} has no `{}` section", op.key())))?
            .as_object()
            .ok_or_else(|| malformed(format!("{place}.{} is not an object", op.key())))?;
        let place = format!("{place}.{}", op.key());
        let total_ios = count(section.get("total_ios"), &place, "total_ios")?;
        let io_bytes = count(section.get("io_bytes"), &place, "io_bytes")?;
        let no_percentiles = |ios| FioError::NoPercentiles {
            job: name.clone(),
            op,
            ios,
        };
        // fio prints zero-filled tables (fio 2.x even zero-filled percentiles) for directions
        // a job did not use, so the I/O count decides, not the table's presence.
        if total_ios == Some(0) || io_bytes == Some(0) {
            return Err(no_percentiles(Some(0)));
        }
        let Some((table, stats)) = FioTable::PREFERENCE.into_iter().find_map(|t| {
            let stats = section.get(t.key())?.as_object()?;
            stats.contains_key("percentile").then_some((t, stats))
        }) else {
            return Err(no_percentiles(total_ios));
        };
        let place = format!("{place}.{}", table.key());
        let samples = count(stats.get("N"), &place, "N")?.or(total_ios);
        if samples == Some(0) {
            return Err(no_percentiles(Some(0)));
        }
        let stat = |key: &str| -> Result<Option<Seconds>, FioError> {
            match stats.get(key) {
                None => Ok(None),
                Some(v) => time(v, table, &format!("{place}.{key}")).map(Some),
            }
        };
        let (min, mean, max) = (stat("min")?, stat("mean")?, stat("max")?);
        if let (Some(lo), Some(hi)) = (min, max)
            && lo > hi
        {
            return Err(malformed(format!(
                "{place}.min ({lo}) is above {place}.max ({hi}); fio writes min <= max"
            )));
        }
        let percentiles = percentile_table(&stats["percentile"], table, &place)?;
        if percentiles.is_empty() {
            return Err(no_percentiles(total_ios));
        }
        // fio zero-fills the table of a direction it did not measure; with I/Os counted, an
        // all-zero table is a damaged file, not accesses that took no time.
        if percentiles.iter().all(|&(_, t)| t.0 == 0.0) {
            return Err(malformed(format!(
                "{place}.percentile: every latency is 0; expected the latencies fio measured"
            )));
        }
        let slat_mean = if table.is_completion_only() {
            section
                .get(table.slat_key())
                .and_then(|s| s.get("mean"))
                .and_then(Value::as_f64)
                .filter(|m| m.is_finite() && *m > 0.0)
                .map(|m| table.to_seconds(m))
        } else {
            None
        };
        let dist = anchored(&percentiles, samples, min, max);
        dist.validate().map_err(|e| {
            malformed(format!(
                "{place}: the percentile table is not a distribution: {e}"
            ))
        })?;
        Ok(Self {
            fio_version: root
                .get("fio version")
                .and_then(Value::as_str)
                .map(str::to_owned),
            job: name,
            op,
            table,
            percentiles,
            samples,
            min,
            mean,
            max,
            slat_mean,
            options,
            depth_one_percent: job_value
                .get("iodepth_level")
                .and_then(|l| l.get("1"))
                .and_then(Value::as_f64),
            dist,
        })
    }

    /// The distribution as YAML for a tier's `read_latency` or `write_latency`, preceded by
    /// comments that say where it came from, fio's own figures, and caveats (a table that
    /// leaves out submission latency, a measurement at a queue depth above one).
    pub fn to_yaml(&self) -> String {
        let mut s = String::new();
        let version = self.fio_version.as_deref().unwrap_or("fio");
        let n = self
            .samples
            .map_or_else(|| "an unknown number of".to_owned(), |n| n.to_string());
        s.push_str(&format!(
            "# From {version} results, job `{}`, {} latency: {} percentiles of {n} I/Os.\n",
            self.job, self.op, self.table
        ));
        let shown: Vec<String> = ["rw", "bs", "ioengine", "iodepth", "direct", "numjobs"]
            .iter()
            .filter_map(|k| self.options.get(*k).map(|v| format!("{k}={v}")))
            .collect();
        if !shown.is_empty() {
            s.push_str(&format!("# Job options: {}.\n", shown.join(" ")));
        }
        let mut figures: Vec<String> = [
            ("min", self.min),
            ("mean", self.mean.map(four_digits)),
            ("max", self.max),
        ]
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
        .collect();
        for (label, p) in [
            ("p50", 50.0),
            ("p99", 99.0),
            ("p99.9", 99.9),
            ("p99.99", 99.99),
        ] {
            if let Some(&(_, v)) = self.percentiles.iter().find(|&&(q, _)| q == p) {
                figures.push(format!("{label} {v}"));
            }
        }
        s.push_str(&format!("# fio: {}.\n", figures.join(", ")));
        s.push_str(&format!(
            "# Mean of this distribution: {} (fio's mean is over every sample; the table is \
             coarse in the tail).\n",
            four_digits(self.dist.mean())
        ));
        if let Some(slat) = self.slat_mean.map(four_digits) {
            s.push_str(&format!(
                "# Note: {} leaves out the submission latency (slat, mean {slat}); rerun fio with \
                 --lat_percentiles=1 for lat percentiles, which are read in preference.\n",
                self.table
            ));
        }
        if let Some(depth) = self.iodepth().filter(|&d| d > 1) {
            s.push_str(&format!(
                "# Note: measured at iodepth={depth}, so these latencies include queueing behind \
                 the job's own I/Os; tiersim queues accesses itself (parallel_units, \
                 queue_depth), so an iodepth=1 measurement is the device latency to use.\n"
            ));
        }
        s.push_str("empirical:\n  percentiles:\n");
        let LatencyDist::Empirical { percentiles } = &self.dist else {
            unreachable!("fio tables always give an empirical distribution");
        };
        let first_fio = self.percentiles.first().map(|&(p, _)| p);
        let last_fio = self.percentiles.last().map(|&(p, _)| p);
        for &(p, v) in percentiles {
            s.push_str(&format!("    - [{p}, {v}]"));
            if first_fio.is_some_and(|f| p < f) {
                s.push_str("  # fio's min, at 100/N %: the smallest of N samples");
            } else if last_fio.is_some_and(|l| p > l) {
                s.push_str("  # fio's max");
            }
            s.push('\n');
        }
        s
    }
}

/// A time rounded to four significant digits, for comments that compare means: the full
/// twelve that [`Seconds`] prints suggest a precision the comparison does not have.
fn four_digits(t: Seconds) -> Seconds {
    if t.0 > 0.0 && t.0.is_finite() {
        let scale = 10f64.powi(3 - t.0.log10().floor() as i32);
        Seconds((t.0 * scale).round() / scale)
    } else {
        t
    }
}

/// Parses the JSON object that starts on the first line opening with `{`.
fn parse_json(text: &str, origin: &str) -> Result<Map<String, Value>, FioError> {
    let json_error = |message: String| FioError::Json {
        origin: origin.to_owned(),
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut offset = 0;
    let start = text
        .split_inclusive('\n')
        .find_map(|line| {
            let at = offset;
            offset += line.len();
            line.trim_start()
                .starts_with('{')
                .then(|| at + line.len() - line.trim_start().len())
        })
        .ok_or_else(|| {
            json_error("no line opens a JSON object; fio's JSON output starts with `{`".to_owned())
        })?;
    // Line numbers in the parser's message count from the object's first line; report them
    // in the file's numbering instead.
    let skipped_lines = text[..start].matches('\n').count();
    let body = crate::config::load::document_text(&text[start..])
        .map_err(|m| json_error(format!("the document {m}")))?;
    serde_json::from_str(body).map_err(|e| {
        let message = if e.line() > 0 {
            let what = e.to_string();
            let what = what
                .rsplit_once(" at line ")
                .map_or(what.as_str(), |(w, _)| w);
            format!(
                "{what} at line {} column {}",
                e.line() + skipped_lines,
                e.column()
            )
        } else {
            e.to_string()
        };
        json_error(crate::config::load::schema_words(&message))
    })
}

fn select_job(names: &[String], wanted: Option<&str>) -> Result<usize, FioError> {
    let matching: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| wanted.is_none_or(|w| n.as_str() == w))
        .map(|(i, _)| i)
        .collect();
    match matching.as_slice() {
        [i] => Ok(*i),
        [] => Err(FioError::NoJob {
            wanted: wanted.map(str::to_owned),
            available: names.to_vec(),
        }),
        _ => Err(FioError::AmbiguousJob {
            names: matching.iter().map(|&i| names[i].clone()).collect(),
        }),
    }
}

/// A non-negative integer count such as `N` or `total_ios`, if present.
fn count(v: Option<&Value>, place: &str, key: &str) -> Result<Option<u64>, FioError> {
    match v {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            malformed(format!(
                "{place}.{key} is {v}, not a count of I/Os (a whole number of at least 0)"
            ))
        }),
    }
}

fn time(v: &Value, table: FioTable, place: &str) -> Result<Seconds, FioError> {
    v.as_f64()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map(|x| table.to_seconds(x))
        .ok_or_else(|| {
            malformed(format!(
                "{place} is {v}, not a latency (a number of at least 0)"
            ))
        })
}

/// fio's percentile map, sorted by percentile (JSON maps carry no order, and the keys sort
/// as text would put `10` before `5`).
fn percentile_table(
    v: &Value,
    table: FioTable,
    place: &str,
) -> Result<Vec<(f64, Seconds)>, FioError> {
    let place = format!("{place}.percentile");
    let map = v
        .as_object()
        .ok_or_else(|| malformed(format!("{place} is not a map of percentile to latency")))?;
    let mut out: Vec<(f64, Seconds)> = Vec::with_capacity(map.len());
    for (key, value) in map {
        let p: f64 = key
            .trim()
            .parse()
            .ok()
            .filter(|p: &f64| (0.0..=100.0).contains(p))
            .ok_or_else(|| {
                malformed(format!(
                    "{place} has key `{}`, not a percentile between 0 and 100",
                    crate::units::elide(key)
                ))
            })?;
        // fio 2.x pads its table with `"0.00": 0` entries for unused list slots.
        if p == 0.0 {
            continue;
        }
        out.push((p, time(value, table, &format!("{place}[\"{key}\"]"))?));
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut table_out: Vec<(f64, Seconds)> = Vec::with_capacity(out.len());
    for (p, v) in out {
        match table_out.last() {
            // Two spellings of one percentile (`50` and `50.000000`) agreeing is harmless.
            Some(&(q, w)) if q == p => {
                if w != v {
                    return Err(malformed(format!(
                        "{place} gives percentile {p} twice, as {w} and {v}"
                    )));
                }
            }
            Some(&(q, w)) if v < w => {
                return Err(malformed(format!(
                    "{place} decreases: percentile {p} is {v} but percentile {q} is {w}"
                )));
            }
            _ => table_out.push((p, v)),
        }
    }
    Ok(table_out)
}

/// fio's table with its exact `min` and `max` added where they keep it a valid, non-decreasing
/// table (see the module docs).
fn anchored(
    table: &[(f64, Seconds)],
    samples: Option<u64>,
    min: Option<Seconds>,
    max: Option<Seconds>,
) -> LatencyDist {
    let mut percentiles = Vec::with_capacity(table.len() + 2);
    if let (Some(&(p0, v0)), Some(min), Some(n)) = (table.first(), min, samples) {
        let p_min = 100.0 / n as f64;
        if p_min < p0 && min < v0 {
            percentiles.push((p_min, min));
        }
    }
    percentiles.extend_from_slice(table);
    if let (Some(&(p1, v1)), Some(max)) = (table.last(), max)
        && p1 < 100.0
        && max > v1
    {
        percentiles.push((100.0, max));
    }
    LatencyDist::Empirical { percentiles }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file recorded on this machine (tests/data/fio/README.md), with the job and
    /// direction that has percentiles.
    const RECORDED: [(&str, Option<&str>, FioOp); 10] = [
        ("randread-psync-qd1.json", None, FioOp::Read),
        ("randread-libaio-qd1.json", None, FioOp::Read),
        ("randread-libaio-qd16.json", None, FioOp::Read),
        ("randread-libaio-qd16-latpct.json", None, FioOp::Read),
        ("randrw-libaio-qd4.json", None, FioOp::Read),
        ("randrw-libaio-qd4.json", None, FioOp::Write),
        ("randwrite-psync-qd1.json", None, FioOp::Write),
        ("two-jobs.json", Some("seqread"), FioOp::Read),
        ("two-jobs.json", Some("randread"), FioOp::Read),
        ("randread-psync-stdout-note.json", None, FioOp::Read),
    ];

    fn path(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/fio")
            .join(name)
    }

    fn text(name: &str) -> String {
        std::fs::read_to_string(path(name)).unwrap()
    }

    fn raw(name: &str) -> Value {
        let t = text(name);
        serde_json::from_str(&t[t.find("\n{").map_or(0, |i| i + 1)..]).unwrap()
    }

    fn read(name: &str, job: Option<&str>, op: FioOp) -> FioLatency {
        FioLatency::from_file(&path(name), job, op)
            .unwrap_or_else(|e| panic!("{name} {job:?} {op}: {e}"))
    }

    fn err(text: &str, job: Option<&str>, op: FioOp) -> FioError {
        match FioLatency::from_json(text, job, op) {
            Ok(l) => panic!("accepted: {l:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn every_recorded_file_parses() {
        for (name, job, op) in RECORDED {
            let l = read(name, job, op);
            l.dist.validate().unwrap();
            assert_eq!(l.fio_version.as_deref(), Some("fio-3.33"), "{name}");
            assert_eq!(l.percentiles.len(), 17, "{name}: fio's default list");
            assert!(l.samples.unwrap() > 10_000, "{name}");
            assert_eq!(latency_from_fio_file(&path(name), job, op).unwrap(), l.dist);
            assert_eq!(
                latency_from_fio_json(&text(name), job, op).unwrap(),
                l.dist,
                "{name}"
            );
        }
    }

    #[test]
    fn quantiles_at_fio_percentiles_are_fios_values_exactly() {
        for (name, job, op) in RECORDED {
            let l = read(name, job, op);
            let doc = raw(name);
            let jobs = doc["jobs"].as_array().unwrap();
            let j = jobs
                .iter()
                .find(|j| job.is_none_or(|w| j["jobname"] == w))
                .unwrap();
            let table = &j[op.key()][l.table.key()];
            let fio_pct = table["percentile"].as_object().unwrap();
            assert_eq!(fio_pct.len(), l.percentiles.len());
            for (key, v) in fio_pct {
                let p: f64 = key.parse().unwrap();
                let want = Seconds::ns(v.as_f64().unwrap());
                assert_eq!(l.dist.quantile(p / 100.0), want, "{name} p{key}");
            }
            // The anchors are fio's exact extremes.
            let min = Seconds::ns(table["min"].as_f64().unwrap());
            let max = Seconds::ns(table["max"].as_f64().unwrap());
            assert_eq!(l.dist.quantile(0.0), min, "{name}");
            assert_eq!(l.dist.quantile(1.0), max, "{name}");
        }
    }

    #[test]
    fn mean_is_close_to_fios_exact_mean() {
        // fio's mean is over every sample. The distribution only knows 17 knots plus the
        // extremes: between 99.9, 99.95, 99.99 and 100 % (a tenth of a percent of the mass,
        // spanning 0.2 to 5 ms on this VM) it interpolates linearly, and each knot is a
        // histogram bucket's midpoint (up to 0.8 % off). The tail thus moves the mean by a
        // percent or so either way (1.2 % at most on the recorded runs); 5 % bounds it.
        for (name, job, op) in RECORDED {
            let l = read(name, job, op);
            let fio_mean = l.mean.unwrap().0;
            let ratio = l.dist.mean().0 / fio_mean;
            assert!(
                (0.95..=1.05).contains(&ratio),
                "{name} {op}: mean {} vs fio's {} (ratio {ratio})",
                l.dist.mean(),
                l.mean.unwrap()
            );
        }
    }

    #[test]
    fn anchors_add_min_and_max() {
        let l = read("randread-psync-qd1.json", None, FioOp::Read);
        let LatencyDist::Empirical { percentiles } = &l.dist else {
            panic!("{:?}", l.dist);
        };
        assert_eq!(percentiles.len(), 19);
        assert_eq!(percentiles[0], (100.0 / 98199.0, Seconds::ns(32979.0)));
        assert_eq!(percentiles[1], (1.0, Seconds::ns(36096.0)));
        assert_eq!(percentiles[17], (99.99, Seconds::ns(4014080.0)));
        assert_eq!(percentiles[18], (100.0, Seconds::ns(5250547.0)));
        assert_eq!(l.table, FioTable::ClatNs);
        assert_eq!(l.samples, Some(98199));
        assert_eq!(l.slat_mean, None, "psync measures no slat");
        assert_eq!(l.iodepth(), Some(1));
    }

    #[test]
    fn anchors_that_would_reorder_the_table_are_left_out() {
        let table = [(1.0, Seconds::ns(100.0)), (99.0, Seconds::ns(200.0))];
        let plain = LatencyDist::Empirical {
            percentiles: table.to_vec(),
        };
        // Bucket midpoints can sit outside fio's exact extremes.
        let d = anchored(
            &table,
            Some(1000),
            Some(Seconds::ns(101.0)),
            Some(Seconds::ns(199.0)),
        );
        assert_eq!(d, plain);
        // Too few samples to place the minimum below the first percentile, and no count.
        assert_eq!(
            anchored(&table, Some(50), Some(Seconds::ns(90.0)), None),
            plain
        );
        assert_eq!(anchored(&table, None, Some(Seconds::ns(90.0)), None), plain);
        // A table that already reaches 100 % keeps its own top.
        let full = [(50.0, Seconds::ns(100.0)), (100.0, Seconds::ns(200.0))];
        let d = anchored(&full, Some(10), None, Some(Seconds::ns(300.0)));
        assert_eq!(
            d,
            LatencyDist::Empirical {
                percentiles: full.to_vec()
            }
        );
    }

    #[test]
    fn lat_percentiles_are_preferred_over_clat() {
        let l = read("randread-libaio-qd16-latpct.json", None, FioOp::Read);
        assert_eq!(l.table, FioTable::LatNs);
        assert_eq!(l.slat_mean, None);
        assert_eq!(l.dist.quantile(0.5), Seconds::ns(183296.0));
        assert_eq!(l.iodepth(), Some(16));
        // Without them, clat is read and the submission latency it leaves out is reported.
        let l = read("randread-libaio-qd1.json", None, FioOp::Read);
        assert_eq!(l.table, FioTable::ClatNs);
        let slat = l.slat_mean.unwrap();
        assert!((slat.0 - 13514e-9).abs() < 1e-9, "{slat}");
    }

    #[test]
    fn mixed_job_has_both_directions() {
        let r = read("randrw-libaio-qd4.json", None, FioOp::Read);
        let w = read("randrw-libaio-qd4.json", None, FioOp::Write);
        assert_eq!(r.samples, Some(170250));
        assert_eq!(w.samples, Some(73005));
        assert_ne!(r.dist, w.dist);
        assert_eq!(w.dist.quantile(0.5), Seconds::ns(82432.0));
    }

    #[test]
    fn jobs_are_selected_by_name() {
        let seq = read("two-jobs.json", Some("seqread"), FioOp::Read);
        let rand = read("two-jobs.json", Some("randread"), FioOp::Read);
        assert_eq!(seq.job, "seqread");
        assert_eq!(rand.job, "randread");
        assert_eq!(seq.samples, Some(75803));
        assert_eq!(rand.samples, Some(75784));
        // Global options are merged under the job's own.
        assert_eq!(seq.options["ioengine"], "psync");
        assert_eq!(seq.options["rw"], "read");
        // A one-job file may name its job too.
        let one = read("randread-psync-qd1.json", Some("randread"), FioOp::Read);
        assert_eq!(
            one.dist,
            read("randread-psync-qd1.json", None, FioOp::Read).dist
        );
    }

    #[test]
    fn two_jobs_without_a_name_are_ambiguous() {
        let e = err(&text("two-jobs.json"), None, FioOp::Read);
        assert!(
            matches!(&e, FioError::AmbiguousJob { names } if names == &["seqread", "randread"]),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "the fio results hold 2 jobs (`seqread`, `randread`); choose one with --job NAME"
        );
    }

    #[test]
    fn jobs_sharing_a_name_ask_for_group_reporting() {
        let mut doc = raw("two-jobs.json");
        doc["jobs"][0]["jobname"] = "randread".into();
        let e = err(&doc.to_string(), Some("randread"), FioOp::Read);
        assert!(e.to_string().contains("2 jobs named `randread`"), "{e}");
        assert!(e.to_string().contains("--group_reporting"), "{e}");
    }

    #[test]
    fn unknown_job_lists_the_jobs() {
        let e = err(&text("two-jobs.json"), Some("seqwrite"), FioOp::Read);
        assert!(matches!(&e, FioError::NoJob { wanted: Some(w), .. } if w == "seqwrite"));
        assert_eq!(
            e.to_string(),
            "no job named `seqwrite` in the fio results; their jobs are `seqread`, `randread`"
        );
    }

    #[test]
    fn no_jobs() {
        let e = err(
            r#"{"fio version": "fio-3.33", "jobs": []}"#,
            None,
            FioOp::Read,
        );
        assert!(matches!(e, FioError::NoJob { wanted: None, .. }), "{e:?}");
        assert_eq!(e.to_string(), "the fio results hold no jobs");
        let e = err(r#"{"jobs": []}"#, Some("x"), FioOp::Read);
        assert_eq!(
            e.to_string(),
            "no job named `x`: the fio results hold no jobs"
        );
    }

    #[test]
    fn write_only_job_has_no_read_percentiles() {
        let e = err(&text("randwrite-psync-qd1.json"), None, FioOp::Read);
        assert!(
            matches!(&e, FioError::NoPercentiles { job, op: FioOp::Read, ios: Some(0) } if job == "randwrite"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "job `randwrite` has no read percentiles: it did no reads"
        );
        let e = err(&text("randread-psync-qd1.json"), None, FioOp::Write);
        assert_eq!(
            e.to_string(),
            "job `randread` has no write percentiles: it did no writes"
        );
    }

    #[test]
    fn disabled_percentiles_are_explained() {
        let e = err(&text("randread-psync-nopct.json"), None, FioOp::Read);
        assert_eq!(
            e.to_string(),
            "job `randread` has no read percentiles although it did 21500 reads (was \
             clat_percentiles=0 or an empty --percentile_list set?)"
        );
    }

    #[test]
    fn fio2_microsecond_tables_with_padding_are_read() {
        let l = read("legacy-fio2-usec.json", None, FioOp::Read);
        assert_eq!(l.table, FioTable::ClatUs);
        assert_eq!(l.fio_version.as_deref(), Some("fio-2.1.11"));
        // fio 2.1 printed no N or total_ios, so there is no low anchor; `0.00` padding is gone.
        assert_eq!(l.samples, None);
        assert_eq!(l.percentiles.len(), 17);
        assert_eq!(l.percentiles[0], (1.0, Seconds::us(36.0)));
        assert_eq!(l.dist.quantile(0.5), Seconds::us(47.0));
        assert_eq!(l.dist.quantile(0.0), Seconds::us(36.0));
        assert_eq!(l.dist.quantile(1.0), Seconds::us(5251.0));
        // fio 2.x zero-fills unused directions, percentiles included.
        let e = err(&text("legacy-fio2-usec.json"), None, FioOp::Write);
        assert!(
            matches!(e, FioError::NoPercentiles { ios: Some(0), .. }),
            "{e:?}"
        );
    }

    #[test]
    fn notes_before_the_json_are_skipped() {
        let t = text("randread-psync-stdout-note.json");
        assert!(t.starts_with("note: both iodepth >= 1"));
        let l = FioLatency::from_json(&t, None, FioOp::Read).unwrap();
        // psync ignores the job's --iodepth=16, as the note says and iodepth_level shows.
        assert_eq!(l.options["iodepth"], "16");
        assert_eq!(l.depth_one_percent, Some(100.0));
        assert_eq!(l.iodepth(), Some(1));
        assert!(!l.to_yaml().contains("measured at iodepth"));
        // Line numbers in errors are the file's, note included.
        let cut = &t[..t.find("\"jobs\"").unwrap() + 3];
        let e = err(cut, None, FioOp::Read);
        assert!(e.to_string().contains("at line 7 column"), "{e}");
    }

    #[test]
    fn every_prefix_of_a_real_file_is_a_clear_error() {
        for name in ["randread-psync-qd1.json", "randread-psync-stdout-note.json"] {
            let t = text(name);
            let end = t.trim_end().len();
            for cut in 0..end {
                let e = err(&t[..cut], None, FioOp::Read);
                assert!(matches!(e, FioError::Json { .. }), "{name}[..{cut}]: {e:?}");
                let msg = e.to_string();
                assert!(
                    !msg.contains('\n') && msg.len() < 200,
                    "{name}[..{cut}]: {msg}"
                );
            }
            FioLatency::from_json(&t[..end], None, FioOp::Read).unwrap();
        }
        let e = err("", None, FioOp::Read);
        assert_eq!(
            e.to_string(),
            "the input is not fio JSON output: no line opens a JSON object; fio's JSON output \
             starts with `{`"
        );
    }

    #[test]
    fn truncated_file_names_the_file() {
        let dir = std::env::temp_dir().join(format!("tiersim-fio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("cut.json");
        let t = text("randread-psync-qd1.json");
        std::fs::write(&p, &t[..t.len() / 2]).unwrap();
        let e = FioLatency::from_file(&p, None, FioOp::Read).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "`{}` is not fio JSON output: EOF while parsing",
                p.display()
            )),
            "{msg}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let e = FioLatency::from_file(&dir.join("missing.json"), None, FioOp::Read).unwrap_err();
        assert!(matches!(e, FioError::Io { .. }), "{e:?}");
        assert!(e.to_string().starts_with("cannot read fio results"), "{e}");
    }

    #[test]
    fn malformed_documents_are_explained() {
        let cases = [
            (r#"{"fio version": "fio-3.33"}"#, "no `jobs` list"),
            (r#"{"jobs": {}}"#, "`jobs` is not a list"),
            (
                r#"{"jobs": [{"read": {}}]}"#,
                "jobs[0] has no `jobname` string",
            ),
            (
                r#"{"jobs": [{"jobname": "j"}]}"#,
                "jobs[0] (`j`) has no `read` section",
            ),
            (
                r#"{"jobs": [{"jobname": "j", "read": {"total_ios": -1}}]}"#,
                "jobs[0] (`j`).read.total_ios is -1, not a count",
            ),
            (
                r#"{"jobs": [{"jobname": "j", "read": {"clat_ns": {"percentile": [1]}}}]}"#,
                "percentile is not a map",
            ),
            (
                r#"{"jobs": [{"jobname": "j", "read": {"clat_ns": {"percentile": {"p50": 1}}}}]}"#,
                "has key `p50`, not a percentile",
            ),
            (
                r#"{"jobs": [{"jobname": "j", "read": {"clat_ns": {"percentile": {"150": 1}}}}]}"#,
                "has key `150`, not a percentile",
            ),
            (
                r#"{"jobs": [{"jobname": "j", "read": {"clat_ns": {"percentile": {"50": "fast"}}}}]}"#,
                "percentile[\"50\"] is \"fast\", not a latency",
            ),
            (
                r#"{"jobs": [{"jobname": "j", "read": {"clat_ns": {"percentile": {"50": 9, "99": 5}}}}]}"#,
                "decreases: percentile 99 is 5ns but percentile 50 is 9ns",
            ),
            (
                r#"{"jobs": [{"jobname": "j", "read": {"clat_ns": {"percentile": {"50": 9, "50.0": 5}}}}]}"#,
                "gives percentile 50 twice",
            ),
            (
                r#"{"jobs": [{"jobname": "j", "read": {"clat_ns": {"min": -3, "percentile": {"50": 9}}}}]}"#,
                "clat_ns.min is -3, not a latency",
            ),
        ];
        for (text, want) in cases {
            let e = err(text, None, FioOp::Read);
            assert!(matches!(e, FioError::Malformed { .. }), "{text}: {e:?}");
            let msg = e.to_string();
            assert!(msg.contains(want), "{text}: `{msg}` lacks `{want}`");
            assert!(msg.starts_with("malformed fio results: "), "{msg}");
        }
        // A document that is not an object has no line opening one.
        assert!(matches!(
            err("[1, 2]", None, FioOp::Read),
            FioError::Json { .. }
        ));
        // An empty table (every entry fio 2.x padding) is no table.
        let e = err(
            r#"{"jobs": [{"jobname": "j", "read": {"clat_ns": {"percentile": {"0.00": 0}}}}]}"#,
            None,
            FioOp::Read,
        );
        assert!(
            matches!(e, FioError::NoPercentiles { ios: None, .. }),
            "{e:?}"
        );
        // Text after the document (two runs appended to one file) is refused, not ignored.
        let t = text("randread-psync-qd1.json");
        let e = err(&format!("{t}{t}"), None, FioOp::Read);
        assert!(e.to_string().contains("trailing characters"), "{e}");
    }

    #[test]
    fn minimal_document_without_extremes_or_counts() {
        let l = FioLatency::from_json(
            r#"{"jobs": [{"jobname": "j", "read": {"clat_ns": {"percentile": {"99": 300, "50": 100}}}}]}"#,
            None,
            FioOp::Read,
        )
        .unwrap();
        assert_eq!(
            l.dist,
            LatencyDist::Empirical {
                percentiles: vec![(50.0, Seconds::ns(100.0)), (99.0, Seconds::ns(300.0))]
            }
        );
        assert_eq!((l.samples, l.min, l.mean, l.max), (None, None, None, None));
        assert!(l.to_yaml().contains("an unknown number of I/Os"));
    }

    #[test]
    fn client_server_results_are_read() {
        let mut doc = raw("randread-psync-qd1.json");
        let jobs = doc.as_object_mut().unwrap().remove("jobs").unwrap();
        doc["client_stats"] = jobs;
        let l = FioLatency::from_json(&doc.to_string(), None, FioOp::Read).unwrap();
        assert_eq!(
            l.dist,
            read("randread-psync-qd1.json", None, FioOp::Read).dist
        );
    }

    #[test]
    fn yaml_reads_back_as_the_same_distribution() {
        for (name, job, op) in RECORDED {
            let l = read(name, job, op);
            let yaml = l.to_yaml();
            let back: LatencyDist =
                serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{name}: {e}\n{yaml}"));
            let (
                LatencyDist::Empirical { percentiles: a },
                LatencyDist::Empirical { percentiles: b },
            ) = (&l.dist, &back)
            else {
                panic!("{name}: {back:?}");
            };
            assert_eq!(a.len(), b.len());
            // Percentiles round-trip exactly; times to the last bit or so, since `36.096us`
            // parses as 36.096e-6 where the reader computed 36096e-9.
            for (x, y) in a.iter().zip(b) {
                assert_eq!(x.0, y.0, "{name}");
                assert!(
                    (x.1.0 - y.1.0).abs() <= 1e-15 * x.1.0,
                    "{name}: {x:?} vs {y:?}"
                );
            }
        }
    }

    #[test]
    fn yaml_comments_carry_the_figures_and_caveats() {
        let yaml = read("randread-libaio-qd16.json", None, FioOp::Read).to_yaml();
        assert!(yaml.starts_with(
            "# From fio-3.33 results, job `randread`, read latency: clat_ns percentiles of \
             408037 I/Os.\n"
        ));
        assert!(yaml.contains("p50 177.152us, p99 268.288us"), "{yaml}");
        assert!(yaml.contains("leaves out the submission latency"), "{yaml}");
        assert!(yaml.contains("measured at iodepth=16"), "{yaml}");
        assert!(yaml.contains("\n    - [1, 162.816us]\n"), "{yaml}");
        assert!(yaml.contains("  # fio's max\n"), "{yaml}");
        let yaml = read("randread-psync-qd1.json", None, FioOp::Read).to_yaml();
        assert!(!yaml.contains("Note:"), "{yaml}");
    }

    #[test]
    fn op_names() {
        assert_eq!("read".parse::<FioOp>(), Ok(FioOp::Read));
        assert_eq!("write".parse::<FioOp>(), Ok(FioOp::Write));
        assert!("trim".parse::<FioOp>().is_err());
        assert_eq!(FioOp::Write.to_string(), "write");
        assert_eq!(FioTable::LatUs.to_string(), "lat");
    }
}
