//! The requirement solver: the least (or most) value of one parameter that meets a target such
//! as `tg >= 0.9*baseline`, by bisection on the simulator, for every combination of others.
//!
//! Each bisection evaluates one configuration at several values with the same random streams
//! (they derive from the combination, not the value), so a metric that improves with the
//! parameter does so step by step and the bracket never crosses noise.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use crate::config::error::ConfigError;
use crate::config::load;
use crate::report::numfmt;
use crate::scenario::{TestCase, percentile};
use crate::sweep::point::{self, BaselineCache, PointEval};
use crate::sweep::spec::{
    Axis, Baseline, Point, SweepSpec, TestsSpec, quantity, quantity_value, value_text,
};
use crate::units::{Quantity, Seconds};

/// A requirement question (YAML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequireSpec {
    /// A name for the result files.
    #[serde(default = "default_name")]
    pub name: String,
    /// Model preset or file.
    pub model: String,
    /// System preset or file.
    pub system: String,
    /// The llama-bench tests the targets refer to (one test per kind is clearest).
    #[serde(default)]
    pub tests: TestsSpec,
    /// Repetitions per evaluation.
    #[serde(default = "one")]
    pub repeats: u32,
    /// Seed.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Overrides applied everywhere.
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
    /// The parameter solved for.
    pub solve: Solve,
    /// Targets, each solved separately (`tg >= 0.9*baseline`, `tpot_p99 <= 50ms`).
    pub targets: Vec<String>,
    /// Other parameters: the answer is given for every combination of their values.
    #[serde(default)]
    pub over: Vec<Axis>,
    /// What `baseline` in a target means.
    #[serde(default)]
    pub baseline: Baseline,
}

fn default_name() -> String {
    "require".into()
}
fn one() -> u32 {
    1
}
fn one_u64() -> u64 {
    1
}

/// The solved parameter, its search interval and tolerance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Solve {
    /// Dotted path (`tiers.hbf.read_bw`).
    pub param: String,
    /// Search interval `[low, high]`, with units.
    pub bounds: (Value, Value),
    /// Whether the answer is the least value that meets the target (a resource: bandwidth,
    /// queue depth) or the most (a cost: latency).
    #[serde(default)]
    pub goal: Goal,
    /// Stop when the bracket is this narrow: relative (`1%`) or with the parameter's unit.
    #[serde(default = "default_tolerance")]
    pub tolerance: String,
}

fn default_tolerance() -> String {
    "1%".into()
}

/// Which end of the feasible interval is the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// The least value that meets the target.
    #[default]
    Least,
    /// The most value that still meets it.
    Most,
}

/// A metric a target constrains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Rate of the first pp test (t/s).
    Pp,
    /// Rate of the first tg test (t/s).
    Tg,
    /// Rate of the first pg test (t/s).
    Pg,
    /// Median per-token decode latency (first test that decodes).
    TpotP50,
    /// 99th percentile per-token decode latency.
    TpotP99,
    /// Time to first token (first test with a prompt).
    Ttft,
}

/// The finest relative tolerance a bisection may ask for: a millionth, far below the
/// simulator's own repeatability and far above a double's resolution.
pub const MIN_RELATIVE_TOLERANCE: f64 = 1e-6;

/// `metric op bound`, e.g. `tg >= 0.9*baseline`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// What is constrained.
    pub metric: Metric,
    /// `true` for `>=`, `false` for `<=`.
    pub at_least: bool,
    /// The bound: a multiple of the baseline, or an absolute value (t/s or seconds).
    pub bound: Bound,
}

