//! Charts of a sweep CSV: rate vs each varied parameter (one line per value of the others, the
//! baseline dashed), and iso-degradation contours when two parameters vary as a grid.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::report::plot::{Axis, ContourChart, LineChart, Series, Unit, contour_svg, line_svg};
use crate::sweep::output::{Sidecar, sidecar_path};
use crate::sweep::spec::SweepSpec;
use crate::units::Quantity;

/// One CSV row, reduced to what the charts use.
struct Row {
    axes: Vec<String>,
    test: String,
    ts: f64,
    baseline: Option<f64>,
    degradation: Option<f64>,
}

fn read_rows(csv_path: &Path, n_axes: usize) -> Result<Vec<Row>, Error> {
    let io = |e: csv::Error| {
        Error::Output(std::io::Error::other(format!(
            "{}: {e}",
            csv_path.display()
        )))
    };
    let mut r = csv::Reader::from_path(csv_path).map_err(io)?;
    let h = r.headers().map_err(io)?.clone();
    let col = |name: &str| h.iter().position(|x| x == name).unwrap_or(usize::MAX);
    let (test, ts, base, deg) = (
        col("test"),
        col("ts"),
        col("baseline_ts"),
        col("degradation_pct"),
    );
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(io)?;
        let num = |i: usize| rec.get(i).and_then(|v| v.parse::<f64>().ok());
        rows.push(Row {
            axes: (0..n_axes)
                .map(|i| rec.get(1 + i).unwrap_or_default().to_owned())
                .collect(),
            test: rec.get(test).unwrap_or_default().to_owned(),
            ts: num(ts).unwrap_or(f64::NAN),
            baseline: num(base),
            degradation: num(deg),
        });
    }
    Ok(rows)
}

/// The plot unit of a parameter's values, when they are all numbers of one kind.
fn numeric_axis(values: &[&str]) -> Option<Unit> {
    let qs: Vec<Quantity> = values
        .iter()
        .filter(|v| !v.is_empty())
        .map(|v| Quantity::parse(v))
        .collect::<Option<_>>()?;
    let first = *qs.first()?;
    if !qs.iter().all(|q| q.same_kind(first)) {
        return None;
    }
    Some(unit_of(first))
}

/// The plot unit of a quantity's kind.
pub fn unit_of(q: Quantity) -> Unit {
    match q {
        Quantity::Rate(_) => Unit::BytesPerSec,
        Quantity::Size(_) => Unit::Bytes,
        Quantity::Time(_) => Unit::Seconds,
        Quantity::Flops(_) => Unit::Custom("FLOP/s".into()),
        Quantity::Plain(_, true) => Unit::Count,
        Quantity::Plain(_, false) => Unit::Ratio,
    }
}

fn value(text: &str) -> f64 {
    Quantity::parse(text).map_or(f64::NAN, Quantity::get)
}

/// A readable axis title for a dotted parameter path.
pub fn param_label(path: &str) -> String {
    let mut parts: Vec<&str> = path.split('.').collect();
    let leaf = parts.pop().unwrap_or(path);
    let what = match leaf {
        "read_bw" => "read bandwidth",
        "write_bw" => "write bandwidth",
        "latency_scale" => "latency scale (x)",
        "queue_depth" => "queue depth",
        "parallel_units" => "parallel units",
        "io_size" => "io size",
        "capacity" => "capacity",
        "budget" => "KV budget",
        other => other,
    };
    match parts.as_slice() {
        ["tiers", tier] => format!("tier {tier} {what}"),
        [] => what.to_owned(),
        more => format!("{} {what}", more.join(".")),
    }
}

fn slug(test: &str) -> String {
    test.replace(" @ ", "-").replace(['+', ' '], "-")
}

