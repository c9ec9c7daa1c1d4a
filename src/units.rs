//! Dimensional quantities with their units (DESIGN §3.1).
//!
//! Every size, rate, duration and FLOP count in tiersim is one of the newtypes below, so that
//! adding bytes to seconds, or dividing by a rate where a size was meant, does not compile.
//! Each parses from text that carries its unit (`"512GiB"`, `"1.6TB/s"`, `"4us"`,
//! `"989TFLOP/s"`), with decimal prefixes as powers of 1000 and binary ones (`Ki`, `Mi`, `Gi`,
//! `Ti`) as powers of 1024. A bare number is refused with an example of what is expected: a
//! MB/GB mix-up silently broke a published simulator's results, and this rule makes it
//! impossible here.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, Sub};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a quantity could not be read from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// The text is a number with no unit.
    #[error("`{text}` has no unit; expected {kind} such as `{example}`")]
    MissingUnit {
        /// The offending text.
        text: String,
        /// What kind of quantity was expected.
        kind: &'static str,
        /// An example of valid input.
        example: &'static str,
    },
    /// The unit is not one this quantity accepts.
    #[error("`{text}` has unit `{unit}`, which is not {kind}; expected e.g. `{example}`")]
    UnknownUnit {
        /// The offending text.
        text: String,
        /// The unit that was found.
        unit: String,
        /// What kind of quantity was expected.
        kind: &'static str,
        /// An example of valid input.
        example: &'static str,
    },
    /// The numeric part does not parse or is not finite.
    #[error("`{text}` does not start with a number; expected {kind} such as `{example}`")]
    BadNumber {
        /// The offending text.
        text: String,
        /// What kind of quantity was expected.
        kind: &'static str,
        /// An example of valid input.
        example: &'static str,
    },
    /// The value with its prefix is past the largest finite number.
    #[error("`{text}` is too large to hold; expected {kind} such as `{example}`")]
    TooLarge {
        /// The offending text.
        text: String,
        /// What kind of quantity was expected.
        kind: &'static str,
        /// An example of valid input.
        example: &'static str,
    },
    /// The value is negative where only non-negative values make sense.
    #[error("`{text}` is negative; {kind} must be zero or more")]
    Negative {
        /// The offending text.
        text: String,
        /// What kind of quantity was expected.
        kind: &'static str,
    },
}

/// Splits `"1.6 TB/s"` into `(1.6, "TB/s")`.
fn split_number(text: &str) -> Option<(f64, &str)> {
    let t = text.trim();
    let end = t
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_digit()
                || c == '.'
                || c == '+'
                || c == '-'
                || ((c == 'e' || c == 'E')
                    && t[i + 1..]
                        .starts_with(|d: char| d.is_ascii_digit() || d == '-' || d == '+')
                    && i > 0))
        })
        .map_or(t.len(), |(i, _)| i);
    let value: f64 = t[..end].parse().ok()?;
    value.is_finite().then_some((value, t[end..].trim()))
}

/// The multiplier of an SI or IEC prefix at the start of `unit`, and the rest of the unit.
fn split_prefix(unit: &str) -> (f64, &str) {
    const IEC: [(&str, f64); 5] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
    ];
    for (p, m) in IEC {
        if let Some(rest) = unit.strip_prefix(p) {
            return (m, rest);
        }
    }
    const SI: [(&str, f64); 6] = [
        ("k", 1e3),
        ("K", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
    ];
    for (p, m) in SI {
        if let Some(rest) = unit.strip_prefix(p)
            && !rest.is_empty()
        {
            return (m, rest);
        }
    }
    (1.0, unit)
}

/// Describes one kind of quantity for parsing and error messages.
struct Kind {
    name: &'static str,
    example: &'static str,
    /// Accepted base units after the prefix is removed.
    bases: &'static [&'static str],
}

fn parse_prefixed(text: &str, kind: &Kind) -> Result<f64, UnitError> {
    let (value, unit) = split_number(text).ok_or_else(|| UnitError::BadNumber {
        text: elide(text),
        kind: kind.name,
        example: kind.example,
    })?;
    if unit.is_empty() {
        return Err(UnitError::MissingUnit {
            text: elide(text),
            kind: kind.name,
            example: kind.example,
        });
    }
    let (mult, base) = split_prefix(unit);
    if !kind.bases.contains(&base) {
        return Err(UnitError::UnknownUnit {
            text: elide(text),
            unit: elide(unit),
            kind: kind.name,
            example: kind.example,
        });
    }
    if value < 0.0 {
        return Err(UnitError::Negative {
            text: elide(text),
            kind: kind.name,
        });
    }
    finite(value * mult, text, kind.name, kind.example)
}