/// A target's right-hand side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// `k * baseline` (rates only).
    Baseline(f64),
    /// Tokens per second, or seconds for latencies.
    Value(f64),
}

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "target `{text}`: {why}; expected e.g. `tg >= 0.9*baseline` or `tpot_p99 <= 50ms`"
            )
        };
        let (lhs, at_least, rhs) = if let Some((l, r)) = text.split_once(">=") {
            (l, true, r)
        } else if let Some((l, r)) = text.split_once("<=") {
            (l, false, r)
        } else {
            return Err(bad("no `>=` or `<=`"));
        };
        let metric = match lhs.trim() {
            "pp" => Metric::Pp,
            "tg" => Metric::Tg,
            "pg" => Metric::Pg,
            "tpot_p50" => Metric::TpotP50,
            "tpot_p99" => Metric::TpotP99,
            "ttft" => Metric::Ttft,
            other => {
                return Err(bad(&format!(
                    "unknown metric `{other}` (pp, tg, pg, tpot_p50, tpot_p99, ttft)"
                )));
            }
        };
        let rhs = rhs.trim().replace(' ', "");
        let is_rate = matches!(metric, Metric::Pp | Metric::Tg | Metric::Pg);
        let bound = if let Some(k) = rhs.strip_suffix("*baseline") {
            if !is_rate {
                return Err(bad("only rates (pp, tg, pg) compare with the baseline"));
            }
            Bound::Baseline(
                k.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && *f > 0.0)
                    .ok_or_else(|| bad(&format!("`{k}` is not a positive, finite factor")))?,
            )
        } else if rhs == "baseline" {
            if !is_rate {
                return Err(bad("only rates (pp, tg, pg) compare with the baseline"));
            }
            Bound::Baseline(1.0)
        } else if is_rate {
            Bound::Value(
                rhs.parse::<f64>()
                    .ok()
                    .filter(|r| r.is_finite() && *r >= 0.0)
                    .ok_or_else(|| bad(&format!("`{rhs}` is not a rate in t/s")))?,
            )
        } else {
            let t = Seconds::parse(&rhs).map_err(|e| bad(&e.to_string()))?.0;
            if !(t.is_finite() && t >= 0.0) {
                return Err(bad(&format!("`{rhs}` is not a finite time")));
            }
            Bound::Value(t)
        };
        Ok(Self {
            metric,
            at_least,
            bound,
        })
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Metric::Pp => "pp",
            Metric::Tg => "tg",
            Metric::Pg => "pg",
            Metric::TpotP50 => "tpot_p50",
            Metric::TpotP99 => "tpot_p99",
            Metric::Ttft => "ttft",
        })
    }
}

impl Metric {
    /// The test the metric reads: the first of its kind.
    fn test(self, cases: &[TestCase]) -> Option<usize> {
        cases.iter().position(|c| match self {
            Metric::Pp => c.n_prompt > 0 && c.n_gen == 0,
            Metric::Tg => c.n_prompt == 0 && c.n_gen > 0,
            Metric::Pg => c.n_prompt > 0 && c.n_gen > 0,
            Metric::TpotP50 | Metric::TpotP99 => c.n_gen > 0,
            Metric::Ttft => c.n_prompt > 0,
        })
    }

    /// The metric's value (t/s, or seconds) and the baseline rate when it has one.
    fn read(self, cases: &[TestCase], e: &PointEval) -> (f64, Option<f64>) {
        let i = self.test(cases).expect("checked when the spec was loaded");
        let out = &e.outcomes[i];
        let base = e.baseline.as_ref().map(|b| b[i]);
        let v = match self {
            Metric::Pp | Metric::Tg | Metric::Pg => out.rate_stats(&cases[i]).0,
            Metric::TpotP50 => percentile(&out.tpot, 0.5).0,
            Metric::TpotP99 => percentile(&out.tpot, 0.99).0,
            Metric::Ttft => out.mean_ttft().0,
        };
        (v, base)
    }
}

impl Target {
    /// Whether an evaluation meets the target, and the metric's value.
    pub fn check(&self, cases: &[TestCase], e: &PointEval) -> Result<(bool, f64), String> {
        let (v, base) = self.metric.read(cases, e);
        let bound = match self.bound {
            Bound::Value(x) => x,
            Bound::Baseline(k) => {
                k * base
                    .ok_or("the target refers to the baseline but the spec has `baseline: none`")?
            }
        };
        Ok((
            if self.at_least {
                v >= bound
            } else {
                v <= bound
            },
            v,
        ))
    }
}

/// How a requirement came out.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The bracketed answer: meets at `value`, fails one tolerance beyond it.
    Found {
        /// The required value.
        value: f64,
        /// The metric there.
        metric_at: f64,
        /// The nearest value that failed.
        failed_at: f64,
        /// The metric there.
        metric_failed: f64,
    },
    /// Even the best bound fails.
    NotMet {
        /// The metric at the best bound.
        best: f64,
    },
    /// Even the worst bound meets the target.
    AlwaysMet {
        /// The metric at the worst bound.
        worst: f64,
    },
}

/// One line of the requirement table.
#[derive(Debug, Clone, PartialEq)]
pub struct RequirementRow {
    /// Values of the `over` parameters.
    pub over: Vec<Value>,
    /// The target as written.
    pub target: String,
    /// The answer.
    pub answer: Answer,
    /// Simulator evaluations spent.
    pub evaluations: u32,
}

