//! Access-latency distributions of memory tiers, and the samplers the simulator draws from.
//!
//! A tier's `read_latency` or `write_latency` is written in YAML as a [`LatencyDist`]: a plain
//! time (`4us`) or a map with one key naming a family (`{lognormal: {median: 4us, p99: 20us}}`).
//!
//! Every family is sampled by inversion: one uniform variate pushed through the quantile
//! function. That choice is deliberate. A draw then consumes exactly one random number whatever
//! the family or parameters, so runs stay comparable when a what-if sweep changes a latency; the
//! slowest of `width` parallel accesses costs the same as one access, because the maximum of `k`
//! iid draws is `Q(U^(1/k))`; and results do not depend on a library's rejection-sampling
//! internals, which change between releases.

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_PI_2, LN_2, PI};
use std::fmt;
use std::sync::{Arc, OnceLock};

use rand::Rng;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rng::SimRng;
use crate::units::Seconds;

/// The standard normal quantile at 0.99, which ties a lognormal's p99 to its sigma.
const Z_99: f64 = 2.326_347_874_040_840_8;

/// The Euler–Mascheroni constant (`std`'s copy is not yet stable).
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Rounds up to this many are summed from exact draws; beyond it the central limit theorem is
/// accurate enough for a sum of maxima, and one draw replaces `rounds` of them.
const EXACT_ROUNDS: u64 = 16;

/// Sums of up to this many single draws are drawn term by term. Beyond, one normal variate
/// corrected for the sum's skewness (Cornish–Fisher) stands in for them when that skewness is
/// at most [`MAX_SUM_SKEW`]: its neglected terms then move the sum's p99 by under 0.05 of its
/// standard deviation.
const EXACT_TERMS: u64 = 16;

/// Sums more skewed than this (rare long stalls) are drawn term by term up to
/// [`EXACT_SKEWED_TERMS`] terms, and as an uncorrected normal variate beyond.
const MAX_SUM_SKEW: f64 = 1.0 / 3.0;

/// See [`MAX_SUM_SKEW`].
const EXACT_SKEWED_TERMS: u64 = 64;

/// A latency distribution as written in YAML (every time value carries a unit).
///
/// Deserialising also validates, so a parsed value is always usable; values built in code
/// should be checked with [`LatencyDist::validate`].
#[derive(Debug, Clone, PartialEq)]
pub enum LatencyDist {
    /// Always the same latency. Written as a plain time (`4us`) or `{fixed: 4us}`.
    Fixed(Seconds),
    /// Uniform on `[min, max]`.
    Uniform {
        /// Smallest latency.
        min: Seconds,
        /// Largest latency.
        max: Seconds,
    },
    /// A normal distribution truncated at zero (conditioned on being non-negative, not clamped,
    /// so there is no atom at zero). `mean` and `sd` are those of the normal before truncation;
    /// [`LatencyDist::mean`] reports the mean after it.
    Normal {
        /// Mean of the untruncated normal.
        mean: Seconds,
        /// Standard deviation of the untruncated normal.
        sd: Seconds,
    },
    /// Lognormal given by its median and 99th percentile, the two figures device datasheets and
    /// measurements usually report.
    Lognormal {
        /// 50th percentile.
        median: Seconds,
        /// 99th percentile.
        p99: Seconds,
    },
    /// `offset` plus an exponential with the given mean.
    Exponential {
        /// Mean of the exponential part (the whole mean is `offset + mean`).
        mean: Seconds,
        /// Fixed part added to every draw; zero when omitted.
        offset: Seconds,
    },
    /// Pareto (power-law tail): `P(X > t) = (scale / t)^shape` for `t >= scale`.
    Pareto {
        /// Smallest latency.
        scale: Seconds,
        /// Tail index; must exceed 1 so that the mean is finite (and exceed 2 for a finite
        /// variance, which [`LatencySampler::sample_rounds`] uses to stay O(1)).
        shape: f64,
    },
    /// A weighted mixture, e.g. a lognormal body plus rare retries; weights are normalised.
    Mixture(Vec<MixtureComponent>),
    /// A measured percentile table `[[p%, latency], ...]`. The quantile function is piecewise
    /// linear through `(0%, first latency)`, the given points and `(100%, last latency)`: the
    /// mass below the first percentile sits at the first latency and the mass above the last
    /// percentile at the last latency, so nothing is extrapolated beyond the measurements.
    Empirical {
        /// `(percentile in (0, 100], latency)`, percentiles increasing, latencies non-decreasing.
        percentiles: Vec<(f64, Seconds)>,
    },
}

/// One weighted branch of a [`LatencyDist::Mixture`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixtureComponent {
    /// Relative weight: positive; the weights of a mixture are divided by their sum.
    pub weight: f64,
    /// The latency of this branch.
    pub dist: LatencyDist,
}

/// Why a latency distribution is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LatencyError {
    /// A time is NaN or infinite (only possible for values built in code).
    #[error("{what} is {value} s, which is not a finite time; expected e.g. `4us`")]
    NotFinite {
        /// Which parameter.
        what: &'static str,
        /// Its value in seconds.
        value: f64,
    },
    /// A time is below zero.
    #[error("{what} ({value}) is negative; latencies must be zero or more")]
    Negative {
        /// Which parameter.
        what: &'static str,
        /// Its value.
        value: Seconds,
    },
    /// A uniform range is reversed.
    #[error("uniform min ({min}) must be at most its max ({max})")]
    UniformOrder {
        /// The given minimum.
        min: Seconds,
        /// The given maximum.
        max: Seconds,
    },
    /// A lognormal cannot have a zero median.
    #[error("lognormal median must be greater than zero; write `0s` for a zero latency")]
    LognormalZeroMedian,
    /// A lognormal's p99 is below its median.
    #[error("lognormal p99 ({p99}) must be at least its median ({median})")]
    LognormalOrder {
        /// The given median.
        median: Seconds,
        /// The given 99th percentile.
        p99: Seconds,
    },
    /// A Pareto's scale is its smallest value and must be positive.
    #[error("pareto scale must be greater than zero, as it is the smallest latency")]
    ParetoZeroScale,
    /// A Pareto's shape does not give a finite mean.
    #[error(
        "pareto shape ({shape}) must be a finite number greater than 1, or the mean latency is infinite"
    )]
    ParetoShape {
        /// The given shape.
        shape: f64,
    },
    /// A mixture has no components.
    #[error("a mixture needs at least one component, such as `{{weight: 1, dist: 4us}}`")]
    EmptyMixture,
    /// A mixture weight is zero, negative or not finite.
    #[error("mixture component [{index}] has weight {weight}; weights must be positive and finite")]
    MixtureWeight {
        /// Position of the component in the list, from 0.
        index: usize,
        /// The given weight.
        weight: f64,
    },
    /// The weights overflow when summed.
    #[error("mixture weights sum to {sum}; they must sum to a positive finite number")]
    MixtureWeightSum {
        /// The sum of the weights.
        sum: f64,
    },
    /// A mixture component is itself invalid.
    #[error("mixture component [{index}]: {source}")]
    MixtureComponent {
        /// Position of the component in the list, from 0.
        index: usize,
        /// What is wrong with it.
        source: Box<LatencyError>,
    },
    /// An empirical table has no points.
    #[error(
        "an empirical distribution needs at least one percentile, such as `[[50, 80us], [99, 300us]]`"
    )]
    EmptyEmpirical,
    /// An empirical percentile is out of range.
    #[error("empirical percentile {p} is outside (0, 100]; percentiles are given in percent")]
    PercentileRange {
        /// The given percentile.
        p: f64,
    },
    /// Empirical percentiles do not increase.
    #[error("empirical percentiles must increase, but {p} follows {prev}")]
    PercentileOrder {
        /// The earlier percentile.
        prev: f64,
        /// The percentile that does not exceed it.
        p: f64,
    },
    /// Empirical latencies decrease.
    #[error(
        "empirical latency at percentile {p} ({value}) is below the one at percentile {prev_p} ({prev}); latencies must not decrease"
    )]
    EmpiricalOrder {
        /// The earlier percentile.
        prev_p: f64,
        /// Its latency.
        prev: Seconds,
        /// The later percentile.
        p: f64,
        /// Its (smaller) latency.
        value: Seconds,
    },
}

fn check_time(what: &'static str, v: Seconds) -> Result<(), LatencyError> {
    if !v.0.is_finite() {
        Err(LatencyError::NotFinite { what, value: v.0 })
    } else if v.0 < 0.0 {
        Err(LatencyError::Negative { what, value: v })
    } else {
        Ok(())
    }
}

impl LatencyDist {
    /// A latency that never varies.
    pub fn fixed(s: Seconds) -> Self {
        Self::Fixed(s)
    }

    /// Checks that the parameters describe a proper distribution of non-negative times.
    ///
    /// # Errors
    ///
    /// The first problem found, naming the parameter, its value and what is expected.
    pub fn validate(&self) -> Result<(), LatencyError> {
        match self {
            Self::Fixed(v) => check_time("fixed latency", *v),
            Self::Uniform { min, max } => {
                check_time("uniform min", *min)?;
                check_time("uniform max", *max)?;
                if min.0 > max.0 {
                    return Err(LatencyError::UniformOrder {
                        min: *min,
                        max: *max,
                    });
                }
                Ok(())
            }
            Self::Normal { mean, sd } => {
                check_time("normal mean", *mean)?;
                check_time("normal sd", *sd)
            }
            Self::Lognormal { median, p99 } => {
                check_time("lognormal median", *median)?;
                check_time("lognormal p99", *p99)?;
                if median.0 == 0.0 {
                    return Err(LatencyError::LognormalZeroMedian);
                }
                if p99.0 < median.0 {
                    return Err(LatencyError::LognormalOrder {
                        median: *median,
                        p99: *p99,
                    });
                }
                Ok(())
            }
            Self::Exponential { mean, offset } => {
                check_time("exponential mean", *mean)?;
                check_time("exponential offset", *offset)
            }
            Self::Pareto { scale, shape } => {
                check_time("pareto scale", *scale)?;
                if scale.0 == 0.0 {
                    return Err(LatencyError::ParetoZeroScale);
                }
                if !(shape.is_finite() && *shape > 1.0) {
                    return Err(LatencyError::ParetoShape { shape: *shape });
                }
                Ok(())
            }
            Self::Mixture(components) => {
                if components.is_empty() {
                    return Err(LatencyError::EmptyMixture);
                }
                for (index, c) in components.iter().enumerate() {
                    if !(c.weight.is_finite() && c.weight > 0.0) {
                        return Err(LatencyError::MixtureWeight {
                            index,
                            weight: c.weight,
                        });
                    }
                    c.dist
                        .validate()
                        .map_err(|e| LatencyError::MixtureComponent {
                            index,
                            source: Box::new(e),
                        })?;
                }
                let sum: f64 = components.iter().map(|c| c.weight).sum();
                if !(sum.is_finite() && sum > 0.0) {
                    return Err(LatencyError::MixtureWeightSum { sum });
                }
                Ok(())
            }
            Self::Empirical { percentiles } => {
                if percentiles.is_empty() {
                    return Err(LatencyError::EmptyEmpirical);
                }
                let mut prev: Option<(f64, Seconds)> = None;
                for &(p, value) in percentiles {
                    if !(p > 0.0 && p <= 100.0) {
                        return Err(LatencyError::PercentileRange { p });
                    }
                    check_time("empirical latency", value)?;
                    if let Some((prev_p, prev_v)) = prev {
                        if p <= prev_p {
                            return Err(LatencyError::PercentileOrder { prev: prev_p, p });
                        }
                        if value.0 < prev_v.0 {
                            return Err(LatencyError::EmpiricalOrder {
                                prev_p,
                                prev: prev_v,
                                p,
                                value,
                            });
                        }
                    }
                    prev = Some((p, value));
                }
                Ok(())
            }
        }
    }

    /// The mean latency, in closed form.
    pub fn mean(&self) -> Seconds {
        Seconds(Prepared::new(self).mean())
    }

    /// The latency not exceeded with probability `p` (clamped to `[0, 1]`); `quantile(1.0)` is
    /// infinite for unbounded families. Mixtures are solved on their CDF, so each call costs
    /// tens of CDF evaluations: use a [`LatencySampler`] to draw.
    pub fn quantile(&self, p: f64) -> Seconds {
        let p = p.clamp(0.0, 1.0);
        Seconds(Prepared::new(self).quantile(p, 1.0 - p))
    }

    /// The probability that a latency is at most `t`.
    pub fn cdf(&self, t: Seconds) -> f64 {
        Prepared::new(self).cdf(t.0).0
    }

    /// The constant latency when the distribution cannot vary: a fixed value, or a degenerate
    /// case such as a uniform with `min == max`, a zero `sd`, a lognormal with `p99 == median`
    /// or a mixture whose branches are all the same constant.
    pub fn is_fixed(&self) -> Option<Seconds> {
        match Prepared::new(self) {
            Prepared::Fixed(v) => Some(Seconds(v)),
            _ => None,
        }
    }