/// `value` if the number with its prefix is still finite (`1e308TB/s` is not).
fn finite(
    value: f64,
    text: &str,
    kind: &'static str,
    example: &'static str,
) -> Result<f64, UnitError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(UnitError::TooLarge {
            text: elide(text),
            kind,
            example,
        })
    }
}

/// `text` as messages quote it: at most [`ELIDE_CHARS`] characters, the middle replaced by `…`
/// when longer, so that a 309-digit number or a pasted paragraph does not bury the sentence
/// while its start and end still show which value it was.
pub fn elide(text: &str) -> String {
    let n = text.chars().count();
    if n <= ELIDE_CHARS {
        return text.to_owned();
    }
    let head = (ELIDE_CHARS - 1) / 2;
    let tail = ELIDE_CHARS - 1 - head;
    let mut out: String = text.chars().take(head).collect();
    out.push('…');
    out.extend(text.chars().skip(n - tail));
    out
}

/// The most characters of a value a message quotes (see [`elide`]).
pub const ELIDE_CHARS: usize = 40;

/// Formats `value` with the largest prefix that keeps the mantissa at or above one; binary
/// prefixes are used when the value is a whole multiple of one of them.
fn format_prefixed(f: &mut fmt::Formatter<'_>, value: f64, base: &str, iec: bool) -> fmt::Result {
    if iec && value >= 1024.0 && value.fract() == 0.0 {
        for (p, m) in [
            ("Pi", 1125899906842624.0),
            ("Ti", 1099511627776.0),
            ("Gi", 1073741824.0),
            ("Mi", 1048576.0),
            ("Ki", 1024.0),
        ] {
            // Only a short mantissa reads as a size (64KiB, 512GiB; not 41516144KiB).
            if value >= m && (value / m).fract() == 0.0 && value / m < 1024.0 {
                // Prefer the decimal spelling when it is just as exact and shorter (1GB, not 953.67MiB).
                let si_exact = [1e15, 1e12, 1e9, 1e6, 1e3]
                    .iter()
                    .any(|&s| value >= s && (value / s).fract() == 0.0 && s >= m);
                if !si_exact {
                    return write!(f, "{}{p}{base}", value / m);
                }
                break;
            }
        }
    }
    for (p, m) in [("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)] {
        if value.abs() >= m {
            return write!(f, "{}{p}{base}", round_sig(value / m));
        }
    }
    write!(f, "{}{base}", round_sig(value))
}

/// Rounds to 12 significant digits so that `1.6e12 / 1e12` prints as `1.6`.
fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let digits = 12 - x.abs().log10().ceil() as i32;
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

macro_rules! quantity {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
        pub struct $name(pub f64);

        impl $name {
            /// The zero quantity.
            pub const ZERO: Self = Self(0.0);

            /// The value in the base unit.
            #[inline]
            pub fn get(self) -> f64 {
                self.0
            }

            /// The larger of two quantities.
            #[inline]
            pub fn max(self, other: Self) -> Self {
                Self(self.0.max(other.0))
            }

            /// The smaller of two quantities.
            #[inline]
            pub fn min(self, other: Self) -> Self {
                Self(self.0.min(other.0))
            }
        }

        impl Add for $name {
            type Output = Self;
            #[inline]
            fn add(self, rhs: Self) -> Self {
                Self(self.0 + rhs.0)
            }
        }

        impl AddAssign for $name {
            #[inline]
            fn add_assign(&mut self, rhs: Self) {
                self.0 += rhs.0;
            }
        }

        impl Sub for $name {
            type Output = Self;
            #[inline]
            fn sub(self, rhs: Self) -> Self {
                Self(self.0 - rhs.0)
            }
        }

        impl Mul<f64> for $name {
            type Output = Self;
            #[inline]
            fn mul(self, rhs: f64) -> Self {
                Self(self.0 * rhs)
            }
        }

        impl Mul<$name> for f64 {
            type Output = $name;
            #[inline]
            fn mul(self, rhs: $name) -> $name {
                $name(self * rhs.0)
            }
        }

        impl Div<f64> for $name {
            type Output = Self;
            #[inline]
            fn div(self, rhs: f64) -> Self {
                Self(self.0 / rhs)
            }
        }

        /// The ratio of two quantities of the same kind is a plain number.
        impl Div for $name {
            type Output = f64;
            #[inline]
            fn div(self, rhs: Self) -> f64 {
                self.0 / rhs.0
            }
        }

        impl Sum for $name {
            fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
                Self(iter.map(|q| q.0).sum())
            }
        }

        impl FromStr for $name {
            type Err = UnitError;
            fn from_str(s: &str) -> Result<Self, UnitError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        let k: Kind = $kind;
                        write!(f, "{} with its unit, such as `{}`", k.name, k.example)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::parse(v).map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

quantity!(
    /// A size in bytes (fractional sizes arise from quantisation blocks, e.g. q8_0 is 34/32 B
    /// per element).
    Bytes,
    Kind {
        name: "a size",
        example: "512GiB",
        bases: &["B"]
    }
);
quantity!(
    /// A duration in seconds.
    Seconds,
    Kind {
        name: "a time",
        example: "4us",
        bases: &[]
    }
);
quantity!(
    /// A transfer rate in bytes per second.
    BytesPerSec,
    Kind {
        name: "a bandwidth",
        example: "1.6TB/s",
        bases: &["B/s", "Bps"]
    }
);
quantity!(
    /// A count of floating-point operations.
    Flops,
    Kind {
        name: "a FLOP count",
        example: "2GFLOP",
        bases: &["FLOP"]
    }
);
quantity!(
    /// A compute rate in floating-point operations per second.
    FlopsPerSec,
    Kind {
        name: "a FLOP rate",
        example: "989TFLOP/s",
        bases: &["FLOP/s", "FLOPS"]
    }
);

impl Bytes {
    /// Parses a size such as `64KiB`, `4MB` or `23040B`.
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        parse_prefixed(
            text,
            &Kind {
                name: "a size",
                example: "512GiB",
                bases: &["B"],
            },
        )
        .map(Self)
    }

    /// The size to three significant digits with a decimal prefix (`42.5GB`), for messages
    /// where reading it at a glance matters more than exactness.
    pub fn human(self) -> String {
        for (p, m) in [("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)] {
            if self.0.abs() >= m {
                let v = self.0 / m;
                let decimals = if v.abs() >= 100.0 {
                    0
                } else if v.abs() >= 10.0 {
                    1
                } else {
                    2
                };
                return format!("{v:.decimals$}{p}B");
            }
        }
        format!("{}B", self.0)
    }

    /// A size given in kibibytes.
    pub fn kib(v: f64) -> Self {
        Self(v * 1024.0)
    }

    /// A size given in mebibytes.
    pub fn mib(v: f64) -> Self {
        Self(v * 1048576.0)
    }

    /// A size given in gibibytes.
    pub fn gib(v: f64) -> Self {
        Self(v * 1073741824.0)
    }
}

impl BytesPerSec {
    /// Parses a bandwidth such as `1.6TB/s` or `38GiB/s`.
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        parse_prefixed(
            text,
            &Kind {
                name: "a bandwidth",
                example: "1.6TB/s",
                bases: &["B/s", "Bps"],
            },
        )
        .map(Self)
    }

    /// A bandwidth in GB/s (10^9 bytes per second).
    pub fn gbps(v: f64) -> Self {
        Self(v * 1e9)
    }
}

impl Flops {
    /// Parses a FLOP count such as `2GFLOP`.
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        parse_prefixed(
            text,
            &Kind {
                name: "a FLOP count",
                example: "2GFLOP",
                bases: &["FLOP"],
            },
        )
        .map(Self)
    }
}

