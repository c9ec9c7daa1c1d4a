//! The fit and validation reports: every point measured against predicted, the error statistics
//! per metric (pp, tg and pg apart, since a profile can be good at one and poor at the other),
//! the fitted figures with how much the data see each, and the run-to-run jitter that bounds how
//! well any profile can do.
//!
//! Errors are signed as `predicted / measured − 1`: a positive error is an optimistic profile.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use crate::calibrate::fit::{Fit, LooMode, Param, ParamFit, round_sig};
use crate::calibrate::points::{Kind, Point};
use crate::config::system::SystemSpec;
use crate::model::spec::ModelSpec;
use crate::units::{BytesPerSec, FlopsPerSec, Seconds};

/// One point of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct PointLine {
    /// Where the row came from: file name and record or line.
    pub source: String,
    /// The test with its non-default settings (`tg32 @ d2048 ctk q8_0`).
    pub label: String,
    /// What it measures.
    pub kind: Kind,
    /// Measured rate, tokens per second.
    pub measured: f64,
    /// Measured standard deviation over the repetitions (0 when not recorded).
    pub sd: f64,
    /// The profile's rate.
    pub predicted: f64,
    /// The rate predicted by the refit that left this point out, when leave-one-out ran.
    pub loo: Option<f64>,
}

impl PointLine {
    /// The lines of `points` with their predictions (and leave-one-out predictions).
    pub fn from_points(points: &[Point], predicted: &[f64], loo: Option<&[f64]>) -> Vec<Self> {
        points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let file = Path::new(&p.row.source.origin).file_name().map_or_else(
                    || p.row.source.origin.clone(),
                    |f| f.to_string_lossy().into(),
                );
                Self {
                    source: format!("{file} {}", p.row.source.position),
                    label: p.label(),
                    kind: p.kind,
                    measured: p.measured(),
                    sd: p.row.stddev_ts,
                    predicted: predicted[i],
                    loo: loo.map(|l| l[i]),
                }
            })
            .collect()
    }

    /// `predicted / measured − 1`, in %.
    pub fn error_pct(&self) -> f64 {
        (self.predicted / self.measured - 1.0) * 100.0
    }

    /// The leave-one-out error, in %.
    pub fn loo_error_pct(&self) -> Option<f64> {
        self.loo.map(|l| (l / self.measured - 1.0) * 100.0)
    }
}

/// Error statistics of one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorStats {
    /// The metric; `None` for all points together.
    pub kind: Option<Kind>,
    /// Points.
    pub n: usize,
    /// Mean absolute percentage error.
    pub mape: f64,
    /// Median absolute percentage error.
    pub median_abs: f64,
    /// Largest absolute percentage error.
    pub max_abs: f64,
    /// Mean signed percentage error: the profile's bias.
    pub bias: f64,
    /// Leave-one-out MAPE, when it ran.
    pub loo_mape: Option<f64>,
    /// Leave-one-out median absolute error, when it ran.
    pub loo_median_abs: Option<f64>,
}

impl ErrorStats {
    /// `pp`, `tg`, `pg` or `all`.
    pub fn name(&self) -> &'static str {
        self.kind.map_or("all", Kind::name)
    }
}

/// The median of `xs` (NaN when empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        f64::NAN
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// Statistics per metric present (pp, tg, pg), then over all points.
pub fn error_stats(lines: &[PointLine]) -> Vec<ErrorStats> {
    let stats = |kind: Option<Kind>| {
        let sel: Vec<&PointLine> = lines
            .iter()
            .filter(|l| kind.is_none_or(|k| l.kind == k))
            .collect();
        if sel.is_empty() {
            return None;
        }
        let err: Vec<f64> = sel.iter().map(|l| l.error_pct()).collect();
        let abs: Vec<f64> = err.iter().map(|e| e.abs()).collect();
        let loo: Vec<f64> = sel
            .iter()
            .filter_map(|l| l.loo_error_pct())
            .filter(|e| e.is_finite())
            .map(f64::abs)
            .collect();
        Some(ErrorStats {
            kind,
            n: sel.len(),
            mape: mean(&abs),
            median_abs: median(&abs),
            max_abs: abs.iter().copied().fold(0.0, f64::max),
            bias: mean(&err),
            loo_mape: (!loo.is_empty()).then(|| mean(&loo)),
            loo_median_abs: (!loo.is_empty()).then(|| median(&loo)),
        })
    };
    Kind::ALL
        .iter()
        .filter_map(|&k| stats(Some(k)))
        .chain(stats(None))
        .collect()
}