/// Writes the charts of a finished sweep next to its CSV; returns their paths.
pub fn write_sweep_plots(spec: &SweepSpec, csv: &Path, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let axes: Vec<String> = spec.vary.iter().map(|a| a.param.clone()).collect();
    let rows = read_rows(csv, axes.len())?;
    let mut tests: Vec<String> = Vec::new();
    for r in &rows {
        if !tests.contains(&r.test) {
            tests.push(r.test.clone());
        }
    }
    let subtitle = format!(
        "{} on {}, seed {}, {} repeats",
        spec.model, spec.system, spec.seed, spec.repeats
    );
    let units: Vec<Option<Unit>> = (0..axes.len())
        .map(|i| numeric_axis(&rows.iter().map(|r| r.axes[i].as_str()).collect::<Vec<_>>()))
        .collect();
    let mut written = Vec::new();
    let mut save = |name: String, svg: String| -> Result<(), Error> {
        let path = dir.join(name);
        std::fs::write(&path, svg).map_err(Error::Output)?;
        written.push(path);
        Ok(())
    };
    for test in &tests {
        let of_test: Vec<&Row> = rows.iter().filter(|r| &r.test == test).collect();
        // The x axis: in a grid, the numeric axis with the most values; one at a time, each.
        let x_axes: Vec<usize> = if spec.grid {
            let distinct = |i: usize| {
                of_test
                    .iter()
                    .map(|r| r.axes[i].as_str())
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
            };
            (0..axes.len())
                .filter(|&i| units[i].is_some())
                .max_by_key(|&i| (distinct(i), usize::MAX - i))
                .into_iter()
                .collect()
        } else {
            (0..axes.len()).filter(|&i| units[i].is_some()).collect()
        };
        for &xi in &x_axes {
            let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
            let mut order: Vec<String> = Vec::new();
            for r in of_test.iter().filter(|r| !r.axes[xi].is_empty()) {
                let label: Vec<String> = (0..axes.len())
                    .filter(|&i| i != xi && !r.axes[i].is_empty())
                    .map(|i| {
                        format!(
                            "{}={}",
                            axes[i].rsplit('.').next().unwrap_or(&axes[i]),
                            r.axes[i]
                        )
                    })
                    .collect();
                let label = if label.is_empty() {
                    "simulated".to_owned()
                } else {
                    label.join(", ")
                };
                if !series.contains_key(&label) {
                    order.push(label.clone());
                }
                series
                    .entry(label)
                    .or_default()
                    .push((value(&r.axes[xi]), r.ts));
            }
            let mut baselines: Vec<f64> = Vec::new();
            for b in of_test.iter().filter_map(|r| r.baseline) {
                if !baselines.iter().any(|x| (x - b).abs() <= 1e-3 * b.abs()) {
                    baselines.push(b);
                }
            }
            let references = baselines
                .iter()
                .map(|&b| ("baseline: everything in the first tier".to_owned(), b))
                .take(3)
                .collect();
            let chart = LineChart {
                title: format!("{} — {test} vs {}", spec.name, param_label(&axes[xi])),
                subtitle: Some(subtitle.clone()),
                x: Axis::new(param_label(&axes[xi]), units[xi].clone().expect("numeric")),
                y: Axis::new(format!("{test} rate"), Unit::TokensPerSec),
                series: order
                    .into_iter()
                    .map(|l| {
                        let mut pts = series.remove(&l).unwrap_or_default();
                        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                        Series::new(l, pts)
                    })
                    .collect(),
                references,
            };
            let suffix = if x_axes.len() > 1 {
                format!(".{}", axes[xi].replace('.', "_"))
            } else {
                String::new()
            };
            save(
                format!("{}.{}{suffix}.svg", spec.name, slug(test)),
                line_svg(&chart),
            )?;
        }
        // Iso-degradation contours when exactly two numeric parameters form the grid.
        if spec.grid && axes.len() == 2 && units.iter().all(Option::is_some) {
            let mut xs: Vec<f64> = of_test.iter().map(|r| value(&r.axes[0])).collect();
            let mut ys: Vec<f64> = of_test.iter().map(|r| value(&r.axes[1])).collect();
            for v in [&mut xs, &mut ys] {
                v.sort_by(f64::total_cmp);
                v.dedup();
            }
            let mut z = vec![vec![f64::NAN; xs.len()]; ys.len()];
            for r in &of_test {
                let (Some(ix), Some(iy)) = (
                    xs.iter().position(|&x| x == value(&r.axes[0])),
                    ys.iter().position(|&y| y == value(&r.axes[1])),
                ) else {
                    continue;
                };
                z[iy][ix] = r.degradation.unwrap_or(f64::NAN);
            }
            let chart = ContourChart {
                title: format!("{} — {test} degradation", spec.name),
                subtitle: Some(subtitle.clone()),
                x: Axis::new(param_label(&axes[0]), units[0].clone().expect("numeric")),
                y: Axis::new(param_label(&axes[1]), units[1].clone().expect("numeric")),
                xs,
                ys,
                z,
                levels: vec![1.0, 5.0, 10.0, 20.0, 50.0],
                z_label: "degradation %".into(),
            };
            save(
                format!("{}.{}.contour.svg", spec.name, slug(test)),
                contour_svg(&chart),
            )?;
        }
    }
    Ok(written)
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
    std::fs::create_dir_all(&dir).map_err(Error::Output)?;
    write_sweep_plots(&sidecar.spec, csv, &dir)
}