impl FlopsPerSec {
    /// Parses a FLOP rate such as `989TFLOP/s`.
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        parse_prefixed(
            text,
            &Kind {
                name: "a FLOP rate",
                example: "989TFLOP/s",
                bases: &["FLOP/s", "FLOPS"],
            },
        )
        .map(Self)
    }
}

impl Seconds {
    /// Parses a time such as `4us`, `4µs`, `0.05ms`, `100ns` or `2s`.
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        const KIND: &str = "a time";
        const EXAMPLE: &str = "4us";
        let (value, unit) = split_number(text).ok_or_else(|| UnitError::BadNumber {
            text: elide(text),
            kind: KIND,
            example: EXAMPLE,
        })?;
        let mult = match unit {
            "" => {
                return Err(UnitError::MissingUnit {
                    text: elide(text),
                    kind: KIND,
                    example: EXAMPLE,
                });
            }
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" | "μs" => 1e-6,
            "ns" => 1e-9,
            "ps" => 1e-12,
            "min" => 60.0,
            "h" => 3600.0,
            _ => {
                return Err(UnitError::UnknownUnit {
                    text: elide(text),
                    unit: elide(unit),
                    kind: KIND,
                    example: EXAMPLE,
                });
            }
        };
        if value < 0.0 {
            return Err(UnitError::Negative {
                text: elide(text),
                kind: KIND,
            });
        }
        finite(value * mult, text, KIND, EXAMPLE).map(Self)
    }

    /// A time in milliseconds.
    pub fn ms(v: f64) -> Self {
        Self(v * 1e-3)
    }

    /// A time in microseconds.
    pub fn us(v: f64) -> Self {
        Self(v * 1e-6)
    }

    /// A time in nanoseconds.
    pub fn ns(v: f64) -> Self {
        Self(v * 1e-9)
    }

    /// This time in milliseconds, for output columns named `*_ms`.
    pub fn as_ms(self) -> f64 {
        self.0 * 1e3
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_prefixed(f, self.0, "B", true)
    }
}

