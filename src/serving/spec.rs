//! The serving workload: how many requests, how they arrive, how long they are, how many run
//! together (YAML; every field reachable by `--set serve.<field>=...`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::error::ConfigError;
use crate::config::load::{self, Override, Target};
use crate::limits;
use crate::model::quant::QuantType;

/// A serving workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSpec {
    /// Requests simulated (the trace's own count when a trace is given).
    #[serde(default = "default_requests")]
    pub requests: u32,
    /// Mean arrival rate in requests per second; arrivals are Poisson. A trace with arrival
    /// times keeps them instead.
    #[serde(default = "default_rate")]
    pub arrival_rate_per_s: f64,
    /// Prompt length of each request, in tokens.
    #[serde(default = "default_prompt")]
    pub prompt_tokens: Lengths,
    /// Tokens each request generates (the first comes from its prompt step).
    #[serde(default = "default_output")]
    pub output_tokens: Lengths,
    /// A CSV trace (`prompt_tokens,output_tokens` and optionally `arrival_s`) replacing the
    /// length distributions, and the arrival process when it has times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<PathBuf>,
    /// Most requests decoding together (continuous batching: a finished request's slot is
    /// refilled at the next step).
    #[serde(default = "default_batch")]
    pub max_batch: u32,
    /// Prompt tokens a step takes over all admitted requests (llama.cpp's ubatch).
    #[serde(default = "default_ubatch")]
    pub n_ubatch: u32,
    /// Tokens one slot's KV cache holds; by default the longest request's prompt and output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_tokens: Option<u32>,
    /// KV key type.
    #[serde(default = "f16")]
    pub type_k: QuantType,
    /// KV value type.
    #[serde(default = "f16")]
    pub type_v: QuantType,
}

fn default_requests() -> u32 {
    200
}
fn default_rate() -> f64 {
    4.0
}
fn default_prompt() -> Lengths {
    Lengths::Lognormal {
        median: 512.0,
        p99: 4096.0,
    }
}
fn default_output() -> Lengths {
    Lengths::Lognormal {
        median: 200.0,
        p99: 1000.0,
    }
}
fn default_batch() -> u32 {
    16
}
fn default_ubatch() -> u32 {
    512
}
fn f16() -> QuantType {
    QuantType::F16
}

impl Default for ServeSpec {
    fn default() -> Self {
        Self {
            requests: default_requests(),
            arrival_rate_per_s: default_rate(),
            prompt_tokens: default_prompt(),
            output_tokens: default_output(),
            trace: None,
            max_batch: default_batch(),
            n_ubatch: default_ubatch(),
            slot_tokens: None,
            type_k: f16(),
            type_v: f16(),
        }
    }
}

/// A distribution of token counts; draws are rounded and at least 1. Written as a one-key map:
/// `{fixed: 128}`, `{uniform: {min: 64, max: 512}}`, `{lognormal: {median: 512, p99: 4096}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(into = "LengthsMap")]
pub enum Lengths {
    /// Always the same count.
    Fixed(u32),
    /// Uniform on `[min, max]`.
    Uniform {
        /// Shortest.
        min: u32,
        /// Longest.
        max: u32,
    },
    /// Lognormal given by its median and 99th percentile, the figures request-length studies
    /// report (capped at 100× the median so a rare draw cannot exceed any context).
    Lognormal {
        /// 50th percentile.
        median: f64,
        /// 99th percentile.
        p99: f64,
    },
}

/// How a token-count distribution is written, for serde's "expected ..." clause.
const LENGTHS_FORMS: &str = "a token count or one of {fixed: N}, {uniform: {min: N, max: N}}, {lognormal: {median: N, p99: N}}";

