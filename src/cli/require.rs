//! `tiersim require`: solve a requirement spec, print the table, write CSV and a curve.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::sweep::plots::requirement::requirement_svg;
use crate::sweep::require::Prepared;

/// The requirement the embedded default solves.
pub const DEFAULT_REQUIRE: &str = include_str!("../../models/sweeps/require-default.yaml");

/// Loads a requirement spec (or the default), solves it, writes `<name>.require.csv` (and, with
/// `plots`, `<name>.require.svg`) into `dir` and prints the table.
pub fn run(
    spec: Option<&Path>,
    dir: &Path,
    threads: usize,
    plots: bool,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let (text, origin) = match spec {
        Some(p) => (crate::config::load::read_spec(p)?, p.display().to_string()),
        None => (
            DEFAULT_REQUIRE.to_owned(),
            "the embedded default requirement".to_owned(),
        ),
    };
    let prepared = Prepared::load(&text, &origin)?;
    let rows = prepared.solve(threads)?;
    crate::files::create_dir(dir)?;
    let csv_path = dir.join(format!("{}.require.csv", prepared.spec.name));
    crate::files::write_atomic(&csv_path, prepared.csv(&rows).as_bytes())?;
    let mut text = format!(
        "requirement {} ({} tolerance)\n",
        prepared.spec.name, prepared.spec.solve.tolerance
    );
    text.push_str(&prepared.markdown(&rows));
    text.push_str(&format!("table: {}\n", csv_path.display()));
    if let Some(svg) = plots.then(|| requirement_svg(&prepared, &rows)).flatten() {
        let path: PathBuf = dir.join(format!("{}.require.svg", prepared.spec.name));
        crate::files::write_atomic(&path, svg.as_bytes())?;
        text.push_str(&format!("plot: {}\n", path.display()));
    }
    out.write_all(text.as_bytes()).map_err(Error::Output)
}
