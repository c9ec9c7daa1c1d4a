//! The sweep spec (YAML) and its expansion into points: which parameters vary, over which
//! values, one axis at a time or as a full grid.

use crate::limits::{self, LimitError};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use crate::config::error::ConfigError;
use crate::config::load::Override;
use crate::model::quant::QuantType;
use crate::serving::ServeSpec;
use crate::units::Quantity;

/// A sweep: model, system, llama-bench tests, parameters to vary, repeats, seed and baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// A name for the result files and plot titles.
    #[serde(default = "default_name")]
    pub name: String,
    /// Model preset or file.
    pub model: String,
    /// System preset or file.
    pub system: String,
    /// The llama-bench tests run at every point.
    #[serde(default)]
    pub tests: TestsSpec,
    /// A serving workload run at every point instead of `tests` (one `serve` row per point:
    /// `ts` is output tokens per second, `ttft_ms` the mean TTFT, TPOT percentiles over
    /// requests); axes and `set` reach it as `serve.<field>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve: Option<ServeSpec>,
    /// Repetitions of each test per point.
    #[serde(default = "one")]
    pub repeats: u32,
    /// Seed of the whole sweep; each point draws from `(seed, point id)`.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Overrides applied at every point, by dotted path (`placement.kv.budget: 1GiB`).
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
    /// The parameters that vary.
    pub vary: Vec<Axis>,
    /// Whether to run the full grid of all axes (default: one axis at a time).
    #[serde(default)]
    pub grid: bool,
    /// What degradation is measured against.
    #[serde(default)]
    pub baseline: Baseline,
}

fn default_name() -> String {
    "sweep".into()
}
fn one() -> u32 {
    1
}
fn one_u64() -> u64 {
    1
}

/// llama-bench tests: lists as on its command line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestsSpec {
    /// Prompt lengths (pp tests).
    #[serde(default = "pp_default")]
    pub n_prompt: Vec<u32>,
    /// Generation lengths (tg tests).
    #[serde(default = "tg_default")]
    pub n_gen: Vec<u32>,
    /// Prompt and generation pairs (pg tests).
    #[serde(default)]
    pub pg: Vec<(u32, u32)>,
    /// Depths.
    #[serde(default = "zero_list")]
    pub n_depth: Vec<u32>,
    /// Logical batch sizes.
    #[serde(default = "batch_default")]
    pub n_batch: Vec<u32>,
    /// Physical batch sizes.
    #[serde(default = "ubatch_default")]
    pub n_ubatch: Vec<u32>,
    /// Sequences decoding together (the batch size of a serving step).
    #[serde(default = "one_list")]
    pub n_seq: Vec<u32>,
    /// KV key types.
    #[serde(default = "f16_list")]
    pub type_k: Vec<QuantType>,
    /// KV value types.
    #[serde(default = "f16_list")]
    pub type_v: Vec<QuantType>,
}

fn pp_default() -> Vec<u32> {
    vec![512]
}
fn tg_default() -> Vec<u32> {
    vec![128]
}
fn zero_list() -> Vec<u32> {
    vec![0]
}
fn one_list() -> Vec<u32> {
    vec![1]
}
fn batch_default() -> Vec<u32> {
    vec![2048]
}
fn ubatch_default() -> Vec<u32> {
    vec![512]
}
fn f16_list() -> Vec<QuantType> {
    vec![QuantType::F16]
}

impl Default for TestsSpec {
    fn default() -> Self {
        Self {
            n_prompt: pp_default(),
            n_gen: tg_default(),
            pg: Vec::new(),
            n_depth: zero_list(),
            n_batch: batch_default(),
            n_ubatch: ubatch_default(),
            n_seq: one_list(),
            type_k: f16_list(),
            type_v: f16_list(),
        }
    }
}

/// One varied parameter: a dotted path and its values, listed or as a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// Dotted path (`tiers.hbf.read_bw`, `tiers.1.queue_depth`), or `model` / `system` to vary
    /// the preset itself.
    pub param: String,
    /// Explicit values, with units where the parameter has one.
    #[serde(default)]
    pub values: Option<Vec<Value>>,
    /// A range of values.
    #[serde(default)]
    pub range: Option<Range>,
}

/// `from` to `to` in `steps` values, linearly or logarithmically spaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// First value, with its unit.
    pub from: Value,
    /// Last value, with its unit.
    pub to: Value,
    /// Number of values, ends included.
    pub steps: u32,
    /// Spacing.
    #[serde(default)]
    pub scale: Scale,
}

/// Spacing of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Equal differences.
    #[default]
    Linear,
    /// Equal ratios.
    Log,
}