    /// The same shape with every time multiplied by `factor` (which should be non-negative),
    /// for what-if sweeps over device speed. Weights, percentiles and Pareto shapes are kept.
    pub fn scaled(&self, factor: f64) -> LatencyDist {
        let s = |v: Seconds| v * factor;
        match self {
            Self::Fixed(v) => Self::Fixed(s(*v)),
            Self::Uniform { min, max } => Self::Uniform {
                min: s(*min),
                max: s(*max),
            },
            Self::Normal { mean, sd } => Self::Normal {
                mean: s(*mean),
                sd: s(*sd),
            },
            Self::Lognormal { median, p99 } => Self::Lognormal {
                median: s(*median),
                p99: s(*p99),
            },
            Self::Exponential { mean, offset } => Self::Exponential {
                mean: s(*mean),
                offset: s(*offset),
            },
            Self::Pareto { scale, shape } => Self::Pareto {
                scale: s(*scale),
                shape: *shape,
            },
            Self::Mixture(components) => Self::Mixture(
                components
                    .iter()
                    .map(|c| MixtureComponent {
                        weight: c.weight,
                        dist: c.dist.scaled(factor),
                    })
                    .collect(),
            ),
            Self::Empirical { percentiles } => Self::Empirical {
                percentiles: percentiles.iter().map(|&(p, v)| (p, s(v))).collect(),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// YAML shapes. Serialize is written by hand too: serde_yaml 0.9 writes derived enums as `!tag`
// values, which the one-key-map reader below would not accept back.

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UniformSpec {
    min: Seconds,
    max: Seconds,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalSpec {
    mean: Seconds,
    sd: Seconds,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LognormalSpec {
    median: Seconds,
    p99: Seconds,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExponentialSpec {
    mean: Seconds,
    #[serde(default, skip_serializing_if = "is_zero")]
    offset: Seconds,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParetoSpec {
    scale: Seconds,
    shape: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmpiricalSpec {
    percentiles: Vec<(f64, Seconds)>,
}

#[derive(Serialize)]
struct EmpiricalRef<'a> {
    percentiles: &'a [(f64, Seconds)],
}

fn is_zero(s: &Seconds) -> bool {
    s.0 == 0.0
}

const FAMILIES: &str =
    "`fixed`, `uniform`, `normal`, `lognormal`, `exponential`, `pareto`, `mixture`, `empirical`";

fn one_entry<S: Serializer, T: Serialize + ?Sized>(
    s: S,
    key: &str,
    value: &T,
) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(1))?;
    m.serialize_entry(key, value)?;
    m.end()
}

impl Serialize for LatencyDist {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Fixed(v) => v.serialize(s),
            Self::Uniform { min, max } => one_entry(
                s,
                "uniform",
                &UniformSpec {
                    min: *min,
                    max: *max,
                },
            ),
            Self::Normal { mean, sd } => one_entry(
                s,
                "normal",
                &NormalSpec {
                    mean: *mean,
                    sd: *sd,
                },
            ),
            Self::Lognormal { median, p99 } => one_entry(
                s,
                "lognormal",
                &LognormalSpec {
                    median: *median,
                    p99: *p99,
                },
            ),
            Self::Exponential { mean, offset } => one_entry(
                s,
                "exponential",
                &ExponentialSpec {
                    mean: *mean,
                    offset: *offset,
                },
            ),
            Self::Pareto { scale, shape } => one_entry(
                s,
                "pareto",
                &ParetoSpec {
                    scale: *scale,
                    shape: *shape,
                },
            ),
            Self::Mixture(components) => one_entry(s, "mixture", components),
            Self::Empirical { percentiles } => {
                one_entry(s, "empirical", &EmpiricalRef { percentiles })
            }
        }
    }
}

struct DistVisitor;

impl DistVisitor {
    /// A bare number is refused with the unit parser's own message, which names the unit that
    /// is missing and gives an example.
    fn bare_number<E: de::Error>(text: String) -> Result<LatencyDist, E> {
        Seconds::parse(&text)
            .map(LatencyDist::Fixed)
            .map_err(E::custom)
    }
}

impl<'de> Visitor<'de> for DistVisitor {
    type Value = LatencyDist;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a latency such as `4us`, or a map with one of the keys {FAMILIES}"
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<LatencyDist, E> {
        Seconds::parse(v).map(LatencyDist::Fixed).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<LatencyDist, E> {
        Self::bare_number(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<LatencyDist, E> {
        Self::bare_number(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<LatencyDist, E> {
        Self::bare_number(v.to_string())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LatencyDist, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(format!(
                "empty map; a latency distribution needs one of the keys {FAMILIES}"
            )));
        };
        let dist = match key.as_str() {
            "fixed" => LatencyDist::Fixed(map.next_value()?),
            "uniform" => {
                let UniformSpec { min, max } = map.next_value()?;
                LatencyDist::Uniform { min, max }
            }
            "normal" => {
                let NormalSpec { mean, sd } = map.next_value()?;
                LatencyDist::Normal { mean, sd }
            }
            "lognormal" => {
                let LognormalSpec { median, p99 } = map.next_value()?;
                LatencyDist::Lognormal { median, p99 }
            }
            "exponential" => {
                let ExponentialSpec { mean, offset } = map.next_value()?;
                LatencyDist::Exponential { mean, offset }
            }
            "pareto" => {
                let ParetoSpec { scale, shape } = map.next_value()?;
                LatencyDist::Pareto { scale, shape }
            }
            "mixture" => LatencyDist::Mixture(map.next_value()?),
            "empirical" => {
                let EmpiricalSpec { percentiles } = map.next_value()?;
                LatencyDist::Empirical { percentiles }
            }
            other => {
                return Err(de::Error::custom(format!(
                    "unknown latency distribution `{other}`; expected one of {FAMILIES}"
                )));
            }
        };
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "a latency distribution is a map with exactly one key, but `{key}` is followed by `{extra}`"
            )));
        }
        Ok(dist)
    }
}

impl<'de> Deserialize<'de> for LatencyDist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let dist = d.deserialize_any(DistVisitor)?;
        dist.validate().map_err(de::Error::custom)?;
        Ok(dist)
    }
}

// ---------------------------------------------------------------------------------------------
// Special functions.

/// `erfc(x)` by W. J. Cody's rational Chebyshev approximations (Math. Comp. 23, 1969; netlib
/// `specfun/calerf`), relative error below 1e-15. Kept here rather than taken from a crate
/// because the tails of the normal and lognormal need full relative precision far out, where
/// `1 - erf` would be zero.
#[allow(clippy::excessive_precision)]
fn erfc(x: f64) -> f64 {
    const A: [f64; 5] = [
        3.16112374387056560e0,
        1.13864154151050156e2,
        3.77485237685302021e2,
        3.20937758913846947e3,
        1.85777706184603153e-1,
    ];
    const B: [f64; 4] = [
        2.36012909523441209e1,
        2.44024637934444173e2,
        1.28261652607737228e3,
        2.84423683343917062e3,
    ];
    const C: [f64; 9] = [
        5.64188496988670089e-1,
        8.88314979438837594e0,
        6.61191906371416295e1,
        2.98635138197400131e2,
        8.81952221241769090e2,
        1.71204761263407058e3,
        2.05107837782607147e3,
        1.23033935479799725e3,
        2.15311535474403846e-8,
    ];
    const D: [f64; 8] = [
        1.57449261107098347e1,
        1.17693950891312499e2,
        5.37181101862009858e2,
        1.62138957456669019e3,
        3.29079923573345963e3,
        4.36261909014324716e3,
        3.43936767414372164e3,
        1.23033935480374942e3,
    ];
    const P: [f64; 6] = [
        3.05326634961232344e-1,
        3.60344899949804439e-1,
        1.25781726111229246e-1,
        1.60837851487422766e-2,
        6.58749161529837803e-4,
        1.63153871373020978e-2,
    ];
    const Q: [f64; 5] = [
        2.56852019228982242e0,
        1.87295284992346047e0,
        5.27905102951428412e-1,
        6.05183413124413191e-2,
        2.33520497626869185e-3,
    ];
    const FRAC_1_SQRT_PI: f64 = 5.6418958354775628695e-1;

    if x.is_nan() {
        return x;
    }
    let y = x.abs();
    if y <= 0.46875 {
        let z = y * y;
        let mut num = A[4] * z;
        let mut den = z;
        for i in 0..3 {
            num = (num + A[i]) * z;
            den = (den + B[i]) * z;
        }
        return 1.0 - x * (num + A[3]) / (den + B[3]);
    }
    let scaled = if y <= 4.0 {
        let mut num = C[8] * y;
        let mut den = y;
        for i in 0..7 {
            num = (num + C[i]) * y;
            den = (den + D[i]) * y;
        }
        (num + C[7]) / (den + D[7])
    } else if y < 27.3 {
        let z = 1.0 / (y * y);
        let mut num = P[5] * z;
        let mut den = z;
        for i in 0..4 {
            num = (num + P[i]) * z;
            den = (den + Q[i]) * z;
        }
        (FRAC_1_SQRT_PI - z * (num + P[4]) / (den + Q[4])) / y
    } else {
        // erfc underflows to zero here.
        return if x > 0.0 { 0.0 } else { 2.0 };
    };
    // exp(-y²) split so that the rounding of y² is not amplified by the exponential.
    let ysq = (y * 16.0).trunc() / 16.0;
    let del = (y - ysq) * (y + ysq);
    let r = (-ysq * ysq).exp() * (-del).exp() * scaled;
    if x < 0.0 { 2.0 - r } else { r }
}

/// `(P(Z <= z), P(Z > z))` for a standard normal `Z`: the smaller from `erfc`, so both tails
/// keep full relative precision, and the larger as its complement.
fn norm_cdf_sf(z: f64) -> (f64, f64) {
    if z < 0.0 {
        let c = 0.5 * erfc(-z * FRAC_1_SQRT_2);
        (c, 1.0 - c)
    } else {
        let s = 0.5 * erfc(z * FRAC_1_SQRT_2);
        (1.0 - s, s)
    }
}

/// `P(Z <= z)` for a standard normal `Z`.
fn norm_cdf(z: f64) -> f64 {
    0.5 * erfc(-z * FRAC_1_SQRT_2)
}

/// Evaluates `c[0] + c[1] x + ... + c[7] x^7` by Estrin's scheme: half the dependency chain
/// of Horner's rule, which matters in the sampling hot path. AS241's coefficients and
/// arguments are all positive, so the summation order costs no accuracy.
#[inline(always)]
fn poly7(c: &[f64; 8], x: f64) -> f64 {
    let x2 = x * x;
    let x4 = x2 * x2;
    let p01 = c[0] + c[1] * x;
    let p23 = c[2] + c[3] * x;
    let p45 = c[4] + c[5] * x;
    let p67 = c[6] + c[7] * x;
    (p01 + p23 * x2) + (p45 + p67 * x2) * x4
}

// Wichura's AS241 (PPND16) coefficients, lowest order first.
#[allow(clippy::excessive_precision)]
const AS241_A: [f64; 8] = [
    3.3871328727963666080e0,
    1.3314166789178437745e2,
    1.9715909503065514427e3,
    1.3731693765509461125e4,
    4.5921953931549871457e4,
    6.7265770927008700853e4,
    3.3430575583588128105e4,
    2.5090809287301226727e3,
];
#[allow(clippy::excessive_precision)]
const AS241_B: [f64; 8] = [
    1.0,
    4.2313330701600911252e1,
    6.8718700749205790830e2,
    5.3941960214247511077e3,
    2.1213794301586595867e4,
    3.9307895800092710610e4,
    2.8729085735721942674e4,
    5.2264952788528545610e3,
];
#[allow(clippy::excessive_precision)]
const AS241_C: [f64; 8] = [
    1.42343711074968357734e0,
    4.63033784615654529590e0,
    5.76949722146069140550e0,
    3.64784832476320460504e0,
    1.27045825245236838258e0,
    2.41780725177450611770e-1,
    2.27238449892691845833e-2,
    7.74545014278341407640e-4,
];
#[allow(clippy::excessive_precision)]
const AS241_D: [f64; 8] = [
    1.0,
    2.05319162663775882187e0,
    1.67638483018380384940e0,
    6.89767334985100004550e-1,
    1.48103976427480074590e-1,
    1.51986665636164571966e-2,
    5.47593808499534494600e-4,
    1.05075007164441684324e-9,
];
#[allow(clippy::excessive_precision)]
const AS241_E: [f64; 8] = [
    6.65790464350110377720e0,
    5.46378491116411436990e0,
    1.78482653991729133580e0,
    2.96560571828504891230e-1,
    2.65321895265761230930e-2,
    1.24266094738807843860e-3,
    2.71155556874348757815e-5,
    2.01033439929228813265e-7,
];
#[allow(clippy::excessive_precision)]
const AS241_F: [f64; 8] = [
    1.0,
    5.99832206555887937690e-1,
    1.36929880922735805310e-1,
    1.48753612908506148525e-2,
    7.86869131145613259100e-4,
    1.84631831751005468180e-5,
    1.42151175831644588870e-7,
    2.04426310338993978564e-15,
];

/// The standard normal quantile by Wichura's AS241 (PPND16, relative error about 1e-16).
///
/// Takes both `p` and `q = 1 - p` and works from the smaller, so a caller that knows a tiny
/// upper-tail probability exactly (the maximum of many draws) does not lose it to `1 - p`.
#[inline]
fn ndtri(p: f64, q: f64) -> f64 {
    if p.is_nan() || q.is_nan() {
        return f64::NAN;
    }
    let dev = if p <= q { p - 0.5 } else { 0.5 - q };
    if dev.abs() <= 0.425 {
        let r = 0.180625 - dev * dev;
        return dev * poly7(&AS241_A, r) / poly7(&AS241_B, r);
    }
    let lower = p <= q;
    let tail = if lower { p } else { q };
    if tail <= 0.0 {
        return if lower {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let z = ndtri_tail(tail.ln());
    if lower { -z } else { z }
}

/// `|z|` for a tail probability `e^ln_tail <= 0.075` (AS241's tail branches), taking the
/// logarithm so that callers who have it need not exponentiate and take it again.
#[inline]
fn ndtri_tail(ln_tail: f64) -> f64 {
    let r = (-ln_tail).sqrt();
    if r <= 5.0 {
        let r = r - 1.6;
        poly7(&AS241_C, r) / poly7(&AS241_D, r)
    } else {
        let r = r - 5.0;
        poly7(&AS241_E, r) / poly7(&AS241_F, r)
    }
}

/// Above this `ln p` (so `q <= 0.075`) the upper tail is reached through `ln q` alone.
const LN_P_TAIL: f64 = -0.077_961_541_469_711_8;

/// `ln(1 - e^l)` for `LN_P_TAIL <= l < 0` as `ln(-l) + ln((1 - e^l) / -l)`, the second term by
/// its series (truncation below 2e-16): one logarithm instead of `expm1` and a logarithm on
/// the sampling hot path.
#[inline]
fn ln_q_near_one(l: f64) -> f64 {
    let l2 = l * l;
    (-l).ln() + l * 0.5 + l2 * (1.0 / 24.0 + l2 * (-1.0 / 2880.0 + l2 * (1.0 / 181_440.0)))
}

/// A uniform variate in the open interval (0, 1) from one `u64`.
///
/// 52 bits keep both `u` and `1 - u` exact (and never 0 or 1), so either tail can be used
/// without rounding; the smallest tail probability is 2^-53.
#[inline]
fn open01(rng: &mut SimRng) -> f64 {
    // Through i64 (the 52 bits fit): one instruction where u64 takes several.
    ((rng.next_u64() >> 12) as i64 as f64 + 0.5) * (1.0 / 4_503_599_627_370_496.0)
}

// ---------------------------------------------------------------------------------------------
// Prepared distributions: the parameters each family's formulas need, computed once.

/// A distribution with its derived parameters; degenerate cases are folded into `Fixed`.
#[derive(Debug, Clone)]
enum Prepared {
    Fixed(f64),
    Uniform {
        min: f64,
        max: f64,
        span: f64,
    },
    /// `cut = Φ(-mu/sigma)` is the mass truncation removes, `kept = 1 - cut` computed directly.
    Normal {
        mu: f64,
        sigma: f64,
        cut: f64,
        kept: f64,
        ln_kept: f64,
    },
    Lognormal {
        mu: f64,
        sigma: f64,
    },
    Exponential {
        offset: f64,
        mean: f64,
    },
    Pareto {
        scale: f64,
        shape: f64,
        inv_shape: f64,
    },
    /// Knots of the piecewise-linear quantile function, probabilities from 0 to 1.
    Empirical {
        ps: Vec<f64>,
        vs: Vec<f64>,
    },
    /// Weights normalised to sum to one.
    Mixture {
        weights: Vec<f64>,
        parts: Vec<Prepared>,
    },
}

impl Prepared {
    /// Tolerates invalid input (producing NaNs rather than panicking); callers validate.
    fn new(d: &LatencyDist) -> Self {
        match d {
            LatencyDist::Fixed(v) => Self::Fixed(v.0),
            LatencyDist::Uniform { min, max } => {
                if max.0 > min.0 {
                    Self::Uniform {
                        min: min.0,
                        max: max.0,
                        span: max.0 - min.0,
                    }
                } else {
                    Self::Fixed(min.0)
                }
            }
            LatencyDist::Normal { mean, sd } => {
                if sd.0 > 0.0 {
                    let a = mean.0 / sd.0;
                    let kept = norm_cdf(a);
                    Self::Normal {
                        mu: mean.0,
                        sigma: sd.0,
                        cut: norm_cdf(-a),
                        kept,
                        ln_kept: kept.ln(),
                    }
                } else {
                    Self::Fixed(mean.0)
                }
            }
            LatencyDist::Lognormal { median, p99 } => {
                let sigma = (p99.0 / median.0).ln() / Z_99;
                if sigma > 0.0 && median.0 > 0.0 {
                    Self::Lognormal {
                        mu: median.0.ln(),
                        sigma,
                    }
                } else {
                    Self::Fixed(median.0)
                }
            }
            LatencyDist::Exponential { mean, offset } => {
                if mean.0 > 0.0 {
                    Self::Exponential {
                        offset: offset.0,
                        mean: mean.0,
                    }
                } else {
                    Self::Fixed(offset.0)
                }
            }
            LatencyDist::Pareto { scale, shape } => Self::Pareto {
                scale: scale.0,
                shape: *shape,
                inv_shape: 1.0 / shape,
            },
            LatencyDist::Empirical { percentiles } => {
                let (Some(first), Some(last)) = (percentiles.first(), percentiles.last()) else {
                    return Self::Fixed(f64::NAN);
                };
                let mut ps = vec![0.0];
                let mut vs = vec![first.1.0];
                for &(p, v) in percentiles {
                    ps.push(p / 100.0);
                    vs.push(v.0);
                }
                if last.0 < 100.0 {
                    ps.push(1.0);
                    vs.push(last.1.0);
                }
                if first.1.0 == last.1.0 {
                    Self::Fixed(first.1.0)
                } else {
                    Self::Empirical { ps, vs }
                }
            }
            LatencyDist::Mixture(components) => {
                let total: f64 = components.iter().map(|c| c.weight).sum();
                let weights: Vec<f64> = components.iter().map(|c| c.weight / total).collect();
                let mut parts: Vec<Prepared> =
                    components.iter().map(|c| Prepared::new(&c.dist)).collect();
                if parts.len() == 1 {
                    return parts.remove(0);
                }
                let constant = match parts.first() {
                    Some(Self::Fixed(v)) => Some(*v),
                    _ => None,
                };
                if let Some(v) = constant
                    && parts.iter().all(|p| matches!(p, Self::Fixed(w) if *w == v))
                {
                    return Self::Fixed(v);
                }
                if parts.is_empty() {
                    return Self::Fixed(f64::NAN);
                }
                Self::Mixture { weights, parts }
            }
        }
    }

    /// The quantile at `p`, given also `q = 1 - p` exactly so that far upper tails keep their
    /// precision.
    #[inline]
    fn quantile(&self, p: f64, q: f64) -> f64 {
        match *self {
            Self::Fixed(v) => v,
            Self::Uniform { min, max, span } => {
                if p <= q {
                    min + span * p
                } else {
                    max - span * q
                }
            }
            Self::Normal {
                mu,
                sigma,
                cut,
                kept,
                ..
            } => {
                let z = if p <= q {
                    let pp = cut + p * kept;
                    ndtri(pp, 1.0 - pp)
                } else {
                    let qq = q * kept;
                    ndtri(1.0 - qq, qq)
                };
                (mu + sigma * z).max(0.0)
            }
            Self::Lognormal { mu, sigma } => (mu + sigma * ndtri(p, q)).exp(),
            Self::Exponential { offset, mean } => offset + mean * neg_ln_q(p, q),
            Self::Pareto {
                scale, inv_shape, ..
            } => scale * (inv_shape * neg_ln_q(p, q)).exp(),
            Self::Empirical { ref ps, ref vs } => empirical_quantile(ps, vs, p),
            Self::Mixture { .. } => self.mixture_quantile(p, q),
        }
    }

    /// The quantile at `p = e^l`. In the upper tail the families whose quantile depends on
    /// `ln q` alone get it without forming `q`: this is the maximum-of-width hot path.
    #[inline]
    fn quantile_at_ln_p(&self, l: f64) -> f64 {
        if l >= LN_P_TAIL {
            match *self {
                Self::Lognormal { mu, sigma } => {
                    return (mu + sigma * ndtri_tail(ln_q_near_one(l))).exp();
                }
                Self::Normal {
                    mu, sigma, ln_kept, ..
                } => {
                    return (mu + sigma * ndtri_tail(ln_q_near_one(l) + ln_kept)).max(0.0);
                }
                Self::Exponential { offset, mean } => return offset - mean * ln_q_near_one(l),
                Self::Pareto {
                    scale, inv_shape, ..
                } => return scale * (-inv_shape * ln_q_near_one(l)).exp(),
                _ => {}
            }
        }
        let q = -l.exp_m1();
        let p = if q > 0.5 { l.exp() } else { 1.0 - q };
        self.quantile(p, q)
    }

    /// `(P(X <= x), P(X > x))`, each computed directly so that both tails are precise.
    fn cdf(&self, x: f64) -> (f64, f64) {
        match *self {
            Self::Fixed(v) => {
                if x >= v {
                    (1.0, 0.0)
                } else {
                    (0.0, 1.0)
                }
            }
            Self::Uniform { min, max, span } => {
                if x < min {
                    (0.0, 1.0)
                } else if x >= max {
                    (1.0, 0.0)
                } else {
                    ((x - min) / span, (max - x) / span)
                }
            }
            Self::Normal {
                mu,
                sigma,
                cut,
                kept,
                ..
            } => {
                if x < 0.0 {
                    (0.0, 1.0)
                } else {
                    let (f, s) = norm_cdf_sf((x - mu) / sigma);
                    (((f - cut) / kept).max(0.0), (s / kept).min(1.0))
                }
            }
            Self::Lognormal { mu, sigma } => {
                if x <= 0.0 {
                    (0.0, 1.0)
                } else {
                    norm_cdf_sf((x.ln() - mu) / sigma)
                }
            }
            Self::Exponential { offset, mean } => {
                if x < offset {
                    (0.0, 1.0)
                } else {
                    let y = (x - offset) / mean;
                    (-(-y).exp_m1(), (-y).exp())
                }
            }
            Self::Pareto { scale, shape, .. } => {
                if x < scale {
                    (0.0, 1.0)
                } else {
                    let l = shape * (scale / x).ln();
                    (-l.exp_m1(), l.exp())
                }
            }
            Self::Empirical { ref ps, ref vs } => {
                let last = vs.len() - 1;
                if x < vs[0] {
                    (0.0, 1.0)
                } else if x >= vs[last] {
                    (1.0, 0.0)
                } else {
                    // The last knot at or below x; the next one is above it.
                    let j = vs.partition_point(|&v| v <= x) - 1;
                    let frac = (x - vs[j]) / (vs[j + 1] - vs[j]);
                    let rest = (vs[j + 1] - x) / (vs[j + 1] - vs[j]);
                    let dp = ps[j + 1] - ps[j];
                    (ps[j] + frac * dp, (1.0 - ps[j + 1]) + rest * dp)
                }
            }
            Self::Mixture {
                ref weights,
                ref parts,
            } => weights
                .iter()
                .zip(parts)
                .fold((0.0, 0.0), |(f, s), (w, part)| {
                    let (pf, ps) = part.cdf(x);
                    (f + w * pf, s + w * ps)
                }),
        }
    }

    /// `P(X < x)`: differs from the CDF only at atoms, which bound the mixture's pieces.
    fn cdf_left(&self, x: f64) -> f64 {
        match *self {
            Self::Fixed(v) => {
                if x > v {
                    1.0
                } else {
                    0.0
                }
            }
            Self::Empirical { ref ps, ref vs } => {
                let last = vs.len() - 1;
                if x <= vs[0] {
                    0.0
                } else if x > vs[last] {
                    1.0
                } else {
                    // The first knot at or above x; the one before is below it.
                    let i = vs.partition_point(|&v| v < x);
                    ps[i - 1] + (x - vs[i - 1]) / (vs[i] - vs[i - 1]) * (ps[i] - ps[i - 1])
                }
            }
            Self::Mixture {
                ref weights,
                ref parts,
            } => weights
                .iter()
                .zip(parts)
                .map(|(w, part)| w * part.cdf_left(x))
                .sum(),
            _ => self.cdf(x).0,
        }
    }

    /// The smallest and largest possible latency.
    fn support(&self) -> (f64, f64) {
        match *self {
            Self::Fixed(v) => (v, v),
            Self::Uniform { min, max, .. } => (min, max),
            Self::Normal { .. } | Self::Lognormal { .. } => (0.0, f64::INFINITY),
            Self::Exponential { offset, .. } => (offset, f64::INFINITY),
            Self::Pareto { scale, .. } => (scale, f64::INFINITY),
            Self::Empirical { ref vs, .. } => (vs[0], vs[vs.len() - 1]),
            Self::Mixture { ref parts, .. } => {
                parts
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), part| {
                        let (a, b) = part.support();
                        (lo.min(a), hi.max(b))
                    })
            }
        }
    }

    fn mean(&self) -> f64 {
        match *self {
            Self::Fixed(v) => v,
            Self::Uniform { min, max, .. } => 0.5 * (min + max),
            Self::Normal {
                mu, sigma, kept, ..
            } => {
                // The density at the truncation point, -mu/sigma, over the mass kept.
                let a = mu / sigma;
                mu + sigma * (-0.5 * a * a).exp() / (2.0 * PI).sqrt() / kept
            }
            Self::Lognormal { mu, sigma } => (mu + 0.5 * sigma * sigma).exp(),
            Self::Exponential { offset, mean } => offset + mean,
            Self::Pareto { scale, shape, .. } => scale * shape / (shape - 1.0),
            Self::Empirical { ref ps, ref vs } => ps
                .windows(2)
                .zip(vs.windows(2))
                .map(|(p, v)| (p[1] - p[0]) * 0.5 * (v[0] + v[1]))
                .sum(),
            Self::Mixture {
                ref weights,
                ref parts,
            } => weights.iter().zip(parts).map(|(w, p)| w * p.mean()).sum(),
        }
    }

    fn finite_variance(&self) -> bool {
        match self {
            Self::Pareto { shape, .. } => *shape > 2.0,
            Self::Mixture { parts, .. } => parts.iter().all(Self::finite_variance),
            _ => true,
        }
    }

    fn finite_third_moment(&self) -> bool {
        match self {
            Self::Pareto { shape, .. } => *shape > 3.0,
            Self::Mixture { parts, .. } => parts.iter().all(Self::finite_third_moment),
            _ => true,
        }
    }

    /// Latencies where the quantile function may jump or bend: atoms, support ends and
    /// empirical knots. Integrating between them keeps every piece smooth.
    fn special_points(&self, out: &mut Vec<f64>) {
        match self {
            Self::Fixed(v) => out.push(*v),
            Self::Uniform { min, max, .. } => out.extend([*min, *max]),
            Self::Normal { .. } | Self::Lognormal { .. } => {}
            Self::Exponential { offset, .. } => out.push(*offset),
            Self::Pareto { scale, .. } => out.push(*scale),
            Self::Empirical { vs, .. } => out.extend_from_slice(vs),
            Self::Mixture { parts, .. } => parts.iter().for_each(|p| p.special_points(out)),
        }
    }

    /// The mixture quantile, solved on the CDF.
    fn mixture_quantile(&self, p: f64, q: f64) -> f64 {
        self.quantile_within(p, q, f64::NEG_INFINITY, f64::INFINITY)
    }

    /// The quantile, given latencies known to bracket it (the quantiles at neighbouring
    /// probabilities, when tabulating). Only mixtures need the hint: they are solved on the
    /// CDF, within the bracket the components' own quantiles give (a mixture's p-quantile lies
    /// between the smallest and largest of theirs) narrowed by the hint.
    fn quantile_within(&self, p: f64, q: f64, lo_hint: f64, hi_hint: f64) -> f64 {
        let Self::Mixture { parts, .. } = self else {
            return self.quantile(p, q);
        };
        if p.is_nan() || q.is_nan() {
            return f64::NAN;
        }
        if p <= 0.0 {
            return self.support().0;
        }
        if q <= 0.0 {
            return self.support().1;
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for part in parts {
            let x = part.quantile(p, q);
            lo = lo.min(x);
            hi = hi.max(x);
        }
        lo = lo.max(lo_hint);
        hi = hi.min(hi_hint);
        if lo >= hi {
            return hi;
        }
        // g(x) >= 0 exactly when F(x) >= p. The upper tail is compared on P(X > x) so that a
        // tiny q is not lost to rounding, and on logarithms, in which lognormal-like tails are
        // nearly quadratic and the secant steps below converge quickly.
        let upper = q < p;
        let target = if upper { q.ln() } else { p.ln() };
        let g = |x: f64| {
            let (f, s) = self.cdf(x);
            if upper {
                target - s.ln()
            } else {
                f.ln() - target
            }
        };
        let mut g_lo = g(lo);
        if g_lo >= 0.0 {
            return lo;
        }
        let mut g_hi = g(hi);
        if g_hi < 0.0 {
            return hi;
        }
        // Steps are taken in ln(x) when the bracket is positive, as latencies span decades.
        let log_space = lo > 0.0;
        let to_s = |x: f64| if log_space { x.ln() } else { x };
        let (mut s_lo, mut s_hi) = (to_s(lo), to_s(hi));
        // Illinois regula falsi. A bisection replaces the step whenever three steps have not
        // halved the bracket, so that jumps and flat stretches of the CDF (atoms, gaps between
        // components) cannot stall it; and no step lands within `tol / 2` of an end, so that an
        // end that has converged is confirmed from the other side instead of crept up on.
        let mut last_side = 0i8;
        let mut width_mark = hi - lo;
        for iter in 0..200 {
            let tol = 4.0 * f64::EPSILON * hi.abs();
            if hi - lo <= tol {
                break;
            }
            let mut s = s_hi - g_hi * (s_hi - s_lo) / (g_hi - g_lo);
            // A step onto an end is kept, to be moved `tol / 2` inside below.
            let mut bisect = !(s >= s_lo && s <= s_hi);
            if iter % 3 == 2 {
                bisect |= hi - lo > 0.5 * width_mark;
                width_mark = hi - lo;
            }
            if bisect {
                s = 0.5 * (s_lo + s_hi);
            }
            let mut x = if log_space { s.exp() } else { s };
            let margin = 0.5 * tol;
            if !(x > lo + margin && x < hi - margin) {
                x = x.clamp(lo + margin, hi - margin);
                s = to_s(x);
            }
            if !(x > lo && x < hi) {
                break;
            }
            let gx = g(x);
            if gx == 0.0 {
                return x;
            }
            if gx > 0.0 {
                (hi, s_hi, g_hi) = (x, s, gx);
                if last_side == 1 {
                    g_lo *= 0.5;
                }
                last_side = 1;
            } else {
                (lo, s_lo, g_lo) = (x, s, gx);
                if last_side == -1 {
                    g_hi *= 0.5;
                }
                last_side = -1;
            }
        }
        hi
    }
}

/// `-ln(q)`, taken from `p` when `p` is the smaller so that small quantiles stay precise.
#[inline]
fn neg_ln_q(p: f64, q: f64) -> f64 {
    if p <= q { -(-p).ln_1p() } else { -q.ln() }
}

#[inline]
fn empirical_quantile(ps: &[f64], vs: &[f64], p: f64) -> f64 {
    let i = ps.partition_point(|&x| x < p);
    if i == 0 {
        return vs[0];
    }
    if i >= ps.len() {
        return vs[vs.len() - 1];
    }
    if ps[i] == p {
        // Exactly at a knot: return the measured value itself, not an interpolation of it.
        return vs[i];
    }
    let f = (p - ps[i - 1]) / (ps[i] - ps[i - 1]);
    vs[i - 1] + f * (vs[i] - vs[i - 1])
}

// ---------------------------------------------------------------------------------------------
// Moments of the maximum of k iid draws.

/// `H_k = 1 + 1/2 + ... + 1/k`.
fn harmonic(k: u32) -> f64 {
    if k <= 4096 {
        (1..=k).rev().map(|j| 1.0 / f64::from(j)).sum()
    } else {
        let n = f64::from(k);
        let n2 = n * n;
        n.ln() + EULER_GAMMA + 0.5 / n - 1.0 / (12.0 * n2) + 1.0 / (120.0 * n2 * n2)
    }
}

/// `1 + 1/4 + ... + 1/k²`.
fn harmonic2(k: u32) -> f64 {
    if k <= 4096 {
        (1..=k)
            .rev()
            .map(|j| 1.0 / (f64::from(j) * f64::from(j)))
            .sum()
    } else {
        let n = f64::from(k);
        PI * PI / 6.0 - zeta2_tail(n)
    }
}

/// `sum_{j > n} 1/j²` (Euler–Maclaurin).
fn zeta2_tail(n: f64) -> f64 {
    1.0 / n - 0.5 / (n * n) + 1.0 / (6.0 * n * n * n)
}

/// `prod_{j=1..k} j / (j - a)`: the `m`-th moment of the maximum of `k` Pareto draws is
/// `scale^m` times this with `a = m / shape` (it is `k B(k, 1 - a)`).
fn pareto_factor(a: f64, k: u32) -> f64 {
    const DIRECT: u32 = 4096;
    let head = k.min(DIRECT);
    let mut s: f64 = (1..=head).rev().map(|j| -(-a / f64::from(j)).ln_1p()).sum();
    if k > head {
        // -ln(1 - a/j) = a/j + a²/2j² + a³/3j³ + a⁴/4j⁴ + ..., summed over head < j <= k.
        let (lo, hi) = (f64::from(head), f64::from(k));
        let tail3 = |n: f64| 0.5 / (n * n) - 0.5 / (n * n * n);
        let tail4 = |n: f64| 1.0 / (3.0 * n * n * n);
        s += a * (harmonic(k) - harmonic(head))
            + a * a / 2.0 * (zeta2_tail(lo) - zeta2_tail(hi))
            + a.powi(3) / 3.0 * (tail3(lo) - tail3(hi))
            + a.powi(4) / 4.0 * (tail4(lo) - tail4(hi));
    }
    s.exp()
}

/// Mean and variance of the maximum of `k` iid draws.
fn max_moments(d: &Prepared, k: u32) -> (f64, f64) {
    let kf = f64::from(k);
    let (mean, var) = match *d {
        Prepared::Fixed(v) => (v, 0.0),
        Prepared::Uniform { min, span, .. } => (
            min + span * kf / (kf + 1.0),
            span * span * kf / ((kf + 1.0) * (kf + 1.0) * (kf + 2.0)),
        ),
        Prepared::Exponential { offset, mean } => {
            (offset + mean * harmonic(k), mean * mean * harmonic2(k))
        }
        Prepared::Pareto {
            scale,
            shape,
            inv_shape,
        } => {
            let m1 = scale * pareto_factor(inv_shape, k);
            let var = if shape > 2.0 {
                (scale * scale * pareto_factor(2.0 * inv_shape, k) - m1 * m1).max(0.0)
            } else {
                f64::INFINITY
            };
            (m1, var)
        }
        Prepared::Empirical { ref ps, ref vs } => {
            let c = max_median(d, k);
            let (m1, m2) = empirical_max_moments(ps, vs, k, c);
            (c + m1, (m2 - m1 * m1).max(0.0))
        }
        Prepared::Normal { .. } | Prepared::Lognormal { .. } | Prepared::Mixture { .. } => {
            numeric_max_moments(d, k)
        }
    };
    let var = if d.finite_variance() {
        var
    } else {
        f64::INFINITY
    };
    // For one draw the closed-form mean is exact; the quadrature is not quite.
    if k == 1 { (d.mean(), var) } else { (mean, var) }
}

/// The median of the maximum of `k` draws, `Q(0.5^(1/k))`: moments are accumulated about it
/// so that the variance does not cancel away against a large mean.
fn max_median(d: &Prepared, k: u32) -> f64 {
    let l = -LN_2 / f64::from(k);
    d.quantile(l.exp(), -l.exp_m1())
}

/// `(E[Y], E[Y²])` for `Y = max - c` of `k` draws from a piecewise-linear quantile function,
/// exactly: on each segment `Q(p) = alpha + beta p` and `∫ p^m k p^(k-1) dp` is elementary.
fn empirical_max_moments(ps: &[f64], vs: &[f64], k: u32, c: f64) -> (f64, f64) {
    let kf = f64::from(k);
    let (mut m1, mut m2) = (0.0, 0.0);
    for j in 0..ps.len() - 1 {
        let (a, b) = (ps[j], ps[j + 1]);
        let beta = (vs[j + 1] - vs[j]) / (b - a);
        let alpha = vs[j] - c - beta * a;
        let span = |m: f64| b.powf(m) - a.powf(m);
        let d0 = span(kf);
        let d1 = span(kf + 1.0) * kf / (kf + 1.0);
        let d2 = span(kf + 2.0) * kf / (kf + 2.0);
        m1 += alpha * d0 + beta * d1;
        m2 += alpha * alpha * d0 + 2.0 * alpha * beta * d1 + beta * beta * d2;
    }
    (m1, m2)
}

/// Mean and variance of the maximum of `k` draws by quadrature of the quantile function.
///
/// With `v = p^k`, `E[g(max)] = ∫_0^1 g(Q(v^(1/k))) dv`, which removes the peak of the density
/// `k p^(k-1)` at `p = 1` for large `k`. The range is cut where the quantile function may jump
/// (atoms and gaps of mixtures) and each piece is integrated by tanh-sinh, whose nodes crowd
/// double-exponentially towards the ends, where quantile functions are unbounded.
fn numeric_max_moments(d: &Prepared, k: u32) -> (f64, f64) {
    let kf = f64::from(k);
    let inv_k = 1.0 / kf;
    let c = max_median(d, k);
    let breaks = jump_breaks(d);
    let (mut m1, mut m2) = (0.0, 0.0);
    for w in breaks.windows(2) {
        let (va, vb) = (w[0].powf(kf), w[1].powf(kf));
        if vb <= va {
            continue;
        }
        let ends_at_one = w[1] >= 1.0;
        let (i1, i2) = tanh_sinh2(va, vb, c.abs(), |v, d_hi| {
            // Near v = 1 the distance to the end is the exact quantity; ln(v) would round it.
            let ln_v = if ends_at_one && d_hi < 0.25 {
                (-d_hi).ln_1p()
            } else {
                v.ln()
            };
            let l = ln_v * inv_k;
            let q = -l.exp_m1();
            let p = if q > 0.5 { l.exp() } else { 1.0 - q };
            let y = d.quantile(p, q) - c;
            (y, y * y)
        });
        m1 += i1;
        m2 += i2;
    }
    (c + m1, (m2 - m1 * m1).max(0.0))
}

/// The probabilities where `d`'s quantile function may jump (atoms and gaps of mixtures), with
/// 0 and 1, sorted and distinct: the pieces a quadrature of the quantile integrates apart.
fn jump_breaks(d: &Prepared) -> Vec<f64> {
    let mut xs = Vec::new();
    d.special_points(&mut xs);
    let mut breaks = vec![0.0, 1.0];
    for x in xs {
        breaks.push(d.cdf_left(x));
        breaks.push(d.cdf(x).0);
    }
    breaks.retain(|p| (0.0..=1.0).contains(p));
    breaks.sort_by(f64::total_cmp);
    breaks.dedup();
    breaks
}

/// The skewness `E[(X − μ)³] / σ³` of one draw by quadrature of the quantile function between
/// its possible jumps (as [`numeric_max_moments`]); `None` when the third moment is infinite.
fn skewness(d: &Prepared, mean: f64, var: f64) -> Option<f64> {
    if !d.finite_third_moment() || var.is_nan() || var <= 0.0 {
        return None;
    }
    let sd = var.sqrt();
    let breaks = jump_breaks(d);
    let mut m3 = 0.0;
    for w in breaks.windows(2) {
        let ends_at_one = w[1] >= 1.0;
        let (i3, _) = tanh_sinh2(w[0], w[1], 1.0, |p, d_hi| {
            // Near p = 1 the distance to the end is q exactly; 1 - p would round it.
            let q = if ends_at_one && d_hi < 0.25 {
                d_hi
            } else {
                1.0 - p
            };
            let z = (d.quantile(p, q) - mean) / sd;
            (z * z * z, 0.0)
        });
        m3 += i3;
    }
    m3.is_finite().then_some(m3)
}

/// `∫_a^b` of two integrands at once by tanh-sinh quadrature, halving the step until both
/// agree to about 1e-11. `f(x, b - x)` gets the distance to the upper end exactly.
fn tanh_sinh2(a: f64, b: f64, scale: f64, mut f: impl FnMut(f64, f64) -> (f64, f64)) -> (f64, f64) {
    const H0: f64 = 0.5;
    const LEVELS: u32 = 8;
    // Beyond this the distance to the ends underflows.
    const T_MAX: f64 = 6.5;
    let width = b - a;
    let half = 0.5 * width;
    let mut node = |t: f64| -> (f64, f64) {
        let u = FRAC_PI_2 * t.sinh();
        let e = (-2.0 * u.abs()).exp();
        let dist = width * e / (1.0 + e);
        let w = half * FRAC_PI_2 * t.cosh() * 4.0 * e / ((1.0 + e) * (1.0 + e));
        if !(dist > 0.0 && w > 0.0) {
            return (0.0, 0.0);
        }
        let (x, d_hi) = if t < 0.0 {
            (a + dist, width - dist)
        } else {
            (b - dist, dist)
        };
        let (y1, y2) = f(x, d_hi);
        (w * y1, w * y2)
    };
    let mut sum = node(0.0);
    let mut j = 1.0;
    while j * H0 <= T_MAX {
        let (l1, l2) = node(-j * H0);
        let (r1, r2) = node(j * H0);
        sum.0 += l1 + r1;
        sum.1 += l2 + r2;
        j += 1.0;
    }
    let mut h = H0;
    let mut est = (h * sum.0, h * sum.1);
    for level in 1..=LEVELS {
        h *= 0.5;
        let mut j = 1.0;
        while j * h <= T_MAX {
            let (l1, l2) = node(-j * h);
            let (r1, r2) = node(j * h);
            sum.0 += l1 + r1;
            sum.1 += l2 + r2;
            j += 2.0;
        }
        let next = (h * sum.0, h * sum.1);
        let tol = |new: f64, old: f64, s: f64| (new - old).abs() <= 1e-11 * (new.abs() + s);
        if level >= 3 && tol(next.0, est.0, scale) && tol(next.1, est.1, scale * scale) {
            return next;
        }
        est = next;
    }
    est
}

// ---------------------------------------------------------------------------------------------
// Sampling.

/// A mixture's quantile function tabulated against `t = ln(p / q)` (the logit), which spreads
/// both tails evenly so that the maximum of many draws, living at `q` near 1e-20, is resolved
/// as well as the median.
///
/// Knots start on a uniform grid of [`Self::CELLS`] cells over `|t| <= 60` and are bisected
/// until linear interpolation is within [`Self::TOL`] (relative) at the quarter points, so the
/// near-jumps a rare slow branch causes get knots of their own. A guide array gives each
/// uniform cell its first knot, making a lookup O(1).
#[derive(Debug, Clone)]
struct QuantileTable {
    inv_step: f64,
    guide: Vec<u32>,
    /// Increasing in `t`; the last real knot has slope 0 (values are clamped beyond it) and is
    /// followed by a sentinel at `t = +inf` that ends every search.
    knots: Vec<Knot>,
}

/// One knot: the quantile `y` at `t`, and the slope to the next knot.
#[derive(Debug, Clone, Copy)]
struct Knot {
    t: f64,
    y: f64,
    slope: f64,
}

impl QuantileTable {
    /// Largest `|t|` tabulated: `q = e^-60` is beyond the reach of `u^(1/width)` for any
    /// `u32` width with 52-bit uniforms.
    const T_MAX: f64 = 60.0;
    const CELLS: usize = 1024;
    const TOL: f64 = 1e-5;
    const MAX_DEPTH: u32 = 24;
    const MAX_KNOTS: usize = 1 << 18;

    fn build(d: &Prepared) -> Self {
        let step = 2.0 * Self::T_MAX / Self::CELLS as f64;
        // Monotonicity brackets each solve between already-known neighbours.
        let at = |t: f64, lo: f64, hi: f64| {
            d.quantile_within(1.0 / (1.0 + (-t).exp()), 1.0 / (1.0 + t.exp()), lo, hi)
        };
        let abs_tol = Self::TOL * 1e-3 * d.quantile(0.5, 0.5).abs();
        let mut points = Vec::with_capacity(4 * Self::CELLS);
        let mut guide = Vec::with_capacity(Self::CELLS);
        let mut ta = -Self::T_MAX;
        let mut ya = at(ta, f64::NEG_INFINITY, f64::INFINITY);
        for g in 0..Self::CELLS {
            let tb = -Self::T_MAX + (g + 1) as f64 * step;
            let yb = at(tb, ya, f64::INFINITY);
            let ym = at(0.5 * (ta + tb), ya, yb);
            guide.push(points.len() as u32);
            let mut refine = Refine {
                at: &at,
                abs_tol,
                points: &mut points,
            };
            refine.run((ta, ya), (tb, yb), ym, Self::MAX_DEPTH);
            (ta, ya) = (tb, yb);
        }
        points.push((ta, ya));
        let mut knots: Vec<Knot> = points
            .windows(2)
            .map(|w| Knot {
                t: w[0].0,
                y: w[0].1,
                slope: (w[1].1 - w[0].1) / (w[1].0 - w[0].0),
            })
            .collect();
        knots.push(Knot {
            t: ta,
            y: ya,
            slope: 0.0,
        });
        knots.push(Knot {
            t: f64::INFINITY,
            y: ya,
            slope: 0.0,
        });
        Self {
            inv_step: 1.0 / step,
            guide,
            knots,
        }
    }

    #[inline]
    fn eval(&self, t: f64) -> f64 {
        let x = (t + Self::T_MAX) * self.inv_step;
        if x < 0.0 || x.is_nan() {
            return self.knots[0].y;
        }
        let cell = x as usize;
        let Some(&first) = self.guide.get(cell) else {
            return self.knots[self.knots.len() - 1].y;
        };
        let mut i = first as usize;
        while self.knots[i + 1].t < t {
            i += 1;
        }
        let k = self.knots[i];
        k.y + (t - k.t) * k.slope
    }
}

/// The recursive bisection of one cell of a [`QuantileTable`].
struct Refine<'a, F> {
    at: &'a F,
    abs_tol: f64,
    points: &'a mut Vec<(f64, f64)>,
}

impl<F: Fn(f64, f64, f64) -> f64> Refine<'_, F> {
    /// Pushes the knots of `[a, b)`; `ym` is the value at its midpoint.
    fn run(&mut self, a: (f64, f64), b: (f64, f64), ym: f64, depth: u32) {
        let ((ta, ya), (tb, yb)) = (a, b);
        let tm = 0.5 * (ta + tb);
        let y1 = (self.at)(0.5 * (ta + tm), ya, ym);
        let y3 = (self.at)(0.5 * (tm + tb), ym, yb);
        let close = |y: f64, f: f64| {
            let lin = ya + f * (yb - ya);
            (y - lin).abs() <= QuantileTable::TOL * y.abs().max(lin.abs()) + self.abs_tol
        };
        let good = close(y1, 0.25) && close(ym, 0.5) && close(y3, 0.75);
        if good || depth == 0 || self.points.len() >= QuantileTable::MAX_KNOTS {
            self.points.push((ta, ya));
        } else {
            self.run(a, (tm, ym), y1, depth - 1);
            self.run((tm, ym), b, y3, depth - 1);
        }
    }
}

