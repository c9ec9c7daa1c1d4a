//! `tiersim require`: solve a requirement spec, print the table, write CSV and a curve.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::report::plot::{Axis, LineChart, Series, line_svg};
use crate::sweep::plots::{param_label, unit_of};
use crate::sweep::require::{Answer, Prepared, RequirementRow};
use crate::sweep::spec::{quantity, value_text};
use crate::units::Quantity;

/// The requirement the embedded default solves.
pub const DEFAULT_REQUIRE: &str = include_str!("../../models/sweeps/require-default.yaml");

/// Loads a requirement spec (or the default), solves it, writes `<name>.require.csv` and
/// `<name>.require.svg` into `dir` and prints the table.
pub fn run(
    spec: Option<&Path>,
    dir: &Path,
    threads: usize,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let (text, origin) = match spec {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|source| {
                crate::config::error::ConfigError::Read {
                    path: p.to_owned(),
                    source,
                }
            })?,
            p.display().to_string(),
        ),
        None => (
            DEFAULT_REQUIRE.to_owned(),
            "the embedded default requirement".to_owned(),
        ),
    };
    let prepared = Prepared::load(&text, &origin)?;
    let rows = prepared.solve(threads)?;
    std::fs::create_dir_all(dir).map_err(Error::Output)?;
    let csv_path = dir.join(format!("{}.require.csv", prepared.spec.name));
    std::fs::write(&csv_path, prepared.csv(&rows)).map_err(Error::Output)?;
    let mut text = format!(
        "requirement {} ({} tolerance)\n",
        prepared.spec.name, prepared.spec.solve.tolerance
    );
    text.push_str(&prepared.markdown(&rows));
    text.push_str(&format!("table: {}\n", csv_path.display()));
    if let Some(svg) = curve(&prepared, &rows) {
        let path: PathBuf = dir.join(format!("{}.require.svg", prepared.spec.name));
        std::fs::write(&path, svg).map_err(Error::Output)?;
        text.push_str(&format!("plot: {}\n", path.display()));
    }
    out.write_all(text.as_bytes()).map_err(Error::Output)
}

/// The answer vs the first `over` parameter, one line per target (and other combination).
fn curve(p: &Prepared, rows: &[RequirementRow]) -> Option<String> {
    let x_param = p.spec.over.first()?;
    let x_kind = rows
        .first()
        .and_then(|r| r.over.first())
        .and_then(quantity)?;
    let y_kind = quantity(&p.spec.solve.bounds.0)?;
    let mut series: Vec<Series> = Vec::new();
    for r in rows {
        let label = {
            let others: Vec<String> = p
                .spec
                .over
                .iter()
                .zip(&r.over)
                .skip(1)
                .map(|(a, v)| format!("{}={}", a.param, value_text(v)))
                .collect();
            if others.is_empty() {
                r.target.clone()
            } else {
                format!("{}, {}", r.target, others.join(", "))
            }
        };
        let x = r
            .over
            .first()
            .and_then(quantity)
            .map_or(f64::NAN, Quantity::get);
        let y = match r.answer {
            Answer::Found { value, .. } => value,
            _ => f64::NAN,
        };
        match series.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push((x, y)),
            None => series.push(Series::new(label, vec![(x, y)])),
        }
    }
    let goal = match p.spec.solve.goal {
        crate::sweep::require::Goal::Least => "least",
        crate::sweep::require::Goal::Most => "most",
    };
    Some(line_svg(&LineChart {
        title: format!(
            "{}: {goal} {} meeting each target",
            p.spec.name,
            param_label(&p.spec.solve.param)
        ),
        subtitle: Some(format!(
            "{} on {}, tolerance {}, seed {}",
            p.spec.model, p.spec.system, p.spec.solve.tolerance, p.spec.seed
        )),
        x: Axis::new(param_label(&x_param.param), unit_of(x_kind)),
        y: Axis::new(param_label(&p.spec.solve.param), unit_of(y_kind)),
        series,
        references: Vec::new(),
    }))
}