/// A loaded, checked requirement question.
pub struct Prepared {
    /// The spec.
    pub spec: RequireSpec,
    /// A sweep spec equivalent for loading points: the `over` axes, then the solved parameter.
    pub sweep: SweepSpec,
    /// Parsed targets.
    pub targets: Vec<Target>,
    /// Combinations of the `over` values (a full grid).
    pub over: Vec<Vec<Value>>,
    /// The tests.
    pub cases: Vec<TestCase>,
    fixed: Vec<crate::config::load::Override>,
    lo: f64,
    hi: f64,
    kind: Quantity,
    tolerance: Tolerance,
    log: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tolerance {
    Relative(f64),
    Absolute(f64),
}

impl Prepared {
    /// Loads and checks a requirement spec.
    pub fn load(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let spec: RequireSpec = load::parse(text, origin)?;
        let bad = |field: &str, msg: String| ConfigError::invalid(origin, field, msg);
        let lo_kind = quantity(&spec.solve.bounds.0).ok_or_else(|| {
            bad(
                "solve.bounds",
                "the low bound is not a number or value with a unit".into(),
            )
        })?;
        let hi_kind = quantity(&spec.solve.bounds.1).ok_or_else(|| {
            bad(
                "solve.bounds",
                "the high bound is not a number or value with a unit".into(),
            )
        })?;
        let (lo, hi) = (lo_kind.get(), hi_kind.get());
        if !lo_kind.same_kind(hi_kind) || lo >= hi {
            return Err(bad(
                "solve.bounds",
                "needs [low, high] with low < high, in the same unit".into(),
            ));
        }
        let tol = spec.solve.tolerance.trim();
        let tolerance = if let Some(p) = tol.strip_suffix('%') {
            Tolerance::Relative(
                p.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= MIN_RELATIVE_TOLERANCE * 100.0)
                    .ok_or_else(|| {
                        bad(
                            "solve.tolerance",
                            format!(
                                "`{tol}` is not a percentage of at least {}%; a finer tolerance \
                                 is below the simulation's own repeatability",
                                crate::report::numfmt::sig(MIN_RELATIVE_TOLERANCE * 100.0, 3)
                            ),
                        )
                    })?
                    / 100.0,
            )
        } else {
            let k = Quantity::parse(tol).ok_or_else(|| {
                bad(
                    "solve.tolerance",
                    format!(
                        "`{tol}` is neither a percentage nor a value with the parameter's unit"
                    ),
                )
            })?;
            let v = k.get();
            if !(k.same_kind(lo_kind) && v.is_finite() && v >= (hi - lo) * MIN_RELATIVE_TOLERANCE) {
                return Err(bad(
                    "solve.tolerance",
                    format!(
                        "`{tol}` must be in the unit of the bounds and at least {} of their span",
                        MIN_RELATIVE_TOLERANCE
                    ),
                ));
            }
            Tolerance::Absolute(v)
        };
        let targets: Vec<Target> = spec
            .targets
            .iter()
            .map(|t| t.parse())
            .collect::<Result<_, String>>()
            .map_err(|m| bad("targets", m))?;
        if targets.is_empty() {
            return Err(bad(
                "targets",
                "is empty; expected e.g. [\"tg >= 0.9*baseline\"]".into(),
            ));
        }
        let mut vary = spec.over.clone();
        vary.push(Axis {
            param: spec.solve.param.clone(),
            values: Some(vec![
                spec.solve.bounds.0.clone(),
                spec.solve.bounds.1.clone(),
            ]),
            range: None,
        });
        let sweep = SweepSpec {
            name: spec.name.clone(),
            model: spec.model.clone(),
            system: spec.system.clone(),
            tests: spec.tests.clone(),
            serve: None,
            repeats: spec.repeats,
            seed: spec.seed,
            set: spec.set.clone(),
            vary,
            grid: true,
            baseline: spec.baseline.clone(),
        };
        // Loading the sweep checks every combination at both bounds before any bisection.
        let checked = crate::sweep::Prepared::new(sweep.clone(), origin.to_owned())?;
        for t in &targets {
            if t.metric.test(&checked.cases).is_none() {
                return Err(bad(
                    "targets",
                    format!("`{}` needs a test the spec's `tests` do not run", t.metric),
                ));
            }
        }
        let n_over = checked.axes.len() - 1;
        let over = if n_over == 0 {
            vec![Vec::new()]
        } else {
            let axes = &checked.axes[..n_over];
            (0..SweepSpec::n_points(axes, true).map_err(|e| bad("over", e.to_string()))?)
                .map(|id| {
                    SweepSpec::point(axes, true, id)
                        .values
                        .into_iter()
                        .map(|(_, v)| v)
                        .collect()
                })
                .collect()
        };
        let log = lo > 0.0 && hi / lo >= 100.0;
        Ok(Self {
            fixed: checked.fixed,
            spec,
            sweep,
            targets,
            over,
            cases: checked.cases,
            lo,
            hi,
            kind: lo_kind,
            tolerance,
            log,
        })
    }