impl fmt::Display for BytesPerSec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_prefixed(f, self.0, "B/s", true)
    }
}

impl fmt::Display for Flops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_prefixed(f, self.0, "FLOP", false)
    }
}

impl fmt::Display for FlopsPerSec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_prefixed(f, self.0, "FLOP/s", false)
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        let a = v.abs();
        if a == 0.0 {
            write!(f, "0s")
        } else if a >= 1.0 {
            write!(f, "{}s", round_sig(v))
        } else if a >= 1e-3 {
            write!(f, "{}ms", round_sig(v * 1e3))
        } else if a >= 1e-6 {
            write!(f, "{}us", round_sig(v * 1e6))
        } else if a >= 1e-9 {
            write!(f, "{}ns", round_sig(v * 1e9))
        } else {
            write!(f, "{}ps", round_sig(v * 1e12))
        }
    }
}

// The cross-unit algebra: only the physically meaningful combinations exist.

impl Div<BytesPerSec> for Bytes {
    type Output = Seconds;
    #[inline]
    fn div(self, rhs: BytesPerSec) -> Seconds {
        Seconds(self.0 / rhs.0)
    }
}

impl Div<Seconds> for Bytes {
    type Output = BytesPerSec;
    #[inline]
    fn div(self, rhs: Seconds) -> BytesPerSec {
        BytesPerSec(self.0 / rhs.0)
    }
}

impl Mul<Seconds> for BytesPerSec {
    type Output = Bytes;
    #[inline]
    fn mul(self, rhs: Seconds) -> Bytes {
        Bytes(self.0 * rhs.0)
    }
}

impl Div<FlopsPerSec> for Flops {
    type Output = Seconds;
    #[inline]
    fn div(self, rhs: FlopsPerSec) -> Seconds {
        Seconds(self.0 / rhs.0)
    }
}

impl Div<Seconds> for Flops {
    type Output = FlopsPerSec;
    #[inline]
    fn div(self, rhs: Seconds) -> FlopsPerSec {
        FlopsPerSec(self.0 / rhs.0)
    }
}

/// Simulated time: an integer count of picoseconds since the start of a run.
///
/// Integer time keeps event order exact and platform-independent. Picoseconds keep the rounding
/// of a single nanosecond-scale transfer (4 KiB over a 1.6 TB/s link is 2.56 ns) below 1e-3
/// relative and of a microsecond-scale access below 1e-6, and a run may last 213 days before
/// the counter saturates: serving studies of 30 days fit with room to spare. A run that
/// reaches [`SimTime::MAX`] has stopped, and every command reports it as an error
/// ([`SimTime::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

/// A simulated run reached the end of the clock's range.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error(
    "the simulated run reaches the end of the clock's range ({:.1} days): a time past it \
     cannot be represented; simulate a shorter run, or check for a zero or near-zero bandwidth \
     or an extreme latency",
    SimTime::MAX.to_seconds().0 / 86_400.0
)]
pub struct ClockOverflow;