impl<'de> Deserialize<'de> for Lengths {
    /// A bare count is read as `{fixed: N}`, the way a user writes a constant length; a map goes
    /// through `LengthsMap` so that each form's fields are checked.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Lengths;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(LENGTHS_FORMS)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Lengths, E> {
                u32::try_from(n).map(Lengths::Fixed).map_err(|_| {
                    E::custom(format!(
                        "the token count {n} is past 4,294,967,295; expected {LENGTHS_FORMS}"
                    ))
                })
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Lengths, E> {
                u64::try_from(n)
                    .map_err(|_| {
                        E::custom(format!(
                            "the token count {n} is negative; expected {LENGTHS_FORMS}"
                        ))
                    })
                    .and_then(|n| self.visit_u64(n))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Lengths, A::Error> {
                let m = LengthsMap::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Lengths::try_from(m).map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// The one-key map form of [`Lengths`]: serde_yaml spells an externally tagged enum as a YAML
/// tag (`!fixed 128`), which neither users nor dotted-path overrides write.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "one of {fixed: N}, {uniform: …}, {lognormal: …}"
)]
struct LengthsMap {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fixed: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uniform: Option<UniformLengths>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lognormal: Option<LognormalLengths>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a map {min: N, max: N} of token counts"
)]
struct UniformLengths {
    min: u32,
    max: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a map {median: N, p99: N} of token counts"
)]
struct LognormalLengths {
    median: f64,
    p99: f64,
}

impl TryFrom<LengthsMap> for Lengths {
    type Error = String;

    fn try_from(m: LengthsMap) -> Result<Self, String> {
        match (m.fixed, m.uniform, m.lognormal) {
            (Some(n), None, None) => Ok(Lengths::Fixed(n)),
            (None, Some(u), None) => Ok(Lengths::Uniform {
                min: u.min,
                max: u.max,
            }),
            (None, None, Some(l)) => Ok(Lengths::Lognormal {
                median: l.median,
                p99: l.p99,
            }),
            _ => Err(format!("expected exactly one form: {LENGTHS_FORMS}")),
        }
    }
}

impl From<Lengths> for LengthsMap {
    fn from(l: Lengths) -> Self {
        match l {
            Lengths::Fixed(n) => Self {
                fixed: Some(n),
                ..Self::default()
            },
            Lengths::Uniform { min, max } => Self {
                uniform: Some(UniformLengths { min, max }),
                ..Self::default()
            },
            Lengths::Lognormal { median, p99 } => Self {
                lognormal: Some(LognormalLengths { median, p99 }),
                ..Self::default()
            },
        }
    }
}

/// `x` as YAML spells it, so that `.nan` typed in a spec is quoted back as `.nan`.
fn yaml_number(x: f64) -> String {
    match x {
        x if x.is_nan() => ".nan".into(),
        f64::INFINITY => ".inf".into(),
        f64::NEG_INFINITY => "-.inf".into(),
        x => crate::units::elide(&x.to_string()),
    }
}

/// z of the 99th percentile of the standard normal.
const Z99: f64 = 2.326_347_874_040_841;

impl Lengths {
    /// Checks the parameters; `field` names the distribution in messages.
    pub fn validate(&self, origin: &str, field: &str) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::invalid(origin, field, m));
        match *self {
            Lengths::Fixed(0) => bad("is 0; expected at least 1 token".into()),
            Lengths::Uniform { min, max } if min == 0 || max < min => bad(format!(
                "is uniform on [{min}, {max}]; expected 1 <= min <= max"
            )),
            Lengths::Lognormal { median, p99 }
                if !(median.is_finite() && median >= 1.0 && p99.is_finite() && p99 >= median) =>
            {
                bad(format!(
                    "is lognormal with median {} and p99 {}; expected 1 <= median <= p99",
                    yaml_number(median),
                    yaml_number(p99)
                ))
            }
            _ => Ok(()),
        }
    }

    /// A count from uniform variates `u` and `v` in (0, 1) (two, so a normal needs no state).
    pub fn draw(&self, u: f64, v: f64) -> u32 {
        match *self {
            Lengths::Fixed(n) => n,
            Lengths::Uniform { min, max } => {
                let span = f64::from(max - min) + 1.0;
                (min + (u * span).floor() as u32).min(max)
            }
            Lengths::Lognormal { median, p99 } => {
                let sigma = (p99 / median).ln() / Z99;
                // Box–Muller: one standard normal from two uniforms.
                let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                let x = (median * (sigma * z).exp()).min(100.0 * median);
                x.round().max(1.0) as u32
            }
        }
    }
}

