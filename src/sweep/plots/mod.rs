//! Charts of a sweep CSV: rate vs each varied parameter (one line per value of the others, the
//! baseline dashed), iso-degradation contours when two parameters vary as a grid, and the curve
//! of a requirement.
//!
//! Every word on a chart comes from the loaded model and systems ([`labels`]): titles name the
//! rate and what it is plotted against, subtitles the model, the test, where the data live and
//! every machine of the chart; legends say `HBF, 1 µs median read`, not
//! `system=h100-hbf, latency_scale=0.25`. A latency multiplier is plotted as the median read
//! latency it gives on each point's own system, so HBF at 4 µs and an SSD at 60 µs sit where
//! they belong on one time axis. Curves that differ by system differ in line style; the other
//! parameters set the colour.

pub mod labels;
pub mod requirement;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::load;
use crate::config::system::SystemSpec;
use crate::error::Error;
use crate::report::numfmt;
use crate::report::plot::{
    Axis, ContourChart, LineChart, LineStyle, Reference, Series, Unit, contour_svg, format_value,
    line_svg,
};
use crate::sweep::output::{Sidecar, sidecar_path};
use crate::sweep::spec::SweepSpec;

use self::labels::Param;

/// One CSV row, reduced to what the charts use.
struct Row {
    axes: Vec<String>,
    test: String,
    n_prompt: Option<u32>,
    n_gen: Option<u32>,
    n_depth: Option<u32>,
    ts: f64,
    baseline: Option<f64>,
    degradation: Option<f64>,
}

fn read_rows(csv_path: &Path, n_axes: usize) -> Result<Vec<Row>, Error> {
    let io = |e: csv::Error| Error::Read(crate::files::ReadError::at(csv_path, e));
    let mut r = csv::Reader::from_path(csv_path).map_err(io)?;
    let h = r.headers().map_err(io)?.clone();
    let col = |name: &str| h.iter().position(|x| x == name).unwrap_or(usize::MAX);
    let (test, ts, base, deg) = (
        col("test"),
        col("ts"),
        col("baseline_ts"),
        col("degradation_pct"),
    );
    let (pp, tg, depth) = (col("n_prompt"), col("n_gen"), col("n_depth"));
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(io)?;
        let num = |i: usize| rec.get(i).and_then(|v| v.parse::<f64>().ok());
        let int = |i: usize| rec.get(i).and_then(|v| v.parse::<u32>().ok());
        rows.push(Row {
            axes: (0..n_axes)
                .map(|i| rec.get(1 + i).unwrap_or_default().to_owned())
                .collect(),
            test: rec.get(test).unwrap_or_default().to_owned(),
            n_prompt: int(pp),
            n_gen: int(tg),
            n_depth: int(depth),
            ts: num(ts).unwrap_or(f64::NAN),
            baseline: num(base),
            degradation: num(deg),
        });
    }
    Ok(rows)
}

/// The specs and words a sweep's charts share.
struct Context<'a> {
    spec: &'a SweepSpec,
    /// Each system the sweep runs, by the name it is given in the spec, loaded with the sweep's
    /// fixed overrides; a system that no longer loads is missing and its words fall back to
    /// the name.
    systems: BTreeMap<String, SystemSpec>,
    /// Index of the `system` axis.
    system_axis: Option<usize>,
    /// Each varied parameter in words.
    params: Vec<Param>,
    /// The model's name, or the names when the model varies.
    model: String,
}