/// How draws are turned into latencies.
#[derive(Debug, Clone)]
enum Kernel {
    /// No randomness at all.
    Fixed(f64),
    /// The family's own quantile function.
    Exact(Prepared),
    /// Mixtures, whose exact quantile needs a root search per draw.
    Table(QuantileTable),
}

impl Kernel {
    #[inline]
    fn quantile(&self, p: f64, q: f64) -> f64 {
        match self {
            Self::Fixed(v) => *v,
            Self::Exact(d) => d.quantile(p, q),
            Self::Table(t) => t.eval((p / q).ln()),
        }
    }

    /// The quantile at `p = e^l`.
    #[inline]
    fn quantile_at_ln_p(&self, l: f64) -> f64 {
        match self {
            Self::Fixed(v) => *v,
            Self::Exact(d) => d.quantile_at_ln_p(l),
            Self::Table(t) => {
                let ln_q = if l >= LN_P_TAIL {
                    ln_q_near_one(l)
                } else {
                    (-l.exp_m1()).ln()
                };
                t.eval(l - ln_q)
            }
        }
    }
}

/// The residual life of a unit caught mid-access at a random time: density `(1 − F(r)) / mean`,
/// tabulated once so that its quantile costs a short search.
#[derive(Debug, Clone)]
struct ResidualTable {
    /// Residual times, increasing.
    xs: Vec<f64>,
    /// `P(R ≤ x)` at each of them, from 0 to 1.
    gs: Vec<f64>,
    /// `E[R] = E[X²] / (2 E[X])`, from the same table.
    mean: f64,
    /// At each [`guide_key`] `k`, the first index whose `g` has a key of `k` or more: a
    /// quantile's search runs between the entries of its key and the next.
    guide: Vec<u32>,
}