impl ServeSpec {
    /// Loads the workload from a YAML file, or the defaults without one, applying the
    /// `serve.`-prefixed overrides among `sets`, and validates it. A relative trace path in a
    /// file is taken relative to that file.
    pub fn load(path: Option<&Path>, sets: &[Override]) -> Result<Self, ConfigError> {
        let (text, origin) = match path {
            Some(p) => (load::read_spec(p)?, p.display().to_string()),
            None => (
                serde_yaml::to_string(&Self::default()).expect("a spec serialises"),
                "serve".to_owned(),
            ),
        };
        let mut spec: Self = load::load_text(text, origin.clone(), sets, Target::Serve)?.spec;
        if let (Some(dir), Some(trace)) = (path.and_then(Path::parent), spec.trace.as_mut())
            && trace.is_relative()
        {
            *trace = dir.join(&*trace);
        }
        spec.validate(&origin)?;
        Ok(spec)
    }

    /// Checks ranges the schema cannot express.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |f: &str, m: &str| Err(ConfigError::invalid(origin, f, m));
        if self.trace.is_none() && self.requests == 0 {
            return bad("requests", "is 0; expected at least 1");
        }
        if let Err(e) = limits::REQUESTS.check(u64::from(self.requests)) {
            return bad("requests", &e.to_string());
        }
        if !(self.arrival_rate_per_s.is_finite() && self.arrival_rate_per_s > 0.0) {
            return bad(
                "arrival_rate_per_s",
                "must be a positive number of requests per second",
            );
        }
        if self.max_batch == 0 {
            return bad("max_batch", "is 0; expected at least 1");
        }
        if self.n_ubatch == 0 {
            return bad("n_ubatch", "is 0; expected at least 1");
        }
        if self.slot_tokens == Some(0) {
            return bad("slot_tokens", "is 0; expected at least 1");
        }
        self.prompt_tokens.validate(origin, "prompt_tokens")?;
        self.output_tokens.validate(origin, "output_tokens")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_draws_hit_their_median_and_p99() {
        let d = Lengths::Lognormal {
            median: 512.0,
            p99: 4096.0,
        };
        let mut rng = crate::rng::stream(3, 0);
        let mut unit = || crate::serving::unit(&mut rng);
        let mut xs: Vec<u32> = (0..20_000).map(|_| d.draw(unit(), unit())).collect();
        xs.sort_unstable();
        let q = |p: f64| f64::from(xs[(p * xs.len() as f64) as usize]);
        assert!((q(0.5) / 512.0 - 1.0).abs() < 0.05, "median {}", q(0.5));
        assert!((q(0.99) / 4096.0 - 1.0).abs() < 0.15, "p99 {}", q(0.99));
    }

    #[test]
    fn uniform_and_fixed_stay_in_range() {
        let u = Lengths::Uniform { min: 3, max: 5 };
        for x in [1e-9, 0.3, 0.5, 0.999_999] {
            assert!((3..=5).contains(&u.draw(x, 0.5)));
        }
        assert_eq!(Lengths::Fixed(7).draw(0.1, 0.9), 7);
    }

    #[test]
    fn bad_parameters_name_the_field() {
        let e = Lengths::Uniform { min: 9, max: 2 }
            .validate("serve", "prompt_tokens")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("prompt_tokens") && e.contains("min <= max"),
            "{e}"
        );
        let spec = ServeSpec {
            arrival_rate_per_s: -1.0,
            ..ServeSpec::default()
        };
        assert!(spec.validate("serve").is_err());
    }
}