/// The reference that degradation is measured against.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Baseline {
    /// Every weight and the whole KV cache in the fastest (first) tier, with the point's other
    /// parameters.
    #[default]
    Fastest,
    /// The point's configuration with these overrides on top.
    Set(BTreeMap<String, Value>),
    /// No baseline: degradation columns stay empty.
    None,
}

/// One point of a sweep: its id and the values of the varied parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Position in the sweep, from 0.
    pub id: u64,
    /// `(axis index, value)` for each axis set at this point, in axis order.
    pub values: Vec<(usize, Value)>,
}

/// Why a sweep spec cannot run.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct SpecError {
    /// The spec file.
    pub origin: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl From<SpecError> for ConfigError {
    fn from(e: SpecError) -> Self {
        ConfigError::Parse {
            origin: e.origin,
            message: e.message,
        }
    }
}

impl SweepSpec {
    /// The values of every axis, expanded and checked.
    pub fn axis_values(&self, origin: &str) -> Result<Vec<Vec<Value>>, SpecError> {
        let err = |message: String| SpecError {
            origin: origin.to_owned(),
            message,
        };
        if self.vary.is_empty() {
            return Err(err(
                "`vary` is empty; expected at least one parameter to vary".into(),
            ));
        }
        self.vary
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let here = format!("vary.{i} ({})", a.param);
                let too_many = |e: LimitError| err(format!("{here}: {e}"));
                match (&a.values, &a.range) {
                    (Some(v), None) if !v.is_empty() => {
                        limits::AXIS_STEPS.check(v.len() as u64).map_err(too_many)?;
                        Ok(v.clone())
                    }
                    (None, Some(r)) => {
                        limits::AXIS_STEPS
                            .check(u64::from(r.steps))
                            .map_err(too_many)?;
                        expand_range(r).map_err(|m| err(format!("{here}: {m}")))
                    }
                    (Some(_), None) => Err(err(format!(
                        "{here}: `values` is empty; expected at least one value"
                    ))),
                    _ => Err(err(format!("{here}: give either `values` or `range`"))),
                }
            })
            .collect()
    }

    /// The number of points, within [`limits::SWEEP_POINTS`] (a product of axes that would
    /// overflow is past it, never wrapped to a small number).
    pub fn n_points(axes: &[Vec<Value>], grid: bool) -> Result<u64, LimitError> {
        let lens = axes.iter().map(|v| v.len() as u64);
        if grid {
            limits::SWEEP_POINTS.product(lens)
        } else {
            limits::SWEEP_POINTS.check(lens.sum())
        }
    }

    /// Point `id`: in a grid the first axis varies slowest; one at a time, axis after axis.
    pub fn point(axes: &[Vec<Value>], grid: bool, id: u64) -> Point {
        let mut values = Vec::with_capacity(axes.len());
        if grid {
            let mut rest = id;
            for (i, vals) in axes.iter().enumerate().rev() {
                let n = vals.len() as u64;
                values.push((i, vals[(rest % n) as usize].clone()));
                rest /= n;
            }
            values.reverse();
        } else {
            let mut rest = id;
            for (i, vals) in axes.iter().enumerate() {
                let n = vals.len() as u64;
                if rest < n {
                    values.push((i, vals[rest as usize].clone()));
                    break;
                }
                rest -= n;
            }
        }
        Point { id, values }
    }

    /// The fixed overrides as `--set` overrides.
    pub fn fixed_overrides(&self) -> Result<Vec<Override>, ConfigError> {
        map_overrides(&self.set)
    }
}

/// Turns `{path: value}` into overrides, in path order.
pub fn map_overrides(map: &BTreeMap<String, Value>) -> Result<Vec<Override>, ConfigError> {
    map.iter().map(|(k, v)| value_override(k, v)).collect()
}

/// An override setting `path` to a YAML value.
pub fn value_override(path: &str, v: &Value) -> Result<Override, ConfigError> {
    Override::new(path, v.clone(), &format!("{path}={}", value_text(v)))
}

/// A value as one line of text (`800GB/s`, `16`, `{lognormal: ...}` as flow YAML).
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A YAML value as a quantity: a number, or a string with a unit.
pub fn quantity(v: &Value) -> Option<Quantity> {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(Quantity::Plain(n.as_f64()?, true)),
        // `.nan` and `.inf` are YAML numbers but no end of a range.
        Value::Number(n) => Some(Quantity::Plain(
            n.as_f64().filter(|x| x.is_finite())?,
            false,
        )),
        Value::String(s) => Quantity::parse(s),
        _ => None,
    }
}