/// Significand bits a [`guide_key`] keeps: 16 keys per octave.
const GUIDE_BITS: u32 = 4;

/// The key of the smallest tail `guide_key` tells apart: 2^-64 (below, a search is short).
const GUIDE_FLOOR: i64 = ((1023 - 64) << GUIDE_BITS) as i64;

/// A key non-decreasing in `p` in `[0, 1]` that resolves both ends geometrically: from `p`'s
/// exponent and leading significand bits below 1/2, and from those of `1 − p` above (exact
/// there), so that the residual table's points, spread over nine decades of the upper tail,
/// fall a few to a key. A binary search over the whole table chains ten dependent loads,
/// which made these rare tail draws a tenth of a draw's cost on average.
#[inline]
fn guide_key(p: f64) -> usize {
    let key = |x: f64| ((x.to_bits() >> (52 - GUIDE_BITS)) as i64 - GUIDE_FLOOR).max(0);
    let half = key(0.5);
    (if p < 0.5 {
        key(p)
    } else {
        2 * half - key(1.0 - p)
    }) as usize
}

impl ResidualTable {
    fn build(d: &Prepared) -> Self {
        // Points evenly spaced in probability over the body and geometrically into the tail, so
        // that rare long latencies (stalls) are resolved.
        let mut ps: Vec<f64> = (0..512).map(|i| 0.99 * f64::from(i) / 512.0).collect();
        ps.extend((0..=512).map(|i| 1.0 - 0.01 * 10f64.powf(-7.0 * f64::from(i) / 512.0)));
        let mut xs = vec![0.0];
        let mut gs = vec![0.0];
        let (mut x_prev, mut s_prev) = (0.0, 1.0);
        let mut area = 0.0;
        let mut moment = 0.0;
        for &p in &ps {
            let x = d.quantile(p, 1.0 - p).max(x_prev);
            let s = 1.0 - p;
            let da = 0.5 * (s_prev + s) * (x - x_prev);
            area += da;
            moment += 0.5 * (x_prev + x) * da;
            xs.push(x);
            gs.push(area);
            x_prev = x;
            s_prev = s;
        }
        // Normalise away the quadrature error (and the 1e-9 tail beyond the last point).
        let total = area.max(f64::MIN_POSITIVE);
        for g in &mut gs {
            *g /= total;
        }
        let guide = (0..=guide_key(1.0) + 1)
            .map(|k| gs.partition_point(|&g| guide_key(g) < k) as u32)
            .collect();
        Self {
            xs,
            gs,
            mean: moment / total,
            guide,
        }
    }