impl<'a> Context<'a> {
    fn new(spec: &'a SweepSpec, rows: &[Row]) -> Self {
        let fixed = spec.fixed_overrides().unwrap_or_default();
        let axis_of = |name: &str| spec.vary.iter().position(|a| a.param == name);
        let system_axis = axis_of("system");
        let distinct = |i: Option<usize>, base: &str| -> Vec<String> {
            let mut names: Vec<String> = Vec::new();
            match i {
                Some(i) => {
                    for r in rows {
                        if !r.axes[i].is_empty() && !names.contains(&r.axes[i]) {
                            names.push(r.axes[i].clone());
                        }
                    }
                }
                None => names.push(base.to_owned()),
            }
            names
        };
        let names = distinct(system_axis, &spec.system);
        let systems: BTreeMap<String, SystemSpec> = names
            .iter()
            .filter_map(|n| Some((n.clone(), load::system(Some(n), &fixed).ok()?.spec)))
            .collect();
        let model_names: Vec<String> = distinct(axis_of("model"), &spec.model)
            .iter()
            .map(|n| {
                load::model(Some(n), &fixed)
                    .map_or_else(|_| n.clone(), |m| labels::model_name(&m.spec))
            })
            .collect();
        // Words that depend on the systems (tier kinds, median latencies) only when every
        // system loaded: one missing would leave its points without a place on the axis.
        let all: Vec<&SystemSpec> = if systems.len() == names.len() {
            systems.values().collect()
        } else {
            Vec::new()
        };
        let params = spec
            .vary
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let values: Vec<&str> = rows.iter().map(|r| r.axes[i].as_str()).collect();
                Param::new(&a.param, &all, &values)
            })
            .collect();
        Context {
            spec,
            systems,
            system_axis,
            params,
            model: labels::either(&model_names),
        }
    }

    /// The system a row ran on.
    fn system_of(&self, r: &Row) -> Option<&SystemSpec> {
        let name = match self.system_axis {
            Some(i) if !r.axes[i].is_empty() => &r.axes[i],
            _ => &self.spec.system,
        };
        self.systems.get(name)
    }

    fn all_systems(&self) -> Vec<&SystemSpec> {
        self.systems.values().collect()
    }

    /// The legend words of a system in this sweep: what tells it from the others.
    fn system_words(&self, name: &str) -> String {
        let Some(s) = self.systems.get(name) else {
            return name.to_owned();
        };
        if let Some(label) = &s.label {
            return label.clone();
        }
        let mine = labels::system_short(s);
        let clash = self
            .systems
            .iter()
            .any(|(n, o)| n != name && labels::system_short(o) == mine);
        if clash { name.to_owned() } else { mine }
    }

    /// Two subtitle lines: model, test and placement; machines, repeats and seed.
    fn subtitle(&self, test: &labels::TestWords) -> String {
        let systems = self.all_systems();
        let mut first = match &self.spec.serve {
            Some(s) => format!(
                "{} serving {} requests in {} slots",
                self.model,
                numfmt::grouped(f64::from(s.requests)),
                s.max_batch
            ),
            None => format!("{}, {}", self.model, test.name),
        };
        for p in labels::placements(&systems) {
            first.push_str("; ");
            first.push_str(&p);
        }
        let machines = if systems.is_empty() {
            self.spec.system.clone()
        } else {
            labels::machines(&systems)
        };
        let repeats = match self.spec.serve {
            Some(_) => String::new(),
            None => format!(
                "; {} repeat{}",
                self.spec.repeats,
                if self.spec.repeats == 1 { "" } else { "s" }
            ),
        };
        format!("{first}\n{machines}{repeats}, seed {}", self.spec.seed)
    }

    fn baseline_words(&self) -> Option<String> {
        labels::baseline_words(&self.spec.baseline, self.all_systems().first().copied())
    }
}

fn slug(test: &str) -> String {
    test.replace(" @ ", "-").replace(['+', ' '], "-")
}