/// A quantity as the YAML value a spec would hold.
pub fn quantity_value(q: Quantity) -> Value {
    match q {
        Quantity::Plain(x, true) => Value::Number((x as i64).into()),
        Quantity::Plain(x, false) => Value::Number(serde_yaml::Number::from(x)),
        other => Value::String(other.to_string()),
    }
}

fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

fn expand_range(r: &Range) -> Result<Vec<Value>, String> {
    let (Some(a), Some(b)) = (quantity(&r.from), quantity(&r.to)) else {
        return Err(format!(
            "`from` ({}) and `to` ({}) must be finite numbers or values with units, e.g. 50GB/s",
            crate::units::elide(&value_text(&r.from)),
            crate::units::elide(&value_text(&r.to))
        ));
    };
    if !a.same_kind(b) {
        return Err(format!(
            "`from` ({}) and `to` ({}) have different units",
            crate::units::elide(&value_text(&r.from)),
            crate::units::elide(&value_text(&r.to))
        ));
    }
    if r.steps == 0 {
        return Err("`steps` is 0; expected at least 1 value".into());
    }
    let (x0, x1) = (a.get(), b.get());
    if r.scale == Scale::Log && (x0 <= 0.0 || x1 <= 0.0) {
        return Err("a log range needs positive ends".into());
    }
    let n = r.steps;
    let mut out: Vec<Value> = Vec::with_capacity(n as usize);
    for i in 0..n {
        let t = if n == 1 {
            0.0
        } else {
            f64::from(i) / f64::from(n - 1)
        };
        let x = match r.scale {
            Scale::Linear => x0 + (x1 - x0) * t,
            Scale::Log => (x0.ln() + (x1.ln() - x0.ln()) * t).exp(),
        };
        // Interior points of a range are rounded to three significant digits so that they read
        // as a person would write them (`42.6GB/s`); the ends are kept as given.
        let x = if i == 0 || i + 1 == n {
            x
        } else {
            round_sig(x, 3)
        };
        let v = quantity_value(a.with(x));
        // Integer ranges on a log scale can round two steps to one value.
        if out.last() != Some(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes(yaml: &str) -> Vec<Vec<Value>> {
        let spec: SweepSpec = serde_yaml::from_str(yaml).unwrap();
        spec.axis_values("test").unwrap()
    }

    #[test]
    fn ranges_keep_units_and_integers() {
        let a = axes(
            "model: m\nsystem: s\nvary:\n- {param: a, range: {from: 100GB/s, to: 1.6TB/s, steps: 5, scale: log}}\n- {param: b, range: {from: 1, to: 256, steps: 9, scale: log}}\n- {param: c, values: [4us, 20us]}\n",
        );
        assert_eq!(value_text(&a[0][0]), "100GB/s");
        assert_eq!(value_text(&a[0][4]), "1.6TB/s");
        let qd: Vec<String> = a[1].iter().map(value_text).collect();
        assert_eq!(qd, ["1", "2", "4", "8", "16", "32", "64", "128", "256"]);
        assert_eq!(SweepSpec::n_points(&a, false), Ok(5 + 9 + 2));
        assert_eq!(SweepSpec::n_points(&a, true), Ok(5 * 9 * 2));
    }

    #[test]
    fn points_enumerate_grid_and_one_at_a_time() {
        let a = axes(
            "model: m\nsystem: s\nvary:\n- {param: a, values: [1, 2]}\n- {param: b, values: [x, y, z]}\n",
        );
        let p = SweepSpec::point(&a, true, 4);
        assert_eq!(p.values, vec![(0, Value::from(2)), (1, Value::from("y"))]);
        let p = SweepSpec::point(&a, false, 3);
        assert_eq!(p.values, vec![(1, Value::from("y"))]);
    }

    #[test]
    fn bad_ranges_are_refused() {
        for (yaml, needle) in [
            (
                "{param: a, range: {from: 1GB/s, to: 2us, steps: 3}}",
                "different units",
            ),
            (
                "{param: a, range: {from: 1GB/s, to: 2GB/s, steps: 0}}",
                "steps",
            ),
            ("{param: a, values: []}", "empty"),
            (
                "{param: a, range: {from: 0GB/s, to: 2GB/s, steps: 3, scale: log}}",
                "positive",
            ),
            (
                "{param: a, range: {from: fast, to: 2GB/s, steps: 3}}",
                "units",
            ),
        ] {
            let spec: SweepSpec =
                serde_yaml::from_str(&format!("model: m\nsystem: s\nvary:\n- {yaml}\n")).unwrap();
            let e = spec.axis_values("t").unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }
}