/// One test measured more than once (in several files or sweep points).
#[derive(Debug, Clone, PartialEq)]
pub struct RepeatGroup {
    /// The test.
    pub label: String,
    /// The measured rates.
    pub rates: Vec<f64>,
    /// Their sample standard deviation over their mean.
    pub rel_sd: f64,
}

/// Run-to-run jitter of the measurements.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Jitter {
    /// Per metric: median relative sd of the repetitions within one run, and rows with a spread.
    pub within: Vec<(Kind, f64, usize)>,
    /// Median relative sd within a run over all rows with a spread.
    pub within_all: Option<f64>,
    /// Tests measured more than once.
    pub between: Vec<RepeatGroup>,
}

impl Jitter {
    /// The median relative sd between runs of one test.
    pub fn between_median(&self) -> Option<f64> {
        let v: Vec<f64> = self.between.iter().map(|g| g.rel_sd).collect();
        (!v.is_empty()).then(|| median(&v))
    }

    /// One line for a profile's evidence: the within-run and between-run figures.
    pub fn summary(&self) -> String {
        let mut s = match self.within_all {
            Some(w) => {
                let per: Vec<String> = self
                    .within
                    .iter()
                    .map(|(k, v, n)| format!("{k} {:.1} % over {n} rows", v * 100.0))
                    .collect();
                format!(
                    "relative sd of the repetitions within a run: median {:.1} % ({})",
                    w * 100.0,
                    per.join(", ")
                )
            }
            None => "no repetition spread recorded".to_owned(),
        };
        if let Some(b) = self.between_median() {
            s.push_str(&format!(
                "; the same test in separate runs: median relative sd {:.1} % over {} tests",
                b * 100.0,
                self.between.len()
            ));
        }
        s
    }
}

/// `d2(n)`: expected range of `n` normal samples in standard deviations, to turn a min–max
/// spread into an sd.
fn range_to_sd(n: usize) -> Option<f64> {
    const D2: [f64; 9] = [
        1.128, 1.693, 2.059, 2.326, 2.534, 2.704, 2.847, 2.970, 3.078,
    ];
    n.checked_sub(2).and_then(|i| D2.get(i)).copied()
}

fn rel_sd(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let (m, sd) = crate::scenario::mean_sd(xs);
    (m > 0.0).then_some(sd / m)
}

/// A row's relative spread within its run: from its samples, else its `stddev_ts`, else the
/// min and max columns of a Findings table over its `repeats`.
fn within_run(p: &Point) -> Option<f64> {
    let r = &p.row;
    if let Some(v) = rel_sd(&r.samples_ts) {
        return Some(v);
    }
    if r.stddev_ts > 0.0 && r.avg_ts > 0.0 {
        return Some(r.stddev_ts / r.avg_ts);
    }
    let get = |k: &str| r.extra.get(k).and_then(|v| v.trim().parse::<f64>().ok());
    let prefix = match p.kind {
        Kind::Pp => "pp",
        Kind::Tg => "tg",
        Kind::Pg => return None,
    };
    let (lo, hi) = (
        get(&format!("{prefix}_min_tps"))?,
        get(&format!("{prefix}_max_tps"))?,
    );
    let n = get("repeats")? as usize;
    Some((hi - lo) / range_to_sd(n)? / r.avg_ts)
}

/// The jitter of `points`' measurements.
pub fn jitter(points: &[Point]) -> Jitter {
    let mut within = Vec::new();
    let mut all = Vec::new();
    for k in Kind::ALL {
        let v: Vec<f64> = points
            .iter()
            .filter(|p| p.kind == k)
            .filter_map(within_run)
            .collect();
        if !v.is_empty() {
            within.push((k, median(&v), v.len()));
            all.extend(v);
        }
    }
    let mut groups: BTreeMap<String, (String, Vec<f64>)> = BTreeMap::new();
    for p in points {
        groups
            .entry(p.config_key())
            .or_insert_with(|| (p.label(), Vec::new()))
            .1
            .push(p.measured());
    }
    let between = groups
        .into_values()
        .filter_map(|(label, rates)| {
            rel_sd(&rates).map(|rel_sd| RepeatGroup {
                label,
                rates,
                rel_sd,
            })
        })
        .collect();
    Jitter {
        within,
        within_all: (!all.is_empty()).then(|| median(&all)),
        between,
    }
}