    /// The quantile at probability `e^l`.
    fn quantile_at_ln_p(&self, l: f64) -> f64 {
        let p = l.exp();
        // Every point before `lo` has a smaller key, so a smaller `g`; every point from `hi`
        // on a larger key, so a larger `g`: the first `g >= p` lies between (as the search
        // over the whole table finds it).
        let k = guide_key(p);
        let (lo, hi) = (self.guide[k] as usize, self.guide[k + 1] as usize);
        let i = (lo + self.gs[lo..hi].partition_point(|&g| g < p)).clamp(1, self.gs.len() - 1);
        let (g0, g1) = (self.gs[i - 1], self.gs[i]);
        let t = if g1 > g0 {
            ((p - g0) / (g1 - g0)).clamp(0.0, 1.0)
        } else {
            1.0
        };
        self.xs[i - 1] + t * (self.xs[i] - self.xs[i - 1])
    }
}

/// A function of a uniform variate tabulated over the body of the unit interval, so that a draw
/// there costs an index and a few multiply-adds instead of a normal quantile, a logarithm and an
/// exponential.
///
/// Knots are uniform in `u` over `[LO, HI]` (one more on each side), and a cell is interpolated
/// by the cubic through its four nearest knots (Catmull–Rom): its error falls with the cube of
/// the spacing, so 1,024 cells (8 KiB, which stays in cache beside the sampler's other tables)
/// do better than linear interpolation on 16 times as many. A cell whose interpolation misses
/// the function by more than [`Self::TOL`] (relative) at an eighth point — near a kink of an
/// empirical table or a mixture's steep step — is drawn from the function itself, as are the
/// tails outside the grid, where quantile functions curve too fast for a uniform grid. Tests
/// check every table against its function on a grid 100 times finer.
#[derive(Debug, Clone)]
struct BodyTable {
    /// The function at `LO + (j − 1) / SCALE` for `j` in `0..=CELLS + 2`.
    knots: Vec<f64>,
    /// Cells left to the function.
    exact: Vec<bool>,
}

impl BodyTable {
    const LO: f64 = 1.0 / 64.0;
    const HI: f64 = 63.0 / 64.0;
    const CELLS: usize = 1024;
    /// Relative error allowed at a cell's eighth points: the mixtures' quantile table's.
    const TOL: f64 = 1e-5;
    const SCALE: f64 = Self::CELLS as f64 / (Self::HI - Self::LO);

    /// Tabulates `f(u, 1 - u)`; costs `8 × CELLS + 3` evaluations.
    fn build(f: impl Fn(f64, f64) -> f64) -> Self {
        let at = |x: f64| {
            let u = Self::LO + x / Self::SCALE;
            f(u, 1.0 - u)
        };
        let knots: Vec<f64> = (0..Self::CELLS + 3).map(|j| at(j as f64 - 1.0)).collect();
        let mut table = Self {
            knots,
            exact: vec![false; Self::CELLS],
        };
        for i in 0..Self::CELLS {
            table.exact[i] = (1..8).any(|eighth| {
                let t = f64::from(eighth) / 8.0;
                let want = at(i as f64 + t);
                let got = table.interpolate(i, t);
                let err = (got - want).abs();
                err.is_nan() || err > Self::TOL * want.abs().max(got.abs())
            });
        }
        table
    }

    /// The cubic of cell `i` at `t` in `[0, 1)`.
    #[inline]
    fn interpolate(&self, i: usize, t: f64) -> f64 {
        let k = &self.knots[i..i + 4];
        let (p0, p1, p2, p3) = (k[0], k[1], k[2], k[3]);
        p1 + 0.5
            * t
            * (p2 - p0
                + t * (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3 + t * (3.0 * (p1 - p2) + p3 - p0)))
    }

    /// The tabulated value at `u`, or `None` outside the grid or in a cell left to the function.
    #[inline]
    fn get(&self, u: f64) -> Option<f64> {
        let x = (u - Self::LO) * Self::SCALE;
        if !(x >= 0.0 && u < Self::HI) {
            return None;
        }
        // Through i64, one instruction each way (`x` is a small non-negative number here):
        // the unsigned conversions take a dozen on the baseline x86-64 target.
        let cell = x as i64;
        let i = cell as usize;
        if *self.exact.get(i)? {
            return None;
        }
        Some(self.interpolate(i, x - cell as f64))
    }
}

/// The standard normal quantile at `u`: from a body table shared by every sampler (built on first
/// use) where it holds, else exact.
#[inline]
fn std_normal(u: f64) -> f64 {
    static TABLE: OnceLock<BodyTable> = OnceLock::new();
    TABLE
        .get_or_init(|| BodyTable::build(ndtri))
        .get(u)
        .unwrap_or_else(|| ndtri(u, 1.0 - u))
}

/// The tables a sampler draws from once it has been asked for single draws, built on first use
/// (a sampler used only for maxima never pays for them) and shared by the sampler's clones.
/// Their content is a pure function of the distribution and width, so when and on which thread
/// they are built does not change a result.
#[derive(Debug)]
struct FastTables {
    /// The quantile of one access.
    quantile: OnceLock<BodyTable>,
    /// The residual spread `R⁻¹(u^(1/width)) − E[R]` of the pulling model.
    spread: OnceLock<BodyTable>,
    /// The skewness of one draw (`None`: infinite), for sums of many.
    skewness: OnceLock<Option<f64>>,
    /// At index `n` (2 to [`MAX_TABULATED_MAX`]), the quantile of the slowest of `n` draws,
    /// `Q(u^(1/n))`: an access of a few ios ends with its slowest.
    maxima: Vec<OnceLock<BodyTable>>,
    /// At index `i`, how a sum of `EXACT_TERMS + 1 + i` draws is drawn (see
    /// [`MAX_TABULATED_SUM`]).
    sums: OnceLock<Vec<LongSum>>,
}