impl SimTime {
    /// The origin.
    pub const ZERO: Self = Self(0);
    /// Clock ticks (picoseconds) per second.
    pub const PER_SECOND: f64 = 1e12;
    /// The latest time the clock can hold (about 213.5 days); time saturates there.
    pub const MAX: Self = Self(u64::MAX);

    /// `Ok(self)` while the clock has not saturated; a saturated time is wrong, not late.
    #[inline]
    pub fn check(self) -> Result<Self, ClockOverflow> {
        if self < Self::MAX {
            Ok(self)
        } else {
            Err(ClockOverflow)
        }
    }

    /// The nearest simulated time to a duration (saturating; negative durations become zero).
    #[inline]
    pub fn from_seconds(s: Seconds) -> Self {
        /// From here up every f64 is a whole number: nothing to round.
        const WHOLE: f64 = 4_503_599_627_370_496.0; // 2^52
        let ticks = s.0 * Self::PER_SECOND;
        // Rounding half up by adding a half and truncating: `f64::round` is a libm call on the
        // baseline x86-64 target, and this conversion runs for every simulated access. Below
        // 2^52 the sum is exact enough to round as `round` does; above, the value is whole.
        // NaN compares false both ways and falls through to the saturated end: an undefined
        // duration must not pass for zero.
        if ticks < 0.5 {
            Self(0)
        } else if ticks < WHOLE {
            // Through i64, one instruction: u64 has none before AVX-512, and the sum fits.
            Self((ticks + 0.5) as i64 as u64)
        } else if ticks < u64::MAX as f64 {
            Self(ticks as u64)
        } else {
            Self(u64::MAX)
        }
    }

    /// This time as a duration since the origin.
    #[inline]
    pub fn to_seconds(self) -> Seconds {
        Seconds(self.0 as f64 / Self::PER_SECOND)
    }

    /// `self - earlier`, or zero when `earlier` is later.
    #[inline]
    pub fn saturating_sub(self, earlier: Self) -> Self {
        Self(self.0.saturating_sub(earlier.0))
    }
}