/// Writes the charts of a finished sweep next to its CSV; returns their paths.
pub fn write_sweep_plots(spec: &SweepSpec, csv: &Path, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let rows = read_rows(csv, spec.vary.len())?;
    // The folder is made once the CSV has read: a failed read leaves no empty folder.
    crate::files::create_dir(dir)?;
    let ctx = Context::new(spec, &rows);
    let mut tests: Vec<String> = Vec::new();
    for r in &rows {
        if !tests.contains(&r.test) {
            tests.push(r.test.clone());
        }
    }
    let numeric: Vec<bool> = ctx.params.iter().map(|p| p.unit.is_some()).collect();
    let mut written = Vec::new();
    let mut save = |name: String, svg: String| -> Result<(), Error> {
        let path = dir.join(name);
        crate::files::write_atomic(&path, svg.as_bytes())?;
        written.push(path);
        Ok(())
    };
    for test in &tests {
        let of_test: Vec<&Row> = rows.iter().filter(|r| &r.test == test).collect();
        let first = of_test[0];
        let words = labels::test_words(test, first.n_prompt, first.n_gen, first.n_depth);
        // The x axis: in a grid, the numeric axis with the most values; one at a time, each.
        let x_axes: Vec<usize> = if spec.grid {
            let distinct = |i: usize| {
                of_test
                    .iter()
                    .map(|r| r.axes[i].as_str())
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
            };
            (0..numeric.len())
                .filter(|&i| numeric[i])
                .max_by_key(|&i| (distinct(i), usize::MAX - i))
                .into_iter()
                .collect()
        } else {
            (0..numeric.len()).filter(|&i| numeric[i]).collect()
        };
        for &xi in &x_axes {
            let chart = line_chart(&ctx, &of_test, &words, xi);
            let suffix = if x_axes.len() > 1 {
                format!(".{}", spec.vary[xi].param.replace('.', "_"))
            } else {
                String::new()
            };
            save(
                format!("{}.{}{suffix}.svg", spec.name, slug(test)),
                line_svg(&chart),
            )?;
        }
        // Iso-degradation contours when exactly two numeric parameters form the grid.
        if spec.grid
            && numeric.len() == 2
            && numeric.iter().all(|n| *n)
            && let Some(chart) = contour_chart(&ctx, &of_test, &words)
        {
            save(
                format!("{}.{}.contour.svg", spec.name, slug(test)),
                contour_svg(&chart),
            )?;
        }
    }
    Ok(written)
}

/// One curve being built: its label, style and points.
struct Curve {
    key: Vec<String>,
    label: String,
    line: usize,
    colour: usize,
    points: Vec<(f64, f64)>,
    baselines: Vec<f64>,
    missing: Vec<String>,
}

/// Rate against parameter `xi`, one curve per combination of the other parameters: line style
/// by system, colour by the rest.
fn line_chart(ctx: &Context, rows: &[&Row], words: &labels::TestWords, xi: usize) -> LineChart {
    let n = ctx.params.len();
    let others: Vec<usize> = (0..n).filter(|&i| i != xi).collect();
    let style_axis = others
        .iter()
        .copied()
        .find(|&i| matches!(ctx.spec.vary[i].param.as_str(), "system" | "model"));
    let mut curves: Vec<Curve> = Vec::new();
    let mut style_values: Vec<String> = Vec::new();
    let mut colour_keys: Vec<Vec<String>> = Vec::new();
    let x = &ctx.params[xi];
    for r in rows.iter().filter(|r| !r.axes[xi].is_empty()) {
        let key: Vec<String> = others.iter().map(|&i| r.axes[i].clone()).collect();
        let sys = ctx.system_of(r);
        let xv = x.plot_value(&r.axes[xi], sys);
        let idx = match curves.iter().position(|c| c.key == key) {
            Some(i) => i,
            None => {
                // Line style tells the kinds of tier apart (HBF solid, SSD dashed), colour the
                // rest; with nothing else varied, colour tells the systems of one kind apart.
                let style_value = match (style_axis, sys) {
                    (Some(i), Some(s)) if ctx.spec.vary[i].param == "system" => {
                        labels::system_short(s)
                    }
                    (Some(i), _) => r.axes[i].clone(),
                    (None, _) => String::new(),
                };
                let line = match style_values.iter().position(|v| *v == style_value) {
                    Some(i) => i,
                    None => {
                        style_values.push(style_value);
                        style_values.len() - 1
                    }
                };
                let mut colour_key: Vec<String> = others
                    .iter()
                    .filter(|&&i| Some(i) != style_axis)
                    .map(|&i| r.axes[i].clone())
                    .collect();
                if colour_key.is_empty()
                    && let Some(i) = style_axis
                {
                    colour_key.push(r.axes[i].clone());
                }
                let colour = match colour_keys.iter().position(|k| *k == colour_key) {
                    Some(i) => i,
                    None => {
                        colour_keys.push(colour_key);
                        colour_keys.len() - 1
                    }
                };
                let parts: Vec<String> = others
                    .iter()
                    .filter(|&&i| !r.axes[i].is_empty())
                    .map(|&i| match ctx.spec.vary[i].param.as_str() {
                        "system" => ctx.system_words(&r.axes[i]),
                        _ => ctx.params[i].value_words(&r.axes[i], sys),
                    })
                    .collect();
                curves.push(Curve {
                    key,
                    label: if parts.is_empty() {
                        "simulated".to_owned()
                    } else {
                        parts.join(", ")
                    },
                    line,
                    colour,
                    points: Vec::new(),
                    baselines: Vec::new(),
                    missing: Vec::new(),
                });
                curves.len() - 1
            }
        };
        let c = &mut curves[idx];
        c.points.push((xv, r.ts));
        if let Some(b) = r.baseline {
            c.baselines.push(b);
        }
        if !r.ts.is_finite() || !xv.is_finite() {
            c.missing.push(x.value_words(&r.axes[xi], sys));
        }
    }
    let mut notes: Vec<String> = curves
        .iter()
        .filter(|c| !c.missing.is_empty())
        .map(|c| {
            format!(
                "No result for {} at {}.",
                c.label,
                labels::either(&c.missing).replace(" or ", " and ")
            )
        })
        .collect();
    let references = references(ctx, &curves, &colour_keys, &mut notes);
    let x_unit = x.plot_unit();
    LineChart {
        title: format!("{} vs {}", words.rate, x.axis),
        subtitle: Some(ctx.subtitle(words)),
        x: Axis::new(x.axis.clone(), x_unit),
        y: Axis::new(words.rate.to_lowercase(), Unit::TokensPerSec),
        series: curves
            .into_iter()
            .map(|c| {
                let mut pts = c.points;
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                Series::new(c.label, pts)
                    .styled(c.colour, LineStyle::ALL[c.line % LineStyle::ALL.len()])
            })
            .collect(),
        references,
        gaps: Vec::new(),
        notes,
    }
}