/// Sums of up to `EXACT_TERMS + MAX_TABULATED_SUM` draws have their constants tabulated: the
/// accesses of the reads that identical layers repeat step after step come in a few sizes, and
/// a square root and two divisions per draw cost as much as the draw.
const MAX_TABULATED_SUM: usize = 4096;

/// How a sum of many draws is drawn, as [`LatencySampler::sample_sum`] computes it.
#[derive(Debug, Clone, Copy)]
enum LongSum {
    /// Term by term: too skewed for a corrected normal variate and short enough to draw.
    Exact,
    /// `max(mean + sd · (z + skew_6 · (z² − 1)), floor)` for a standard normal `z`: the sum's
    /// mean and standard deviation, its skewness over 6 (Cornish–Fisher) and its least value.
    Normal {
        mean: f64,
        sd: f64,
        skew_6: f64,
        floor: f64,
    },
}

/// The widest maximum given a table of its own: beyond, the draws are exact (such wide lanes
/// are rare, and each table costs 8 KiB).
const MAX_TABULATED_MAX: u64 = 64;

/// Samples a latency for accesses that each occupy `width` units at once and end with the
/// slowest of them (a page striped over `width` dies, say).
///
/// Every draw is an inversion of one uniform variate, so the pattern of random numbers used is
/// fixed: one `u64` per [`sample`](Self::sample) or [`sample_max`](Self::sample_max), and per
/// [`sample_rounds`](Self::sample_rounds) either `rounds` of them (up to 16 rounds, or when the
/// variance is infinite) or one. A fixed latency consumes none. Families are sampled from their
/// exact quantile functions; mixtures from a tabulated quantile function (see
/// `QuantileTable`: linear interpolation within 1e-5 relative), as their exact quantile needs
/// a root search per draw. Single draws, which a large fetch makes by the thousand, come from a
/// `BodyTable` of that quantile between the 1/64 and 63/64 quantiles (within about 1e-5
/// relative of it) and from the quantile itself in the tails, where the long latencies are; so
/// do the slowest of a few draws and the normal variates of long sums.
#[derive(Debug, Clone)]
pub struct LatencySampler {
    dist: LatencyDist,
    width: u32,
    inv_width: f64,
    kernel: Kernel,
    max_mean: f64,
    max_var: f64,
    unit_mean: f64,
    unit_var: f64,
    unit_sd: f64,
    floor: f64,
    residual: Option<ResidualTable>,
    fast: Arc<FastTables>,
}

impl LatencySampler {
    /// Precomputes the sampler of `dist` for accesses spanning `width` units.
    ///
    /// Costs up to some 50 µs for a single family but around 10 ms for a mixture, whose
    /// quantile table and moments take thousands of root searches on its CDF: build samplers
    /// once per configuration, not per step.
    ///
    /// # Panics
    ///
    /// If `width` is zero or `dist` fails [`LatencyDist::validate`] (deserialised values are
    /// already valid).
    pub fn new(dist: &LatencyDist, width: u32) -> Self {
        assert!(width >= 1, "a latency sampler needs a width of at least 1");
        if let Err(e) = dist.validate() {
            panic!("latency sampler given an invalid distribution: {e}");
        }
        let prepared = Prepared::new(dist);
        let (max_mean, max_var) = max_moments(&prepared, width);
        let (unit_mean, unit_var) = max_moments(&prepared, 1);
        let floor = prepared.support().0.max(0.0);
        let residual = (unit_var.is_finite() && !matches!(prepared, Prepared::Fixed(_)))
            .then(|| ResidualTable::build(&prepared));
        let kernel = match prepared {
            Prepared::Fixed(v) => Kernel::Fixed(v),
            Prepared::Mixture { .. } => Kernel::Table(QuantileTable::build(&prepared)),
            other => Kernel::Exact(other),
        };
        Self {
            dist: dist.clone(),
            width,
            inv_width: 1.0 / f64::from(width),
            kernel,
            max_mean,
            max_var,
            unit_mean,
            unit_var,
            unit_sd: unit_var.sqrt(),
            floor,
            residual,
            fast: Arc::new(FastTables {
                quantile: OnceLock::new(),
                spread: OnceLock::new(),
                skewness: OnceLock::new(),
                maxima: (0..=MAX_TABULATED_MAX.min(u64::from(width)))
                    .map(|_| OnceLock::new())
                    .collect(),
                sums: OnceLock::new(),
            }),
        }
    }

    /// The slowest of `n >= 2` draws at `u`, `Q(u^(1/n))`: from its body table where it holds,
    /// else exact.
    #[inline]
    fn draw_max(&self, u: f64, n: u64) -> f64 {
        let exact = |u: f64| self.kernel.quantile_at_ln_p(u.ln() / n as f64);
        match self.fast.maxima.get(n as usize) {
            Some(cell) => cell
                .get_or_init(|| BodyTable::build(|u, _| exact(u)))
                .get(u)
                .unwrap_or_else(|| exact(u)),
            None => exact(u),
        }
    }

    /// The quantile of one access at `u`: from the body table where it holds, else exact.
    #[inline]
    fn draw(&self, u: f64) -> f64 {
        let table = self
            .fast
            .quantile
            .get_or_init(|| BodyTable::build(|p, q| self.kernel.quantile(p, q)));
        table
            .get(u)
            .unwrap_or_else(|| self.kernel.quantile(u, 1.0 - u))
    }

    /// The sum of `terms` single draws: term by term up to [`EXACT_TERMS`], else one normal
    /// variate with the sum's skewness (see [`MAX_SUM_SKEW`]).
    // Always inlined into `sample_ios`, for the same reason.
    #[inline(always)]
    fn sample_sum(&self, rng: &mut SimRng, terms: u64) -> f64 {
        if terms <= EXACT_TERMS || !self.unit_var.is_finite() {
            return self.sum_exactly(rng, terms);
        }
        let long = match usize::try_from(terms - EXACT_TERMS - 1) {
            Ok(i) if i < MAX_TABULATED_SUM => {
                let table = self.fast.sums.get_or_init(|| {
                    let last = EXACT_TERMS + MAX_TABULATED_SUM as u64;
                    (EXACT_TERMS + 1..=last).map(|n| self.long_sum(n)).collect()
                });
                table[i]
            }
            _ => self.long_sum(terms),
        };
        match long {
            LongSum::Exact => self.sum_exactly(rng, terms),
            LongSum::Normal {
                mean,
                sd,
                skew_6,
                floor,
            } => {
                let z = std_normal(open01(rng));
                // Monotone in z for |skew| <= 1/3 over every z a 52-bit uniform reaches
                // (|z| < 8.3).
                let x = z + skew_6 * (z * z - 1.0);
                (mean + sd * x).max(floor)
            }
        }
    }

    /// The sum of `terms` single draws, term by term.
    #[inline(never)]
    fn sum_exactly(&self, rng: &mut SimRng, terms: u64) -> f64 {
        (0..terms).map(|_| self.sample(rng).0).sum::<f64>()
    }

    /// How a sum of `terms` draws (more than [`EXACT_TERMS`], with a finite variance) is drawn.
    fn long_sum(&self, terms: u64) -> LongSum {
        let n = terms as f64;
        let root_n = n.sqrt();
        let skew = match self.unit_skewness().map(|g| g / root_n) {
            Some(g) if g.abs() <= MAX_SUM_SKEW => g,
            _ if terms <= EXACT_SKEWED_TERMS => return LongSum::Exact,
            _ => 0.0,
        };
        LongSum::Normal {
            mean: n * self.unit_mean,
            sd: root_n * self.unit_sd,
            skew_6: skew / 6.0,
            floor: n * self.floor,
        }
    }

    /// The skewness of one draw, computed on first use; `None` when infinite.
    fn unit_skewness(&self) -> Option<f64> {
        *self
            .fast
            .skewness
            .get_or_init(|| skewness(&Prepared::new(&self.dist), self.unit_mean, self.unit_var))
    }

    /// The residual spread at `u` for the pulling model: the slowest of `width` residual lives
    /// less their mean.
    #[inline]
    fn spread(&self, r: &ResidualTable, u: f64) -> f64 {
        let exact = |u: f64| r.quantile_at_ln_p(u.ln() * self.inv_width) - r.mean;
        let table = self
            .fast
            .spread
            .get_or_init(|| BodyTable::build(|u, _| exact(u)));
        table.get(u).unwrap_or_else(|| exact(u))
    }

    /// The distribution of one access.
    pub fn dist(&self) -> &LatencyDist {
        &self.dist
    }

    /// How many units each access occupies at once.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// The constant latency, when the distribution cannot vary.
    pub fn fixed(&self) -> Option<Seconds> {
        match self.kernel {
            Kernel::Fixed(v) => Some(Seconds(v)),
            _ => None,
        }
    }

    /// One access on one unit.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> Seconds {
        if let Kernel::Fixed(v) = self.kernel {
            return Seconds(v);
        }
        Seconds(self.draw(open01(rng)))
    }

    /// The slowest of `width` iid accesses, drawn exactly in O(1) as `Q(U^(1/width))`.
    #[inline]
    pub fn sample_max(&self, rng: &mut SimRng) -> Seconds {
        if let Kernel::Fixed(v) = self.kernel {
            return Seconds(v);
        }
        let u = open01(rng);
        if self.width == 1 {
            return Seconds(self.draw(u));
        }
        // p = u^(1/width) sits near 1; it is passed as its logarithm, from which the kernels
        // get q = 1 - p (or ln q) without the rounding that 1 - p would cause.
        Seconds(self.kernel.quantile_at_ln_p(u.ln() * self.inv_width))
    }

    /// The total of `rounds` sequential rounds, each ending with the slowest of `width` units.
    ///
    /// Exact for a fixed latency (`rounds × value`, no randomness). Up to 16 rounds, the sum of
    /// exact draws. Beyond, a normal approximation with mean `rounds × E[max]` and variance
    /// `rounds × Var[max]` from one draw, kept at or above `rounds ×` the smallest possible
    /// latency. When `Var[max]` is infinite (a Pareto shape of 2 or less) no such approximation
    /// holds, and every round is drawn exactly: O(rounds).
    #[inline]
    pub fn sample_rounds(&self, rng: &mut SimRng, rounds: u64) -> Seconds {
        if let Kernel::Fixed(v) = self.kernel {
            return Seconds(rounds as f64 * v);
        }
        if rounds <= EXACT_ROUNDS || !self.max_var.is_finite() {
            let mut total = 0.0;
            for _ in 0..rounds {
                total += self.sample_max(rng).0;
            }
            return Seconds(total);
        }
        let n = rounds as f64;
        let u = open01(rng);
        let z = ndtri(u, 1.0 - u);
        Seconds((n * self.max_mean + (n * self.max_var).sqrt() * z).max(n * self.floor))
    }

    /// `ios` accesses spread over `width` units, each unit taking the next access as soon as it
    /// is free (as a device's dies pull from its queue): the time until the last one ends.
    ///
    /// Up to one round (`ios ≤ width`) that is the slowest of `ios` draws, exactly. Beyond,
    /// pulling work keeps every unit busy until the work runs out, so the units' finish times
    /// average `Σ latencies / width` and spread around it as the *residual lives* of the accesses
    /// in progress: the end is `Σ latencies / width + max of width residuals − mean residual`.
    /// The residual life is size-biased — a unit is more likely caught in a long access — which
    /// is how a 0.1 % chance of a 2 ms stall comes to delay most large fetches. Exact for a
    /// fixed latency (`⌈ios / width⌉ × value`, the units move in lock step); the sum is drawn
    /// exactly up to 16 terms and beyond as one normal variate with the sum's skewness added
    /// (Cornish–Fisher), unless that skewness exceeds 1/3 (rare long stalls): then exactly up
    /// to 64 terms and as a plain normal variate beyond. With an infinite variance
    /// (Pareto shape ≤ 2) the residual life has no mean, and the last round is taken as the
    /// slowest of `width` draws instead.
    // Always inlined: the draw is most of a device access, and inlined into the access loop it
    // overlaps the lane bookkeeping around it (3 % of a serving run, measured).
    #[inline(always)]
    pub fn sample_ios(&self, rng: &mut SimRng, ios: u64) -> Seconds {
        let width = u64::from(self.width);
        if let Kernel::Fixed(v) = self.kernel {
            return Seconds(ios.div_ceil(width) as f64 * v);
        }
        let u = open01(rng);
        if ios <= width {
            let n = ios.max(1);
            let last = if n == 1 {
                self.draw(u)
            } else {
                self.draw_max(u, n)
            };
            return Seconds(last);
        }
        let sum = |terms: u64, rng: &mut SimRng| self.sample_sum(rng, terms);
        match &self.residual {
            Some(r) => {
                let spread = self.spread(r, u);
                let balanced = sum(ios, rng) * self.inv_width;
                Seconds((balanced + spread).max(ios.div_ceil(width) as f64 * self.floor))
            }
            None => {
                let last = self.kernel.quantile_at_ln_p(u.ln() * self.inv_width);
                Seconds(sum(ios - width, rng) * self.inv_width + last)
            }
        }
    }

    /// The mean of the slowest of `width` accesses, `E[max]`.
    pub fn max_mean(&self) -> Seconds {
        Seconds(self.max_mean)
    }
}

#[cfg(test)]
mod lane_tests {
    use super::*;
    use rand::SeedableRng;