/// One fitted figure as the report shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamLine {
    /// The figure's name (`memory_efficiency`).
    pub name: String,
    /// The base system's value.
    pub base: String,
    /// The profile's value.
    pub fitted: String,
    /// What it means on this system (`× 51.2 GB/s = 15.4 GB/s`).
    pub effective: String,
    /// rms change of the predictions for a ±20 % change, in %.
    pub sensitivity_pct: f64,
    /// The same with the other fitted figures compensating, in %.
    pub marginal_pct: Option<f64>,
    /// `fitted`, `fitted, at bound`, `fitted, not constrained` or `kept`.
    pub status: String,
}

/// The report's lines for `fit`'s figures, with effective rates on `system`; `models` give the
/// layer counts that turn the per-layer overhead into a per-step one.
pub fn param_lines(fit: &Fit, models: &[ModelSpec]) -> Vec<ParamLine> {
    let sys = &fit.system;
    let layers: Vec<String> = models.iter().map(|m| m.n_layers.to_string()).collect();
    fit.params
        .iter()
        .map(|p: &ParamFit| {
            let effective = effective(sys, p.param, p.value, &layers);
            let carried = fit.carried.contains(&p.param);
            let status = match (p.free, p.at_bound, p.constrained()) {
                (true, _, _) if carried => format!(
                    "carried: no fitted model runs this kernel; the base's rate × the median \
                     fitted/base ratio (a model of this type with `llama-bench {}` would pin it)",
                    crate::calibrate::plan::run_for(p.param).0
                ),
                (false, _, _) => "kept (not fitted)".to_owned(),
                (true, true, _) => "fitted, at a bound".to_owned(),
                (true, false, true) => "fitted".to_owned(),
                (true, false, false) => format!(
                    "fitted, but not constrained by these rows: others stand in for it; \
                     `llama-bench {}` would pin it ({})",
                    crate::calibrate::plan::run_for(p.param).0,
                    crate::calibrate::plan::run_for(p.param).1
                ),
            };
            ParamLine {
                name: p.param.name(),
                base: p.param.format(p.base),
                fitted: p.param.format(p.value),
                effective,
                sensitivity_pct: p.sensitivity_pct,
                marginal_pct: p.marginal_pct,
                status,
            }
        })
        .collect()
}

fn effective(sys: &SystemSpec, p: Param, v: f64, layers: &[String]) -> String {
    let c = &sys.compute;
    let flops = |eff: f64| {
        format!(
            "× {} = {}",
            c.peak_flops,
            FlopsPerSec(round_sig(c.peak_flops.0 * eff))
        )
    };
    match p {
        Param::MemoryEfficiency => {
            let bw = sys.tiers[0].read_bw;
            format!(
                "× {bw} = {} ({} read bandwidth)",
                BytesPerSec(round_sig(bw.0 * v)),
                sys.tiers[0].name
            )
        }
        Param::PrefillEfficiency
        | Param::DecodeEfficiency
        | Param::AttentionEfficiency
        | Param::PromptAttentionEfficiency => flops(v),
        Param::LayerOverhead => format!("× {} layers per step", layers.join(" / ")),
        Param::StepOverhead => format!("per step: {}", Seconds(v)),
        Param::NodeOverhead => "per graph node".to_owned(),
        Param::TokenOverhead => "per token per layer of a prompt step".to_owned(),
        Param::BatchHalf => "tokens to half the many-token rate".to_owned(),
        Param::QuantizedKvAttention => "of the attention rate, KV cache quantised".to_owned(),
        Param::NoFlashAttention => "of the attention rate, flash attention off".to_owned(),
        Param::QuantizedKvPromptAttention => {
            "of the prompt attention rate, KV cache quantised".to_owned()
        }
        Param::KernelVec(_) | Param::RepackedVec => "one-token kernel".to_owned(),
        Param::KernelMat(_) | Param::RepackedMat => "many-token kernel".to_owned(),
    }
}