/// The baseline lines of a chart: one grey line when every curve shares its baseline (within
/// 1 %), else one line per group of curves whose baselines agree, in their colour when the
/// group is one colour, labelled with what the group's curves have in common.
fn references(
    ctx: &Context,
    curves: &[Curve],
    colour_keys: &[Vec<String>],
    notes: &mut Vec<String>,
) -> Vec<Reference> {
    let Some(name) = ctx.baseline_words() else {
        return Vec::new();
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 0.01 * a.abs().max(b.abs());
    // (value, curves) groups in order of appearance.
    let mut groups: Vec<(f64, Vec<usize>)> = Vec::new();
    for (i, c) in curves.iter().enumerate() {
        let Some(&b) = c.baselines.first() else {
            continue;
        };
        match groups.iter_mut().find(|(v, _)| close(*v, b)) {
            Some((_, members)) => members.push(i),
            None => groups.push((b, vec![i])),
        }
    }
    let rate = |v: f64| format_value(&Unit::TokensPerSec, v);
    if groups.len() == 1 {
        let (v, _) = groups[0];
        return vec![Reference::new(format!("{name}: {}", rate(v)), v)];
    }
    // Curves of one colour that differ only in system share a baseline (the baseline drops the
    // tiers the systems differ in); a group is named by the colour words of its curves.
    let colour_words = |k: usize| -> String {
        let label = &curves
            .iter()
            .find(|c| c.colour == k)
            .map(|c| c.label.clone());
        let Some(label) = label else {
            return String::new();
        };
        // The colour part of a label is what follows the system part, when a system varies.
        match ctx.system_axis {
            Some(_) if colour_keys.len() > 1 => label
                .split_once(", ")
                .map_or(label.clone(), |(_, rest)| rest.to_owned()),
            _ => label.clone(),
        }
    };
    let mut refs: Vec<Reference> = groups
        .iter()
        .map(|(v, members)| {
            let mut colours: Vec<usize> = members.iter().map(|&i| curves[i].colour).collect();
            colours.dedup();
            let what: Vec<String> = colours.iter().map(|&k| colour_words(k)).collect();
            Reference {
                label: format!("{name}, {}: {}", what.join(", "), rate(*v)),
                value: *v,
                colour: (colours.len() == 1).then_some(colours[0]),
            }
        })
        .collect();
    refs.sort_by(|a, b| b.value.total_cmp(&a.value));
    notes.push(format!(
        "Each dashed line is the {name} of the curves it names (the same machine with everything \
         in its first tier): the baseline changes with them."
    ));
    refs
}

/// Degradation over the grid of the two parameters, with a note that states what the levels
/// leave unsaid (a field entirely beyond the levels draws no line at all).
fn contour_chart(ctx: &Context, rows: &[&Row], words: &labels::TestWords) -> Option<ContourChart> {
    let (px, py) = (&ctx.params[0], &ctx.params[1]);
    let point = |r: &Row| {
        let s = ctx.system_of(r);
        (px.plot_value(&r.axes[0], s), py.plot_value(&r.axes[1], s))
    };
    let mut xs: Vec<f64> = rows.iter().map(|r| point(r).0).collect();
    let mut ys: Vec<f64> = rows.iter().map(|r| point(r).1).collect();
    for v in [&mut xs, &mut ys] {
        v.retain(|x| x.is_finite());
        v.sort_by(f64::total_cmp);
        v.dedup();
    }
    if xs.len() < 2 || ys.len() < 2 {
        return None;
    }
    let mut z = vec![vec![f64::NAN; xs.len()]; ys.len()];
    for r in rows {
        let (x, y) = point(r);
        let (Some(ix), Some(iy)) = (
            xs.iter().position(|&v| v == x),
            ys.iter().position(|&v| v == y),
        ) else {
            continue;
        };
        z[iy][ix] = r.degradation.unwrap_or(f64::NAN);
    }
    let levels = vec![1.0, 5.0, 10.0, 20.0, 50.0];
    let base = ctx.baseline_words()?;
    let short = base.trim_end_matches(" baseline");
    let mut notes = Vec::new();
    let values = crate::report::plot::contour::finite_values(&z);
    if let (Some(lo), Some(hi)) = (
        values.iter().copied().reduce(f64::min),
        values.iter().copied().reduce(f64::max),
    ) {
        let pct = |v: f64| format!("{} %", numfmt::sig(v, 3));
        let what = words.what.clone();
        let what = what[..1].to_uppercase() + &what[1..];
        let (first, last) = (levels[0], levels[levels.len() - 1]);
        if lo > last {
            notes.push(format!(
                "{what} is more than {} below the {base} at every point ({} to {}): no level is \
                 reached.",
                pct(last),
                pct(lo),
                pct(hi)
            ));
        } else if hi < first && lo < 0.0 {
            notes.push(format!(
                "{what} is less than {} below the {base} at every point (at most {}), and up to \
                 {} faster than it where the value is negative: no level is reached.",
                pct(first),
                pct(hi.max(0.0)),
                pct(-lo)
            ));
        } else if hi < first {
            notes.push(format!(
                "{what} is less than {} below the {base} at every point ({} to {}): no level is \
                 reached.",
                pct(first),
                pct(lo),
                pct(hi)
            ));
        } else if lo < 0.0 {
            notes.push(format!(
                "Below 0 % the rate beats the {base} (by up to {}).",
                pct(-lo)
            ));
        }
    }
    Some(ContourChart {
        title: format!("{} below the {base}", words.rate),
        subtitle: Some(ctx.subtitle(words)),
        x: Axis::new(px.axis.clone(), px.plot_unit()),
        y: Axis::new(py.axis.clone(), py.plot_unit()),
        xs,
        ys,
        z,
        levels,
        z_label: format!("{} below {short} (%)", words.rate.to_lowercase()),
        notes,
    })
}

/// Plots a sweep CSV written earlier, reading the sweep's spec from its sidecar; the charts go
/// to `dir` (default: beside the CSV).
pub fn plot_csv(csv: &Path, dir: Option<&Path>) -> Result<Vec<PathBuf>, Error> {
    let side = sidecar_path(csv);
    let sidecar: Sidecar = std::fs::read_to_string(&side)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| {
            Error::usage(
                "plot",
                format!(
                    "{} has no readable sidecar {}; plot the CSV of a tiersim sweep",
                    csv.display(),
                    side.display()
                ),
            )
        })?;
    let dir = dir.map_or_else(
        || csv.parent().unwrap_or(Path::new(".")).to_owned(),
        Path::to_owned,
    );
    write_sweep_plots(&sidecar.spec, csv, &dir)
}