    /// Mean of `ios` accesses pulled by `width` units: `ios × mean / width + E[max of width
    /// residuals] − E[residual]` beyond one round, the slowest of `ios` draws within one.
    #[test]
    fn spread_ios_cost_balanced_work_plus_residual_spread() {
        let d = LatencyDist::Lognormal {
            median: Seconds::us(4.0),
            p99: Seconds::us(10.0),
        };
        let mut rng = SimRng::seed_from_u64(9);
        // E[R] = E[X²] / 2E[X]; for a lognormal E[X²] = E[X]² e^(σ²).
        let sigma = (10.0f64 / 4.0).ln() / Z_99;
        let m = d.mean().0;
        let s = LatencySampler::new(&d, 16);
        let mean_r = s.residual.as_ref().unwrap().mean;
        assert!(
            (mean_r - m * (sigma * sigma).exp() / 2.0).abs() / mean_r < 1e-3,
            "{mean_r}"
        );
        for (width, ios) in [(4u32, 320u64), (16, 512), (64, 64_000), (1, 50)] {
            let s = LatencySampler::new(&d, width);
            let n = 20_000;
            let mean = (0..n).map(|_| s.sample_ios(&mut rng, ios).0).sum::<f64>() / f64::from(n);
            let r = s.residual.as_ref().unwrap();
            let max_r = (0..n)
                .map(|i| {
                    r.quantile_at_ln_p(
                        ((f64::from(i) + 0.5) / f64::from(n)).ln() / f64::from(width),
                    )
                })
                .sum::<f64>()
                / f64::from(n);
            let expected = ios as f64 * m / f64::from(width) + max_r - r.mean;
            assert!(
                (mean - expected).abs() / expected < 0.005,
                "{width}x{ios}: {mean} vs {expected}"
            );
        }
        // Within one round: the slowest of those few, no more.
        let s = LatencySampler::new(&d, 16);
        let mean = (0..20_000)
            .map(|_| s.sample_ios(&mut rng, 1).0)
            .sum::<f64>()
            / 20_000.0;
        assert!((mean - m).abs() / m < 0.01);
        let fixed = LatencySampler::new(&LatencyDist::fixed(Seconds::us(3.0)), 16);
        assert_eq!(fixed.sample_ios(&mut rng, 17).0, 2.0 * Seconds::us(3.0).0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::{assert_abs_diff_eq, assert_relative_eq};
    use rand::SeedableRng;

    fn us(v: f64) -> Seconds {
        Seconds::us(v)
    }

    fn lognormal(median: f64, p99: f64) -> LatencyDist {
        LatencyDist::Lognormal {
            median: us(median),
            p99: us(p99),
        }
    }

    fn mixture(parts: &[(f64, LatencyDist)]) -> LatencyDist {
        LatencyDist::Mixture(
            parts
                .iter()
                .map(|(weight, dist)| MixtureComponent {
                    weight: *weight,
                    dist: dist.clone(),
                })
                .collect(),
        )
    }

    fn empirical() -> LatencyDist {
        LatencyDist::Empirical {
            percentiles: vec![(50.0, us(80.0)), (99.0, us(300.0)), (99.9, us(1000.0))],
        }
    }

    /// The residual table's guided search lands where a search of the whole table does, for
    /// every family (and a long-tailed mixture), at its own points and their neighbours, at
    /// the ends and at random probabilities across both tails.
    #[test]
    fn residual_guide_finds_what_a_full_search_finds() {
        let mut dists = families();
        dists.push(("tail mixture", tail_mixture()));
        let mut r = rng();
        for (name, d) in dists {
            let prepared = Prepared::new(&d);
            if matches!(prepared, Prepared::Fixed(_)) {
                continue;
            }
            let table = ResidualTable::build(&prepared);
            let mut ps: Vec<f64> = vec![0.0, f64::MIN_POSITIVE, 0.5, 1.0];
            for &g in &table.gs {
                ps.extend([g, g.next_up().min(1.0), g.next_down().max(0.0)]);
            }
            for _ in 0..20_000 {
                let u = open01(&mut r);
                ps.extend([u, u.powi(40), 1.0 - u.powi(40)]);
            }
            for p in ps {
                let full = table.gs.partition_point(|&g| g < p);
                let k = guide_key(p);
                let (lo, hi) = (table.guide[k] as usize, table.guide[k + 1] as usize);
                assert!(lo <= full && full <= hi, "{name}: p = {p:e}");
                let guided = lo + table.gs[lo..hi].partition_point(|&g| g < p);
                assert_eq!(guided, full, "{name}: p = {p:e}");
            }
        }
    }

    /// One of each family, with spreads moderate enough for 200k-sample means to sit within 1%.
    fn families() -> Vec<(&'static str, LatencyDist)> {
        vec![
            ("fixed", LatencyDist::fixed(us(4.0))),
            (
                "uniform",
                LatencyDist::Uniform {
                    min: us(1.0),
                    max: us(3.0),
                },
            ),
            (
                "normal",
                LatencyDist::Normal {
                    mean: us(4.0),
                    sd: us(1.0),
                },
            ),
            (
                "truncated normal",
                LatencyDist::Normal {
                    mean: us(1.0),
                    sd: us(2.0),
                },
            ),
            ("lognormal", lognormal(4.0, 20.0)),
            (
                "exponential",
                LatencyDist::Exponential {
                    mean: us(10.0),
                    offset: us(2.0),
                },
            ),
            (
                "pareto",
                LatencyDist::Pareto {
                    scale: us(4.0),
                    shape: 4.0,
                },
            ),
            (
                "mixture",
                mixture(&[
                    (0.8, lognormal(4.0, 8.0)),
                    (
                        0.2,
                        LatencyDist::Uniform {
                            min: us(10.0),
                            max: us(20.0),
                        },
                    ),
                ]),
            ),
            ("empirical", empirical()),
        ]
    }

    /// A lognormal body with rare slow retries: the case the quantile table must get right.
    fn tail_mixture() -> LatencyDist {
        mixture(&[
            (0.999, lognormal(4.0, 20.0)),
            (0.001, LatencyDist::fixed(Seconds::ms(2.0))),
        ])
    }

    fn rng() -> SimRng {
        SimRng::seed_from_u64(0x5eed)
    }

    #[test]
    fn special_functions_match_reference_values() {
        assert_relative_eq!(erfc(0.5), 0.479_500_122_186_953_5, max_relative = 1e-15);
        assert_relative_eq!(erfc(3.0), 2.209_049_699_858_544e-5, max_relative = 1e-14);
        assert_relative_eq!(erfc(10.0), 2.088_487_583_762_545e-45, max_relative = 1e-13);
        assert_relative_eq!(erfc(-1.0), 1.842_700_792_949_715, max_relative = 1e-15);
        assert_relative_eq!(
            norm_cdf(-1.96),
            0.024_997_895_148_220_435,
            max_relative = 1e-14
        );
        assert_relative_eq!(
            ndtri(0.975, 0.025),
            1.959_963_984_540_054,
            max_relative = 1e-15
        );
        assert_relative_eq!(ndtri(0.99, 0.01), Z_99, max_relative = 1e-15);
        assert_relative_eq!(
            ndtri(1.0 - 1e-20, 1e-20),
            9.262_340_089_798_408,
            max_relative = 1e-14
        );
        assert_eq!(ndtri(0.5, 0.5), 0.0);
        assert_eq!(ndtri(0.0, 1.0), f64::NEG_INFINITY);
        assert_eq!(ndtri(1.0, 0.0), f64::INFINITY);
        // Round trips through both tails.
        for z in [-30.0, -8.0, -3.0, -0.5, 0.1, 1.0, 4.0, 9.0, 30.0] {
            let (p, q) = norm_cdf_sf(z);
            assert_relative_eq!(ndtri(p, q), z, max_relative = 1e-13);
        }
        // The upper-tail shortcut from ln p agrees with the direct route.
        for l in [-0.07, -0.01, -1e-5, -1e-12, -1e-20] {
            let q: f64 = -f64::exp_m1(l);
            assert_relative_eq!(ln_q_near_one(l), q.ln(), max_relative = 1e-15);
            assert_relative_eq!(
                ndtri_tail(ln_q_near_one(l)),
                ndtri(1.0 - q, q),
                max_relative = 1e-14
            );
        }
    }

    #[test]
    fn quantile_inverts_cdf_for_every_family() {
        for (name, d) in families()
            .into_iter()
            .chain([("tail mixture", tail_mixture())])
        {
            for p in [0.001, 0.05, 0.3, 0.5, 0.77, 0.95, 0.999, 0.999_99] {
                let x = d.quantile(p);
                if d.cdf(x) == 1.0 {
                    // The tail mixture's rare atom sits where the CDF rounds to one.
                    continue;
                }
                let back = d.quantile(d.cdf(x));
                assert!(
                    (back.0 - x.0).abs() <= 1e-9 * x.0,
                    "{name} at p = {p}: x = {x}, cdf = {}, back = {back}",
                    d.cdf(x)
                );
                if d.is_fixed().is_none() && name != "empirical" && name != "tail mixture" {
                    // Continuous families also invert the other way.
                    assert_relative_eq!(d.cdf(x), p, max_relative = 1e-9);
                }
            }
        }
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let d = lognormal(4.0, 20.0);
        assert_relative_eq!(d.quantile(0.5).0, us(4.0).0, max_relative = 1e-9);
        assert_relative_eq!(d.quantile(0.99).0, us(20.0).0, max_relative = 1e-9);
    }

    #[test]
    fn empirical_reproduces_its_table_exactly() {
        let d = empirical();
        let LatencyDist::Empirical { percentiles } = &d else {
            unreachable!()
        };
        for &(p, v) in percentiles {
            assert_eq!(d.quantile(p / 100.0), v);
        }
        assert_eq!(d.quantile(0.0), us(80.0));
        assert_eq!(d.quantile(1.0), us(1000.0));
        assert_abs_diff_eq!(d.cdf(us(190.0)), 0.745, epsilon = 1e-12);
        // Mass below the first percentile sits at the first latency, above the last at the last.
        assert_eq!(d.cdf(us(79.0)), 0.0);
        assert_eq!(d.cdf(us(80.0)), 0.5);
    }

    #[test]
    fn sample_means_match_closed_form_means() {
        for (name, d) in families() {
            let s = LatencySampler::new(&d, 1);
            let mut r = rng();
            let n = 200_000;
            let total: f64 = (0..n).map(|_| s.sample(&mut r).0).sum();
            let mean = total / f64::from(n);
            assert!(
                (mean - d.mean().0).abs() < 0.01 * d.mean().0,
                "{name}: sample mean {mean} vs {}",
                d.mean().0
            );
        }
    }

    #[test]
    fn sample_max_means_match_max_mean() {
        for (name, d) in families()
            .into_iter()
            .chain([("tail mixture", tail_mixture())])
        {
            for width in [4, 64] {
                let s = LatencySampler::new(&d, width);
                let mut r = rng();
                let n = 200_000;
                let xs: Vec<f64> = (0..n).map(|_| s.sample_max(&mut r).0).collect();
                let mean = xs.iter().sum::<f64>() / f64::from(n);
                // Rare slow branches make 1% too tight for some widths; four standard errors
                // is the honest bound.
                let se = (s.max_var / f64::from(n)).sqrt();
                let want = s.max_mean().0;
                assert!(
                    (mean - want).abs() < (0.01 * want).max(4.0 * se),
                    "{name} width {width}: sample mean {mean} vs {want} (se {se})"
                );
                let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / f64::from(n);
                assert_relative_eq!(var, s.max_var, max_relative = 0.1);
            }
        }
    }

    #[test]
    fn sample_rounds_mean_and_spread() {
        let d = lognormal(4.0, 20.0);
        let s = LatencySampler::new(&d, 8);
        for rounds in [5, 100] {
            let mut r = rng();
            let n = 50_000;
            let xs: Vec<f64> = (0..n).map(|_| s.sample_rounds(&mut r, rounds).0).collect();
            let mean = xs.iter().sum::<f64>() / f64::from(n);
            let want = rounds as f64 * s.max_mean().0;
            assert_relative_eq!(mean, want, max_relative = 0.01);
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / f64::from(n);
            assert_relative_eq!(var, rounds as f64 * s.max_var, max_relative = 0.05);
            assert!(xs.iter().all(|&x| x >= 0.0));
        }
    }

    #[test]
    fn fixed_is_exact_and_uses_no_randomness() {
        let v = us(4.0);
        let s = LatencySampler::new(&LatencyDist::fixed(v), 32);
        let mut r = rng();
        for m in [0, 1, 7, 16, 17, 1000, 123_456_789] {
            assert_eq!(s.sample_rounds(&mut r, m).0, m as f64 * v.0);
        }
        assert_eq!(s.sample(&mut r), v);
        assert_eq!(s.sample_max(&mut r), v);
        assert_eq!(r, rng());
        assert_eq!(s.fixed(), Some(v));
        assert_eq!(s.max_mean(), v);
    }

    #[test]
    fn draws_consume_a_fixed_pattern_of_random_numbers() {
        for (_, d) in families().into_iter().filter(|(n, _)| *n != "fixed") {
            let s = LatencySampler::new(&d, 16);
            let (mut a, mut b) = (rng(), rng());
            s.sample(&mut a);
            s.sample_max(&mut a);
            s.sample_rounds(&mut a, 5);
            s.sample_rounds(&mut a, 1000);
            for _ in 0..(1 + 1 + 5 + 1) {
                b.next_u64();
            }
            assert_eq!(a, b);
        }
    }

    #[test]
    fn max_mean_of_width_one_is_the_mean() {
        for (name, d) in families()
            .into_iter()
            .chain([("tail mixture", tail_mixture())])
        {
            let s = LatencySampler::new(&d, 1);
            assert_relative_eq!(s.max_mean().0, d.mean().0, max_relative = 1e-12);
            // The quadrature agrees with the closed-form mean as well.
            let (m, _) = numeric_max_moments(&Prepared::new(&d), 1);
            assert!(
                (m - d.mean().0).abs() <= 1e-9 * d.mean().0,
                "{name}: quadrature mean {m} vs {}",
                d.mean().0
            );
        }
    }

    #[test]
    fn max_mean_increases_with_width() {
        for (name, d) in families()
            .into_iter()
            .chain([("tail mixture", tail_mixture())])
        {
            if d.is_fixed().is_some() {
                continue;
            }
            let means: Vec<f64> = [1, 2, 4, 16, 256, 65_536, 4_000_000]
                .iter()
                .map(|&w| LatencySampler::new(&d, w).max_mean().0)
                .collect();
            // Strictly, until a bounded distribution's maximum reaches its upper end.
            let (_, top) = Prepared::new(&d).support();
            assert!(
                means.windows(2).all(|m| m[1] > m[0] || m[1] == top),
                "{name}: {means:?}"
            );
        }
    }

    #[test]
    fn closed_form_max_moments_agree_with_quadrature() {
        let cases = [
            LatencyDist::Uniform {
                min: us(1.0),
                max: us(3.0),
            },
            LatencyDist::Exponential {
                mean: us(10.0),
                offset: us(2.0),
            },
            LatencyDist::Pareto {
                scale: us(4.0),
                shape: 3.0,
            },
            empirical(),
        ];
        for d in &cases {
            let prepared = Prepared::new(d);
            for k in [1, 3, 50, 5000, 100_000] {
                let (m, v) = max_moments(&prepared, k);
                let (mq, vq) = numeric_max_moments(&prepared, k);
                assert_relative_eq!(m, mq, max_relative = 1e-8);
                assert_relative_eq!(v, vq, max_relative = 1e-5);
            }
        }
    }

    #[test]
    fn heavy_pareto_has_infinite_max_variance_and_draws_exactly() {
        let d = LatencyDist::Pareto {
            scale: us(4.0),
            shape: 1.5,
        };
        let s = LatencySampler::new(&d, 4);
        assert!(s.max_var.is_infinite());
        assert_relative_eq!(s.max_mean().0, us(4.0).0 * pareto_factor(1.0 / 1.5, 4));
        let (mut a, mut b) = (rng(), rng());
        s.sample_rounds(&mut a, 100);
        for _ in 0..100 {
            b.next_u64();
        }
        assert_eq!(a, b);
    }

    #[test]
    fn quantile_table_tracks_the_exact_mixture_quantile() {
        let d = tail_mixture();
        let prepared = Prepared::new(&d);
        let table = QuantileTable::build(&prepared);
        let mean = prepared.mean();
        // The integrated error of the table, over p and over the far upper tail, is what the
        // simulator sees.
        let n = 20_000;
        let mut err = 0.0;
        let mut worst_smooth: f64 = 0.0;
        for i in 0..n {
            let t = -40.0 + 95.0 * (f64::from(i) + 0.5) / f64::from(n);
            let (p, q) = (1.0 / (1.0 + (-t).exp()), 1.0 / (1.0 + t.exp()));
            let exact = prepared.quantile(p, q);
            let approx = table.eval(t);
            err += (approx - exact).abs() * p * q;
            if !(1e-3..=2.1e-3).contains(&exact) {
                worst_smooth = worst_smooth.max(((approx - exact) / exact).abs());
            }
        }
        let err = err * 95.0 / f64::from(n);
        assert!(err < 1e-5 * mean, "integrated error {err} vs mean {mean}");
        assert!(worst_smooth < 2e-5, "worst relative error {worst_smooth}");
    }

    #[test]
    fn body_tables_track_what_they_replace() {
        let n = 100_000;
        for (name, d) in families()
            .into_iter()
            .chain([("tail mixture", tail_mixture())])
        {
            let s = LatencySampler::new(&d, 16);
            let mut tabulated = 0;
            for i in 0..n {
                let u = (f64::from(i) + 0.5) / f64::from(n);
                let exact = s.kernel.quantile(u, 1.0 - u);
                let drawn = s.draw(u);
                assert!(
                    (drawn - exact).abs() <= 2.0 * BodyTable::TOL * exact.abs(),
                    "{name}: quantile at {u}: {drawn} vs {exact}"
                );
                tabulated += usize::from(s.fast.quantile.get().unwrap().get(u).is_some());
                for k in [2u64, 7, 16] {
                    let exact = s.kernel.quantile_at_ln_p(u.ln() / k as f64);
                    let drawn = s.draw_max(u, k);
                    assert!(
                        (drawn - exact).abs() <= 2.0 * BodyTable::TOL * exact.abs(),
                        "{name}: slowest of {k} at {u}: {drawn} vs {exact}"
                    );
                }
                let (z, exact_z) = (std_normal(u), ndtri(u, 1.0 - u));
                assert!(
                    (z - exact_z).abs() <= 2.0 * BodyTable::TOL * exact_z.abs(),
                    "{u}"
                );
                if let Some(r) = &s.residual {
                    let exact = r.quantile_at_ln_p(u.ln() / 16.0) - r.mean;
                    let drawn = s.spread(r, u);
                    assert!(
                        (drawn - exact).abs() <= 2.0 * BodyTable::TOL * exact.abs(),
                        "{name}: spread at {u}: {drawn} vs {exact}"
                    );
                }
            }
            // The table is used: all of the body but a few cells, or none at all for a fixed
            // latency (which never reaches it).
            let body = (BodyTable::HI - BodyTable::LO) * f64::from(n);
            assert!(
                name == "fixed" || tabulated as f64 > 0.95 * body,
                "{name}: {tabulated} of {n} draws tabulated"
            );
        }
    }

    #[test]
    fn skewness_matches_closed_forms() {
        let s2 = ((10.0f64 / 4.0).ln() / Z_99).powi(2);
        let cases = [
            (
                lognormal(4.0, 10.0),
                (s2.exp() + 2.0) * (s2.exp() - 1.0).sqrt(),
            ),
            (
                LatencyDist::Exponential {
                    mean: us(10.0),
                    offset: us(2.0),
                },
                2.0,
            ),
            (
                LatencyDist::Uniform {
                    min: us(1.0),
                    max: us(3.0),
                },
                0.0,
            ),
            (
                LatencyDist::Pareto {
                    scale: us(4.0),
                    shape: 4.0,
                },
                // 2(1 + a)/(a − 3) · √((a − 2)/a) for shape a = 4.
                10.0 * 0.5f64.sqrt(),
            ),
        ];
        for (d, want) in cases {
            let p = Prepared::new(&d);
            let (mean, var) = max_moments(&p, 1);
            let got = skewness(&p, mean, var).unwrap();
            assert_abs_diff_eq!(got, want, epsilon = 2e-3 * want.abs().max(1.0));
        }
        let heavy = Prepared::new(&LatencyDist::Pareto {
            scale: us(4.0),
            shape: 3.0,
        });
        assert_eq!(skewness(&heavy, 6e-6, 1.0), None);
    }

    /// The skew-corrected normal stands in for sums of 17 to 64 draws: its percentiles match
    /// those of exact sums within 0.3 %, where a plain normal misses the p99 of 17 by over 1 %.
    #[test]
    fn sums_of_many_draws_keep_their_skew() {
        let d = lognormal(4.0, 10.0);
        let s = LatencySampler::new(&d, 1);
        let n = 100_000;
        let at = |xs: &[f64], q: f64| xs[(q * f64::from(n)) as usize];
        for terms in [17u64, 40, 64] {
            let mut r = rng();
            let mut exact: Vec<f64> = (0..n)
                .map(|_| (0..terms).map(|_| s.sample(&mut r).0).sum())
                .collect();
            let mut drawn: Vec<f64> = (0..n).map(|_| s.sample_sum(&mut r, terms)).collect();
            exact.sort_by(f64::total_cmp);
            drawn.sort_by(f64::total_cmp);
            for q in [0.01, 0.5, 0.99] {
                assert_relative_eq!(at(&drawn, q), at(&exact, q), max_relative = 3e-3);
            }
            if terms == 17 {
                let k = terms as f64;
                let plain = k * s.unit_mean + (k * s.unit_var).sqrt() * Z_99;
                let p99 = at(&exact, 0.99);
                assert!((plain - p99).abs() > 1e-2 * p99, "{plain} vs {p99}");
            }
        }
    }

    #[test]
    fn degenerate_cases_are_fixed() {
        let v = us(3.0);
        let cases = [
            LatencyDist::Uniform { min: v, max: v },
            LatencyDist::Normal {
                mean: v,
                sd: us(0.0),
            },
            LatencyDist::Lognormal { median: v, p99: v },
            LatencyDist::Exponential {
                mean: us(0.0),
                offset: v,
            },
            mixture(&[(1.0, LatencyDist::fixed(v))]),
            mixture(&[(1.0, LatencyDist::fixed(v)), (3.0, LatencyDist::fixed(v))]),
            LatencyDist::Empirical {
                percentiles: vec![(50.0, v), (100.0, v)],
            },
        ];
        for d in &cases {
            assert_eq!(d.is_fixed(), Some(v), "{d:?}");
            assert_eq!(LatencySampler::new(d, 8).fixed(), Some(v));
        }
        assert_eq!(lognormal(4.0, 20.0).is_fixed(), None);
    }

    #[test]
    fn scaled_multiplies_every_time() {
        for (_, d) in families() {
            let s = d.scaled(2.5);
            assert_relative_eq!(s.mean().0, 2.5 * d.mean().0, max_relative = 1e-12);
            assert_relative_eq!(
                s.quantile(0.9).0,
                2.5 * d.quantile(0.9).0,
                max_relative = 1e-9
            );
        }
    }

    #[test]
    fn yaml_round_trips_every_shape() {
        let shapes = [
            ("4us", "4us"),
            ("{fixed: 4us}", "4us"),
            ("{uniform: {min: 1us, max: 3us}}", "uniform:"),
            ("{normal: {mean: 4us, sd: 1us}}", "normal:"),
            ("{lognormal: {median: 4us, p99: 20us}}", "lognormal:"),
            ("{exponential: {mean: 10us, offset: 2us}}", "offset: 2us"),
            ("{exponential: {mean: 10us}}", "exponential:"),
            ("{pareto: {scale: 4us, shape: 2.5}}", "shape: 2.5"),
            (
                "{mixture: [{weight: 0.999, dist: {lognormal: {median: 4us, p99: 20us}}}, {weight: 0.001, dist: 2ms}]}",
                "mixture:",
            ),
            (
                "{empirical: {percentiles: [[50, 80us], [99, 300us], [99.9, 1ms]]}}",
                "percentiles:",
            ),
        ];
        for (text, marker) in shapes {
            let d: LatencyDist = serde_yaml::from_str(text).unwrap();
            let out = serde_yaml::to_string(&d).unwrap();
            assert!(out.contains(marker), "{text} wrote {out}");
            let back: LatencyDist = serde_yaml::from_str(&out).unwrap();
            assert_eq!(back, d, "{text} wrote {out}");
        }
        let d: LatencyDist = serde_yaml::from_str("{exponential: {mean: 10us}}").unwrap();
        assert_eq!(
            d,
            LatencyDist::Exponential {
                mean: us(10.0),
                offset: Seconds::ZERO
            }
        );
        assert_eq!(
            serde_yaml::to_string(&LatencyDist::fixed(us(4.0))).unwrap(),
            "4us\n"
        );
    }

    #[test]
    fn optional_fields_in_specs_deserialise() {
        #[derive(Deserialize)]
        struct Tier {
            #[serde(default)]
            read_latency: Option<LatencyDist>,
        }
        let t: Tier = serde_yaml::from_str("read_latency: 50us").unwrap();
        assert_eq!(t.read_latency, Some(LatencyDist::fixed(us(50.0))));
        let t: Tier = serde_yaml::from_str("{}").unwrap();
        assert_eq!(t.read_latency, None);
        let e = serde_yaml::from_str::<Tier>("read_latency: 50")
            .err()
            .unwrap();
        assert!(e.to_string().contains("has no unit"), "{e}");
    }

    fn yaml_error(text: &str) -> String {
        serde_yaml::from_str::<LatencyDist>(text)
            .err()
            .unwrap_or_else(|| panic!("`{text}` was accepted"))
            .to_string()
    }

    #[test]
    fn yaml_errors_say_what_is_wrong() {
        let cases = [
            ("4", "`4` has no unit; expected a time such as `4us`"),
            ("4.5", "`4.5` has no unit"),
            (
                "{gamma: {k: 2}}",
                "unknown latency distribution `gamma`; expected one of",
            ),
            (
                "{lognormal: {median: 4us, p90: 9us}}",
                "unknown field `p90`",
            ),
            ("{lognormal: {median: 4us}}", "missing field `p99`"),
            ("{fixed: 4}", "`4` has no unit"),
            (
                "{lognormal: {median: 4us, p99: 1us}}",
                "lognormal p99 (1us) must be at least its median (4us)",
            ),
            ("{uniform: {min: -1us, max: 3us}}", "negative"),
            (
                "{uniform: {min: 3us, max: 1us}}",
                "uniform min (3us) must be at most its max (1us)",
            ),
            (
                "{pareto: {scale: 4us, shape: 1}}",
                "pareto shape (1) must be a finite number greater than 1",
            ),
            ("{mixture: []}", "a mixture needs at least one component"),
            (
                "{mixture: [{weight: 0, dist: 4us}]}",
                "mixture component [0] has weight 0",
            ),
            (
                "{mixture: [{weight: 1, dist: 4us, extra: 1}]}",
                "unknown field `extra`",
            ),
            (
                "{empirical: {percentiles: [[99, 300us], [50, 80us]]}}",
                "empirical percentiles must increase, but 50 follows 99",
            ),
            (
                "{empirical: {percentiles: [[50, 300us], [99, 80us]]}}",
                "is below the one at percentile 50",
            ),
            (
                "{empirical: {percentiles: [[0, 80us]]}}",
                "outside (0, 100]",
            ),
            (
                "{fixed: 4us, uniform: {min: 1us, max: 2us}}",
                "exactly one key",
            ),
            ("{}", "empty map"),
        ];
        for (text, want) in cases {
            let e = yaml_error(text);
            assert!(e.contains(want), "`{text}` gave `{e}`, expected `{want}`");
        }
    }

    #[test]
    fn validate_catches_values_built_in_code() {
        let neg = LatencyDist::Uniform {
            min: us(-1.0),
            max: us(3.0),
        };
        assert_eq!(
            neg.validate().unwrap_err().to_string(),
            "uniform min (-1us) is negative; latencies must be zero or more"
        );
        let nested = mixture(&[(1.0, lognormal(4.0, 1.0))]);
        assert_eq!(
            nested.validate().unwrap_err().to_string(),
            "mixture component [0]: lognormal p99 (1us) must be at least its median (4us)"
        );
        let nan = LatencyDist::fixed(Seconds(f64::NAN));
        assert!(
            nan.validate()
                .unwrap_err()
                .to_string()
                .contains("not a finite time")
        );
        let pareto = LatencyDist::Pareto {
            scale: us(4.0),
            shape: 0.5,
        };
        assert!(
            pareto
                .validate()
                .unwrap_err()
                .to_string()
                .contains("greater than 1")
        );
        assert!(LatencyDist::Mixture(vec![]).validate().is_err());
        for (_, d) in families() {
            d.validate().unwrap();
        }
    }
}