/// A fit or validation report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The heading.
    pub title: String,
    /// Context: files, models, base system, thread count, exclusions.
    pub context: Vec<String>,
    /// Fitted figures (a fit report), or none (a validation).
    pub params: Vec<ParamLine>,
    /// How leave-one-out was done, when it was.
    pub loo: Option<String>,
    /// The points.
    pub lines: Vec<PointLine>,
    /// Measurement jitter.
    pub jitter: Jitter,
}

impl Report {
    /// A report of `points` predicted by `fit`, with its figures and leave-one-out.
    pub fn for_fit(
        title: String,
        context: Vec<String>,
        points: &[Point],
        fit: &Fit,
        models: &[ModelSpec],
    ) -> Self {
        let loo = fit.loo.as_ref();
        Self {
            title,
            context,
            params: param_lines(fit, models),
            loo: loo.map(|l| match l.mode {
                LooMode::Group => format!(
                    "leave-one-group-out: {} refits, each without every point of one kind and \
                     depth (`tg @ d2048`), predicting those",
                    l.refits
                ),
                LooMode::Model => format!(
                    "leave-one-model-out: {} refits, each without every point of one model (a \
                     weight type counts as a model), predicting those; kernels only that model \
                     runs take the operator profile's rate times the median fitted/profile ratio",
                    l.refits
                ),
                _ => format!(
                    "leave-one-out: {} refits, each without one point, predicting it",
                    l.refits
                ),
            }),
            lines: PointLine::from_points(points, &fit.predicted, loo.map(|l| &l.predicted[..])),
            jitter: jitter(points),
        }
    }

    /// A validation report: `points` predicted by a given profile.
    pub fn for_validation(
        title: String,
        context: Vec<String>,
        points: &[Point],
        predicted: &[f64],
    ) -> Self {
        Self {
            title,
            context,
            params: Vec::new(),
            loo: None,
            lines: PointLine::from_points(points, predicted, None),
            jitter: jitter(points),
        }
    }

