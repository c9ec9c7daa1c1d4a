//! SVG plots of a sweep CSV (placeholder until the plot module lands).

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::sweep::Prepared;

/// Writes the sweep's plots next to its CSV; returns their paths.
pub fn write_sweep_plots(_p: &Prepared, _csv: &Path, _dir: &Path) -> Result<Vec<PathBuf>, Error> {
    Ok(Vec::new())
}