impl Add for SimTime {
    type Output = Self;
    #[inline]
    fn add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for SimTime {
    #[inline]
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

/// A number as written in a spec or on a command line: a dimensional value of one of the unit
/// types, or a plain number (integer or not), kept as the kind it was written in so that values
/// derived from it (a range's steps, a bisection's midpoints) are written back the same way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantity {
    /// A rate (`800GB/s`).
    Rate(BytesPerSec),
    /// A size (`4KiB`).
    Size(Bytes),
    /// A time (`4us`).
    Time(Seconds),
    /// A FLOP rate (`989TFLOP/s`).
    Flops(FlopsPerSec),
    /// A plain number; `true` when written as an integer.
    Plain(f64, bool),
}

impl Quantity {
    /// Reads text with a unit, or a plain number.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if let Ok(i) = t.parse::<i64>() {
            return Some(Self::Plain(i as f64, true));
        }
        if let Ok(x) = t.parse::<f64>() {
            return x.is_finite().then_some(Self::Plain(x, false));
        }
        BytesPerSec::parse(t)
            .map(Self::Rate)
            .or_else(|_| FlopsPerSec::parse(t).map(Self::Flops))
            .or_else(|_| Bytes::parse(t).map(Self::Size))
            .or_else(|_| Seconds::parse(t).map(Self::Time))
            .ok()
    }

    /// The value in base units (bytes, seconds, bytes per second, FLOP/s).
    pub fn get(self) -> f64 {
        match self {
            Self::Rate(x) => x.0,
            Self::Size(x) => x.0,
            Self::Time(x) => x.0,
            Self::Flops(x) => x.0,
            Self::Plain(x, _) => x,
        }
    }

    /// Another value of the same kind, written as this one would be (`42.6GB/s`, `16`).
    pub fn with(self, x: f64) -> Self {
        match self {
            Self::Rate(_) => Self::Rate(BytesPerSec(x)),
            Self::Size(_) => Self::Size(Bytes(x)),
            Self::Time(_) => Self::Time(Seconds(x)),
            Self::Flops(_) => Self::Flops(FlopsPerSec(x)),
            Self::Plain(_, int) => Self::Plain(if int { x.round() } else { x }, int),
        }
    }

    /// Whether two quantities have the same unit.
    pub fn same_kind(self, other: Self) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rate(x) => x.fmt(f),
            Self::Size(x) => x.fmt(f),
            Self::Time(x) => x.fmt(f),
            Self::Flops(x) => x.fmt(f),
            Self::Plain(x, true) => write!(f, "{}", *x as i64),
            Self::Plain(x, false) => write!(f, "{x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_and_binary_prefixes() {
        assert_eq!(Bytes::parse("512GiB").unwrap().0, 512.0 * 1073741824.0);
        assert_eq!(Bytes::parse("64KiB").unwrap().0, 65536.0);
        assert_eq!(Bytes::parse("4MB").unwrap().0, 4e6);
        assert_eq!(Bytes::parse("23040B").unwrap().0, 23040.0);
        assert_eq!(BytesPerSec::parse("1.6TB/s").unwrap().0, 1.6e12);
        assert_eq!(BytesPerSec::parse("819 GB/s").unwrap().0, 819e9);
        assert_eq!(FlopsPerSec::parse("989TFLOP/s").unwrap().0, 989e12);
        assert!((Seconds::parse("4us").unwrap().0 - 4e-6).abs() < 1e-18);
        assert!((Seconds::parse("0.05ms").unwrap().0 - 5e-5).abs() < 1e-18);
        assert!((Seconds::parse("2µs").unwrap().0 - 2e-6).abs() < 1e-18);
        assert_eq!(Seconds::parse("1e-3s").unwrap().0, 1e-3);
    }

    #[test]
    fn bare_numbers_and_wrong_units_are_refused() {
        let e = BytesPerSec::parse("1600").unwrap_err();
        assert!(matches!(e, UnitError::MissingUnit { .. }));
        assert!(e.to_string().contains("1.6TB/s"));
        assert!(matches!(
            Bytes::parse("4us"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            Seconds::parse("-4us"),
            Err(UnitError::Negative { .. })
        ));
        assert!(matches!(
            Seconds::parse("fast"),
            Err(UnitError::BadNumber { .. })
        ));
        assert!(matches!(
            Seconds::parse("NaNs"),
            Err(UnitError::BadNumber { .. })
        ));
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "512GiB",
            "64KiB",
            "4MB",
            "1.6TB/s",
            "819GB/s",
            "989TFLOP/s",
            "4us",
            "50us",
        ] {
            let shown = match text {
                t if t.ends_with("FLOP/s") => FlopsPerSec::parse(t).unwrap().to_string(),
                t if t.ends_with("B/s") => BytesPerSec::parse(t).unwrap().to_string(),
                t if t.ends_with('B') => Bytes::parse(t).unwrap().to_string(),
                t => Seconds::parse(t).unwrap().to_string(),
            };
            assert_eq!(shown, text);
        }
        assert_eq!(Bytes(1e9).to_string(), "1GB");
    }

    #[test]
    fn algebra_keeps_units_apart() {
        let t: Seconds = Bytes(1e9) / BytesPerSec(1e9);
        assert_eq!(t.0, 1.0);
        let r: BytesPerSec = Bytes(2e9) / Seconds(2.0);
        assert_eq!(r.0, 1e9);
        assert_eq!(SimTime::from_seconds(Seconds::us(4.0)).0, 4_000_000);
        assert_eq!(SimTime::from_seconds(Seconds(-1.0)).0, 0);
    }

    #[test]
    fn conversion_rounds_as_f64_round_does() {
        let mut x = 1e-13_f64;
        while x < 1e7 {
            for t in [
                x,
                x * 1.000_000_1,
                x * 0.999_999_9,
                (x * 1e12).floor() / 1e12 + 0.5e-12,
            ] {
                let want = (t * SimTime::PER_SECOND).round() as u64;
                assert_eq!(SimTime::from_seconds(Seconds(t)).0, want, "{t}");
            }
            x *= 1.37;
        }
    }

    #[test]
    fn the_clock_holds_30_days_at_picoseconds_and_refuses_what_it_cannot_hold() {
        let month = Seconds(30.0 * 86_400.0);
        let t = SimTime::from_seconds(month);
        assert_eq!(t.check(), Ok(t));
        assert_eq!(t.to_seconds(), month);
        // One picosecond is one tick.
        assert_eq!(SimTime::from_seconds(Seconds(1e-12)).0, 1);
        for past in [Seconds(1e20), Seconds(f64::INFINITY), Seconds(f64::NAN)] {
            assert_eq!(SimTime::from_seconds(past).check(), Err(ClockOverflow));
        }
        assert_eq!((SimTime::MAX + SimTime(1)).check(), Err(ClockOverflow));
    }
}