    fn close(&self, a: f64, b: f64) -> bool {
        let (lo, hi) = (a.min(b), a.max(b));
        match self.tolerance {
            Tolerance::Relative(r) => hi <= lo * (1.0 + r),
            Tolerance::Absolute(d) => hi - lo <= d,
        }
    }

    fn mid(&self, a: f64, b: f64) -> f64 {
        if self.log {
            (a * b).sqrt()
        } else {
            0.5 * (a + b)
        }
    }

    /// The value one tolerance short of `x`, toward the failing side.
    pub fn short_of(&self, x: f64) -> f64 {
        let toward_lo = self.spec.solve.goal == Goal::Least;
        match (self.tolerance, toward_lo) {
            (Tolerance::Relative(r), true) => x / (1.0 + r),
            (Tolerance::Relative(r), false) => x * (1.0 + r),
            (Tolerance::Absolute(d), true) => x - d,
            (Tolerance::Absolute(d), false) => x + d,
        }
    }

    /// The parameter's value as the YAML it is written with.
    pub fn value(&self, x: f64) -> Value {
        quantity_value(self.kind.with(x))
    }

    /// Evaluates combination `combo` at parameter value `x`.
    pub fn evaluate(
        &self,
        baselines: &BaselineCache,
        combo: usize,
        x: f64,
    ) -> Result<PointEval, ConfigError> {
        let n_over = self.over[combo].len();
        let mut values: Vec<(usize, Value)> =
            self.over[combo].iter().cloned().enumerate().collect();
        values.push((n_over, self.value(x)));
        point::evaluate(
            &self.sweep,
            &self.fixed,
            &self.cases,
            baselines,
            &Point {
                id: combo as u64,
                values,
            },
        )
    }

    /// Solves every combination and target, in parallel; rows in combination, then target
    /// order.
    pub fn solve(&self, threads: usize) -> Result<Vec<RequirementRow>, ConfigError> {
        let baselines = BaselineCache::default();
        let jobs: Vec<(usize, usize)> = (0..self.over.len())
            .flat_map(|c| (0..self.targets.len()).map(move |t| (c, t)))
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build()
            .map_err(|e| ConfigError::Parse {
                origin: "require".into(),
                message: e.to_string(),
            })?;
        pool.install(|| {
            jobs.par_iter()
                .map(|&(c, t)| self.solve_one(&baselines, c, t))
                .collect()
        })
    }

    fn solve_one(
        &self,
        baselines: &BaselineCache,
        combo: usize,
        t: usize,
    ) -> Result<RequirementRow, ConfigError> {
        let target = &self.targets[t];
        let mut evaluations = 0;
        let mut check = |x: f64| -> Result<(bool, f64), ConfigError> {
            evaluations += 1;
            let e = self.evaluate(baselines, combo, x)?;
            target
                .check(&self.cases, &e)
                .map_err(|m| ConfigError::Parse {
                    origin: "require".into(),
                    message: m,
                })
        };
        // `good` is the end that helps: the high end when seeking the least value.
        let (mut bad, mut good) = match self.spec.solve.goal {
            Goal::Least => (self.lo, self.hi),
            Goal::Most => (self.hi, self.lo),
        };
        let (ok_good, m_good) = check(good)?;
        let answer = if !ok_good {
            Answer::NotMet { best: m_good }
        } else {
            let (ok_bad, m_bad) = check(bad)?;
            if ok_bad {
                Answer::AlwaysMet { worst: m_bad }
            } else {
                let (mut m_at, mut m_failed) = (m_good, m_bad);
                while !self.close(bad, good) {
                    let mid = self.mid(bad, good);
                    // Floats run out before a tolerance does at the ends of their range: stop
                    // where no value lies strictly between the two ends.
                    if mid <= bad.min(good) || mid >= bad.max(good) {
                        break;
                    }
                    let (ok, m) = check(mid)?;
                    if ok {
                        good = mid;
                        m_at = m;
                    } else {
                        bad = mid;
                        m_failed = m;
                    }
                }
                Answer::Found {
                    value: good,
                    metric_at: m_at,
                    failed_at: bad,
                    metric_failed: m_failed,
                }
            }
        };
        Ok(RequirementRow {
            over: self.over[combo].clone(),
            target: self.spec.targets[t].clone(),
            answer,
            evaluations,
        })
    }