    /// The error statistics per metric.
    pub fn stats(&self) -> Vec<ErrorStats> {
        error_stats(&self.lines)
    }

    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "## {}\n", self.title);
        for c in &self.context {
            let _ = writeln!(s, "- {c}");
        }
        if let Some(l) = &self.loo {
            let _ = writeln!(s, "- {l}");
        }
        if !self.params.is_empty() {
            s.push_str("\n### Fitted figures\n\n");
            s.push_str(
                "| figure | base | profile | effective | ±20 % alone moves predictions by | \
                 … with the others refitted | status |\n",
            );
            s.push_str("| --- | ---: | ---: | --- | ---: | ---: | --- |\n");
            for p in &self.params {
                let marginal = p
                    .marginal_pct
                    .map_or_else(|| "-".to_owned(), |m| format!("{m:.2} %"));
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {:.2} % | {marginal} | {} |",
                    p.name, p.base, p.fitted, p.effective, p.sensitivity_pct, p.status
                );
            }
        }
        let has_loo = self.lines.iter().any(|l| l.loo.is_some());
        s.push_str("\n### Points\n\n");
        s.push_str("| # | source | test | measured t/s | ± sd | predicted t/s | error % |");
        if has_loo {
            s.push_str(" LOO t/s | LOO error % |");
        }
        s.push_str("\n| ---: | --- | --- | ---: | ---: | ---: | ---: |");
        if has_loo {
            s.push_str(" ---: | ---: |");
        }
        s.push('\n');
        for (i, l) in self.lines.iter().enumerate() {
            let _ = write!(
                s,
                "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:+.1} |",
                i + 1,
                l.source,
                l.label,
                l.measured,
                l.sd,
                l.predicted,
                l.error_pct()
            );
            if has_loo {
                match (l.loo, l.loo_error_pct()) {
                    (Some(v), Some(e)) if v.is_finite() => {
                        let _ = write!(s, " {v:.2} | {e:+.1} |");
                    }
                    _ => s.push_str(" - | - |"),
                }
            }
            s.push('\n');
        }
        s.push_str("\n### Errors per metric\n\n");
        s.push_str("| metric | points | MAPE % | median abs % | max abs % | mean signed % |");
        if has_loo {
            s.push_str(" LOO MAPE % | LOO median abs % |");
        }
        s.push_str("\n| --- | ---: | ---: | ---: | ---: | ---: |");
        if has_loo {
            s.push_str(" ---: | ---: |");
        }
        s.push('\n');
        for st in self.stats() {
            let _ = write!(
                s,
                "| {} | {} | {:.1} | {:.1} | {:.1} | {:+.1} |",
                st.name(),
                st.n,
                st.mape,
                st.median_abs,
                st.max_abs,
                st.bias
            );
            if has_loo {
                let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
                let _ = write!(s, " {} | {} |", f(st.loo_mape), f(st.loo_median_abs));
            }
            s.push('\n');
        }
        s.push_str("\n### Run-to-run jitter of the measurements\n\n");
        let _ = writeln!(s, "- {}", self.jitter.summary());
        for g in &self.jitter.between {
            let rates: Vec<String> = g.rates.iter().map(|r| format!("{r:.2}")).collect();
            let _ = writeln!(
                s,
                "- {}: {} t/s (relative sd {:.1} %)",
                g.label,
                rates.join(", "),
                g.rel_sd * 100.0
            );
        }
        s
    }

    /// Writes the Markdown report to `out`.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(self.to_markdown().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: Kind, measured: f64, predicted: f64, loo: Option<f64>) -> PointLine {
        PointLine {
            source: "f.json record 1".into(),
            label: format!("{kind}1"),
            kind,
            measured,
            sd: 0.0,
            predicted,
            loo,
        }
    }

    #[test]
    fn the_report_prints_mape_per_metric() {
        let lines = vec![
            line(Kind::Pp, 100.0, 110.0, Some(120.0)),
            line(Kind::Pp, 100.0, 96.0, Some(90.0)),
            line(Kind::Tg, 10.0, 10.5, Some(11.0)),
            line(Kind::Tg, 10.0, 9.0, Some(9.0)),
            line(Kind::Tg, 10.0, 10.0, Some(10.2)),
        ];
        let st = error_stats(&lines);
        let names: Vec<&str> = st.iter().map(ErrorStats::name).collect();
        assert_eq!(names, ["pp", "tg", "all"]);
        assert!((st[0].mape - 7.0).abs() < 1e-9);
        assert!((st[0].median_abs - 7.0).abs() < 1e-9);
        assert!((st[1].mape - 5.0).abs() < 1e-9);
        assert!((st[1].median_abs - 5.0).abs() < 1e-9);
        assert!((st[1].max_abs - 10.0).abs() < 1e-9);
        assert!((st[0].loo_mape.unwrap() - 15.0).abs() < 1e-9);
        let report = Report {
            title: "t".into(),
            context: vec!["files: f.json".into()],
            params: Vec::new(),
            loo: Some("leave-one-out".into()),
            lines,
            jitter: Jitter::default(),
        };
        let md = report.to_markdown();
        assert!(
            md.contains("| pp | 2 | 7.0 | 7.0 | 10.0 | +3.0 | 15.0 | 15.0 |"),
            "{md}"
        );
        assert!(md.contains("| tg | 3 | 5.0 | 5.0 | 10.0 | -1.7 |"), "{md}");
        assert!(
            md.contains(
                "| 1 | f.json record 1 | pp1 | 100.00 | 0.00 | 110.00 | +10.0 | 120.00 | +20.0 |"
            ),
            "{md}"
        );
    }

    #[test]
    fn medians_and_range_based_spread() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(range_to_sd(3), Some(1.693));
        assert_eq!(range_to_sd(1), None);
    }

    #[test]
    fn findings_spreads_and_repeated_tests_give_the_jitter() {
        use crate::calibrate::points;
        use crate::config::load;
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/findings_v1_cold.csv");
        let rows = points::read_files(&[path]).unwrap();
        let qwen = load::model(Some("qwen2.5-3b-instruct-q4_k_m"), &[])
            .unwrap()
            .spec;
        let sel = points::select(rows, &[qwen], None, &[]).unwrap();
        let j = jitter(&sel.points);
        // pp and tg rows all carry min/max over 3 repeats.
        assert_eq!(j.within.len(), 2);
        assert_eq!(j.within[0].2, 9);
        // pp64, pp128, pp256, tg64, tg128, tg256 were each measured at three sweep points.
        assert_eq!(j.between.len(), 6);
        assert!(j.summary().contains("separate runs"), "{}", j.summary());
    }
}
