//! `tiersim ceiling`: the predecessor's `kv_spill_sim.py`, byte for byte.

use std::io::Write;

use crate::cli::CeilingArgs;
use crate::error::Error;
use crate::report::numfmt::{c_g, python_float};

/// Validated options of `tiersim ceiling`.
#[derive(Debug, Clone, PartialEq)]
pub struct CeilingOptions {
    /// KV kilobytes (10^3 bytes) fetched per token.
    pub kv_kb_per_token: f64,
    /// Tier bandwidths in MB/s (10^6 bytes per second).
    pub tier_mbps: Vec<f64>,
    /// Latency of one access in milliseconds.
    pub op_lat_ms: f64,
    /// Accesses per token.
    pub ops_per_token: f64,
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
        if list.contains(&0.0) {
            return Err(Error::usage(
                "--tier-mbps",
                "contains 0; a bandwidth must be non-zero (the formula divides by it)",
            ));
        }
        Ok(Self {
            kv_kb_per_token: py_float("--kv-kb-per-token", &a.kv_kb_per_token)?,
            tier_mbps: list,
            op_lat_ms: py_float("--op-lat-ms", &a.op_lat_ms)?,
            ops_per_token: py_float("--ops-per-token", &a.ops_per_token)?,
        })
    }
}

/// The ceiling exactly as the script computes it, operation for operation, so that the printed
/// digits agree: `kv · 1000 / (mbps · 1e6) + ops · lat / 1000`, inverted.
pub fn script_tg_max(kv_kb: f64, mbps: f64, op_lat_ms: f64, ops: f64) -> f64 {
    let t = kv_kb * 1000.0 / (mbps * 1e6) + ops * op_lat_ms / 1000.0;
    if t == 0.0 { f64::INFINITY } else { 1.0 / t }
}

/// Prints what `kv_spill_sim.py` prints.
pub fn run(o: &CeilingOptions, out: &mut dyn Write) -> Result<(), Error> {
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