    /// The requirement table as CSV.
    pub fn csv(&self, rows: &[RequirementRow]) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = self.spec.over.iter().map(|a| a.param.clone()).collect();
        let p = &self.spec.solve.param;
        header.extend([
            "target".into(),
            "status".into(),
            p.to_string(),
            "metric_at".into(),
            format!("{p}_failed"),
            "metric_failed".into(),
            "evaluations".into(),
        ]);
        let _ = w.write_record(&header);
        for r in rows {
            let mut rec: Vec<String> = r.over.iter().map(value_text).collect();
            rec.push(r.target.clone());
            let fmt = |x: f64| value_text(&self.value(x));
            match r.answer {
                Answer::Found {
                    value,
                    metric_at,
                    failed_at,
                    metric_failed,
                } => rec.extend([
                    "found".into(),
                    fmt(value),
                    format!("{metric_at}"),
                    fmt(failed_at),
                    format!("{metric_failed}"),
                ]),
                Answer::NotMet { best } => rec.extend([
                    "not met within bounds".into(),
                    String::new(),
                    format!("{best}"),
                    String::new(),
                    String::new(),
                ]),
                Answer::AlwaysMet { worst } => rec.extend([
                    "met at the worst bound".into(),
                    fmt(self.bad_bound()),
                    format!("{worst}"),
                    String::new(),
                    String::new(),
                ]),
            }
            rec.push(r.evaluations.to_string());
            let _ = w.write_record(&rec);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// The answer to four significant digits, rounded toward the side that meets the target
    /// (up when seeking the least value), so that the shown value is itself sufficient.
    pub fn shown(&self, x: f64) -> f64 {
        if x == 0.0 || !x.is_finite() {
            return x;
        }
        let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
        match self.spec.solve.goal {
            Goal::Least => (x * scale).ceil() / scale,
            Goal::Most => (x * scale).floor() / scale,
        }
    }

    fn bad_bound(&self) -> f64 {
        match self.spec.solve.goal {
            Goal::Least => self.lo,
            Goal::Most => self.hi,
        }
    }

    /// The requirement table as markdown, for the terminal.
    pub fn markdown(&self, rows: &[RequirementRow]) -> String {
        let p = &self.spec.solve.param;
        let goal = match self.spec.solve.goal {
            Goal::Least => "least",
            Goal::Most => "most",
        };
        let mut out = String::new();
        let mut head: Vec<String> = self.spec.over.iter().map(|a| a.param.clone()).collect();
        head.extend(["target".into(), format!("{goal} {p}")]);
        out.push_str(&format!(
            "| {} |\n|{}\n",
            head.join(" | "),
            " --- |".repeat(head.len())
        ));
        let (best, worst) = match self.spec.solve.goal {
            Goal::Least => (self.hi, self.lo),
            Goal::Most => (self.lo, self.hi),
        };
        for r in rows {
            let mut cells: Vec<String> = r.over.iter().map(value_text).collect();
            cells.push(r.target.clone());
            let is_rate = self
                .spec
                .targets
                .iter()
                .position(|t| *t == r.target)
                .and_then(|i| self.targets.get(i))
                .is_some_and(|t| matches!(t.metric, Metric::Pp | Metric::Tg | Metric::Pg));
            let metric = |m: f64, target: &str| -> String {
                let name = target.split(['>', '<']).next().unwrap_or_default().trim();
                if is_rate {
                    format!("{name} {} t/s", numfmt::sig(m, 4))
                } else {
                    format!("{name} {}", numfmt::duration(m))
                }
            };
            cells.push(match r.answer {
                Answer::Found { value, .. } => self.human(self.shown(value)),
                Answer::NotMet { best: m } => format!(
                    "not met within {} to {} ({} at {})",
                    self.human(self.lo),
                    self.human(self.hi),
                    metric(m, &r.target),
                    self.human(best)
                ),
                Answer::AlwaysMet { .. } => {
                    format!("≤ {} (met at the bound)", self.human(worst))
                }
            });
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }

    /// A value of the solved parameter for people: four significant digits (as [`Self::shown`]
    /// rounds), a space before the unit: `310.9 GB/s`.
    pub fn human(&self, x: f64) -> String {
        match self.kind {
            Quantity::Rate(_) => numfmt::si(x, "B/s", 4),
            Quantity::Size(_) => numfmt::si(x, "B", 4),
            Quantity::Time(_) => numfmt::si(x, "s", 4),
            Quantity::Flops(_) => numfmt::si(x, "FLOP/s", 4),
            Quantity::Plain(_, true) => numfmt::grouped(x),
            Quantity::Plain(_, false) => numfmt::sig(x, 4),
        }
    }
}
