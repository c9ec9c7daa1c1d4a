//! Axis ranges, tick placement and tick labels.
//!
//! Everything here works in *plot space*: `log10(v)` on a log axis, `v` itself on a linear one,
//! so that plotters only ever sees a linear coordinate and the tick values we chose.
//!
//! An axis carries one unit prefix, chosen from its ticks, in its title (`read bandwidth
//! (GB/s)`), and its tick labels are plain numbers in that unit (`10 20 50 100 200`): a reader
//! compares positions, not suffixes, and a size axis in GiB is ticked at whole GiB.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

use super::{Unit, auto_log, text_width};
use crate::report::numfmt::{self, IEC, SI};

/// Gap, in pixels, that must separate two neighbouring tick labels along the x axis.
const X_LABEL_GAP: f64 = 12.0;
/// Minimum distance between two y tick labels on a linear axis: a 12 px label plus enough air
/// that the grid stays sparse (at most about eight lines on a 400 px axis).
const Y_LABEL_PITCH: f64 = 50.0;
/// The same on a log axis, whose 1-2-5 ticks are unevenly spaced by nature: only legibility
/// counts there (1→2 is the tightest step, and skipping 2 and 5 leaves one label per decade).
const Y_LOG_LABEL_PITCH: f64 = 26.0;

/// One axis resolved for drawing: its range, ticks and labels, all in plot space.
#[derive(Debug, Clone)]
pub(super) struct AxisSpec {
    pub log: bool,
    pub lo: f64,
    pub hi: f64,
    /// Labelled ticks (plot space) and their labels.
    pub ticks: Vec<(f64, String)>,
    /// Unlabelled grid lines (plot space), lighter than the labelled ones.
    pub minor: Vec<f64>,
    /// The unit with its prefix for the axis title (`GB/s`, `µs`, `GiB`), `None` when
    /// dimensionless.
    pub unit_text: Option<String>,
}

impl AxisSpec {
    /// Resolves an axis from its data values. `horizontal` tells which spacing rule applies to
    /// the labels (widths side by side, or heights stacked); `len_px` is the axis length.
    pub fn new(
        values: &[f64],
        log: Option<bool>,
        unit: &Unit,
        horizontal: bool,
        len_px: f64,
        pad: bool,
    ) -> Self {
        if let Unit::Category(names) = unit {
            return category_axis(names);
        }
        let log = log.unwrap_or_else(|| auto_log(values));
        let finite: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && (!log || *v > 0.0))
            .collect();
        if log {
            log_axis(&finite, unit, horizontal, len_px, pad)
        } else {
            linear_axis(&finite, unit, horizontal, len_px, pad)
        }
    }

    /// Maps a data value to plot space; `None` when it cannot be drawn on this axis.
    pub fn to_plot(&self, v: f64) -> Option<f64> {
        to_plot(v, self.log)
    }

    /// Where `p` (plot space) falls along the axis, 0 at `lo` and 1 at `hi`.
    pub fn frac(&self, p: f64) -> f64 {
        (p - self.lo) / (self.hi - self.lo)
    }

    /// The label of the tick at plot position `p`, for plotters' label formatter.
    pub fn label_at(&self, p: f64) -> String {
        self.ticks
            .iter()
            .find(|(t, _)| (t - p).abs() <= 1e-9 * (1.0 + t.abs()))
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    }

    /// The widest tick label, in pixels at `font_px`.
    pub fn max_label_width(&self, font_px: f64) -> f64 {
        self.ticks
            .iter()
            .map(|(_, l)| text_width(l, font_px))
            .fold(0.0, f64::max)
    }

    /// The coordinate plotters draws on: linear over plot space, with exactly our ticks.
    pub fn coord(&self) -> TickCoord {
        TickCoord {
            lo: self.lo,
            hi: self.hi,
            major: self.ticks.iter().map(|(t, _)| *t).collect(),
            minor: self.minor.clone(),
        }
    }
}

/// Maps a data value to plot space (`log10` on a log axis); `None` when it cannot be drawn:
/// non-finite, or not positive on a log axis.
pub(super) fn to_plot(v: f64, log: bool) -> Option<f64> {
    if !v.is_finite() {
        None
    } else if log {
        (v > 0.0).then(|| v.log10())
    } else {
        Some(v)
    }
}

/// A plotters 1-D coordinate whose key points are the ticks we chose, so that plotters' own
/// tick search (which knows nothing of 1-2-5 log ticks or of label widths) never runs.
pub(super) struct TickCoord {
    lo: f64,
    hi: f64,
    major: Vec<f64>,
    minor: Vec<f64>,
}

impl Ranged for TickCoord {
    type ValueType = f64;
    type FormatOption = NoDefaultFormatting;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = (v - self.lo) / (self.hi - self.lo);
        (f64::from(limit.0) + t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        let mut points = self.major.clone();
        if hint.weight().allow_light_points() {
            points.extend(&self.minor);
        }
        points
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for TickCoord {
    fn format_ext(&self, value: &f64) -> String {
        format!("{value}")
    }
}

/// One tick per name, at 0, 1, 2 …, half a step of air at each end.
fn category_axis(names: &[String]) -> AxisSpec {
    AxisSpec {
        log: false,
        lo: -0.5,
        hi: names.len().max(1) as f64 - 0.5,
        ticks: names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as f64, n.clone()))
            .collect(),
        minor: Vec::new(),
        unit_text: None,
    }
}

/// Linear axis: the data span (at least a tenth of the values' size) padded by 4 %, anchored at
/// zero when the data are non-negative and reach down near it (so that ratios between curves
/// read true), with 1-2-5 ticks as dense as the labels allow (in whole binary units for
/// [`Unit::BinaryBytes`]).
fn linear_axis(values: &[f64], unit: &Unit, horizontal: bool, len_px: f64, pad: bool) -> AxisSpec {
    let (mut lo, mut hi) = min_max(values).unwrap_or((0.0, 1.0));
    // A spread under a tenth of the values' size (a 0.7 % wobble of a flat rate) would fill
    // the plot and read as a trend: the axis spans at least that tenth, centred on the data.
    let least = 0.1 * lo.abs().max(hi.abs());
    if pad && lo != hi && hi - lo < least {
        let mid = 0.5 * (lo + hi);
        lo = mid - 0.5 * least;
        hi = mid + 0.5 * least;
        if min_max(values).is_some_and(|(l, _)| l >= 0.0) && lo < 0.0 {
            (lo, hi) = (0.0, least);
        }
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo -= pad;
        hi += pad;
    } else if pad {
        let pad = (hi - lo) * 0.04;
        let zero_anchored = lo >= 0.0 && lo <= 0.25 * hi;
        lo = if zero_anchored { 0.0 } else { lo - pad };
        hi += pad;
    }
    // Binary sizes step in whole KiB, MiB or GiB: 0, 2, 4 … 16 GiB, not 0, 5, 10, 15 GB.
    let step_unit = if *unit == Unit::BinaryBytes {
        binary_scale(lo.abs().max(hi.abs()))
    } else {
        1.0
    };
    let mut best: Option<Labelled> = None;
    // Coarsest first would always fit; go from dense to coarse and keep the first that fits.
    for target in (2..=12).rev() {
        let in_units = if *unit == Unit::BinaryBytes {
            binary_ticks(lo / step_unit, hi / step_unit, target)
        } else {
            linear_ticks(lo, hi, target)
        };
        let ticks: Vec<f64> = in_units.into_iter().map(|t| t * step_unit).collect();
        let (labelled, unit_text) = labelled(&ticks, unit, |t| t);
        let ok = fits(&labelled, lo, hi, horizontal, len_px, Y_LABEL_PITCH);
        best = Some((labelled, unit_text));
        if ok {
            break;
        }
    }
    let (ticks, unit_text) = best.unwrap_or_default();
    AxisSpec {
        log: false,
        lo,
        hi,
        ticks,
        minor: Vec::new(),
        unit_text,
    }
}

/// Ticks at whole multiples of a power-of-two step (…, 0.5, 1, 2, 4, 8, …) giving at most
/// about `target` ticks: sizes counted in GiB read 0, 4, 8, 12, 16.
fn binary_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let span = hi - lo;
    if !span.is_finite() || span <= 0.0 {
        return vec![lo];
    }
    let raw = span / target.max(1) as f64;
    let step = 2f64.powi(raw.log2().ceil() as i32);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// The largest binary unit (1, KiB, MiB, …) not above `v`.
fn binary_scale(v: f64) -> f64 {
    let mut scale = 1.0;
    while scale * 1024.0 <= v {
        scale *= 1024.0;
    }
    scale
}

/// Labelled ticks in plot space, and the prefixed unit for the axis title.
type Labelled = (Vec<(f64, String)>, Option<String>);

/// Ticks (data values) labelled in the prefix that suits them all, at plot positions given by
/// `to_plot`, and the prefixed unit for the title.
fn labelled(ticks: &[f64], unit: &Unit, to_plot: impl Fn(f64) -> f64) -> Labelled {
    let (scale, unit_text) = axis_prefix(unit, ticks);
    let labels = ticks
        .iter()
        .map(|&t| (to_plot(t), tick_label(unit, t / scale)))
        .collect();
    (labels, unit_text)
}

/// Nice linear ticks: a step of 1, 2 or 5 × 10^k giving at most about `target` ticks.
pub(super) fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let span = hi - lo;
    if !span.is_finite() || span <= 0.0 {
        return vec![lo];
    }
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    // Multiplying an integer by the step (rather than accumulating) keeps 0.1 + 0.2 errors out.
    (first..=last)
        .map(|i| {
            let v = i as f64 * step;
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect()
}

/// Log axis: the data span padded by 3 % of its decades, with the densest tick family whose
/// labels fit: 1-2-5 per decade, then every decade, then every n-th decade (powers of two for
/// binary sizes).
fn log_axis(values: &[f64], unit: &Unit, horizontal: bool, len_px: f64, pad: bool) -> AxisSpec {
    let (vmin, vmax) = min_max(values).unwrap_or((1.0, 10.0));
    let (mut lo, mut hi) = (vmin.log10(), vmax.log10());
    if hi - lo < 1e-9 {
        lo -= std::f64::consts::LOG10_2;
        hi += std::f64::consts::LOG10_2;
    } else if pad {
        let pad = (hi - lo) * 0.03;
        lo -= pad;
        hi += pad;
    }
    let candidates = if matches!(unit, Unit::BinaryBytes) {
        pow2_candidates(lo, hi)
    } else {
        decade_candidates(lo, hi)
    };
    for (major, minor) in &candidates {
        let (ticks, unit_text) = labelled(major, unit, f64::log10);
        if ticks.len() >= 2 && fits(&ticks, lo, hi, horizontal, len_px, Y_LOG_LABEL_PITCH) {
            return AxisSpec {
                log: true,
                lo,
                hi,
                ticks,
                minor: minor.clone(),
                unit_text,
            };
        }
    }
    // Less than a decade with no two 1..9 ticks inside: place nice linear values instead.
    let mut target = 8;
    loop {
        let values: Vec<f64> = linear_ticks(10f64.powf(lo), 10f64.powf(hi), target)
            .into_iter()
            .filter(|v| *v > 0.0)
            .collect();
        let (ticks, unit_text) = labelled(&values, unit, f64::log10);
        if target <= 2 || fits(&ticks, lo, hi, horizontal, len_px, Y_LOG_LABEL_PITCH) {
            return AxisSpec {
                log: true,
                lo,
                hi,
                ticks,
                minor: Vec::new(),
                unit_text,
            };
        }
        target -= 1;
    }
}

/// A tick family: major ticks as exact data values (so that labels need no rounding), and
/// minor grid lines in plot space.
type TickFamily = (Vec<f64>, Vec<f64>);

/// `m × 10^d`, correctly rounded (`powi` can be off by an ulp, which would show as `2.0000001`).
fn decimal(m: u32, d: i32) -> f64 {
    format!("{m}e{d}").parse().unwrap_or(f64::NAN)
}

/// Tick families for a decimal log axis, densest first, each with its minor grid.
fn decade_candidates(lo: f64, hi: f64) -> Vec<TickFamily> {
    let d0 = lo.floor() as i32;
    let d1 = hi.ceil() as i32;
    let within = |v: f64| v.log10() >= lo - 1e-9 && v.log10() <= hi + 1e-9;
    let at = |mantissas: &[u32]| -> Vec<f64> {
        (d0..=d1)
            .flat_map(|d| mantissas.iter().map(move |&m| decimal(m, d)))
            .filter(|v| within(*v))
            .collect()
    };
    let plot = |v: Vec<f64>| -> Vec<f64> { v.into_iter().map(f64::log10).collect() };
    let mut out = vec![
        (at(&[1, 2, 3, 4, 5, 6, 7, 8, 9]), Vec::new()),
        (at(&[1, 2, 5]), plot(at(&[3, 4, 6, 7, 8, 9]))),
        (at(&[1]), plot(at(&[2, 3, 4, 5, 6, 7, 8, 9]))),
    ];
    for every in 2..=6 {
        let decades = |keep: bool| -> Vec<f64> {
            (d0..=d1)
                .filter(|d| (d.rem_euclid(every) == 0) == keep)
                .map(|d| decimal(1, d))
                .filter(|v| within(*v))
                .collect()
        };
        out.push((decades(true), plot(decades(false))));
    }
    out
}

/// Tick families for a byte-size log axis: powers of two, which format as IEC sizes.
fn pow2_candidates(lo: f64, hi: f64) -> Vec<TickFamily> {
    let l2 = std::f64::consts::LOG10_2;
    let e0 = (lo / l2).floor() as i32;
    let e1 = (hi / l2).ceil() as i32;
    let within = |v: f64| v.log10() >= lo - 1e-9 && v.log10() <= hi + 1e-9;
    (1..=20)
        .map(|every| {
            let pick = |keep: bool| -> Vec<f64> {
                (e0..=e1)
                    .filter(|e| (e.rem_euclid(every) == 0) == keep)
                    .map(|e| 2f64.powi(e))
                    .filter(|v| within(*v))
                    .collect()
            };
            let minor = if every <= 4 {
                pick(false).into_iter().map(f64::log10).collect()
            } else {
                Vec::new()
            };
            (pick(true), minor)
        })
        .collect()
}

/// Whether neighbouring labels keep clear of each other along an axis of `len_px` pixels
/// (vertically, whether they are at least `y_pitch` apart).
fn fits(
    ticks: &[(f64, String)],
    lo: f64,
    hi: f64,
    horizontal: bool,
    len_px: f64,
    y_pitch: f64,
) -> bool {
    let px = |t: f64| (t - lo) / (hi - lo) * len_px;
    // The last x label is centred on its tick and may overhang the plot by the right margin.
    let overhangs = horizontal
        && ticks
            .last()
            .is_some_and(|(t, l)| px(*t) + text_width(l, super::TICK_PX) / 2.0 > len_px + 26.0);
    !overhangs
        && ticks.windows(2).all(|w| {
            let gap = (px(w[1].0) - px(w[0].0)).abs();
            if horizontal {
                let need = (text_width(&w[0].1, super::TICK_PX)
                    + text_width(&w[1].1, super::TICK_PX))
                    / 2.0
                    + X_LABEL_GAP;
                gap >= need
            } else {
                gap >= y_pitch
            }
        })
}

fn min_max(values: &[f64]) -> Option<(f64, f64)> {
    let mut it = values.iter().copied().filter(|v| v.is_finite());
    let first = it.next()?;
    Some(it.fold((first, first), |(a, b), v| (a.min(v), b.max(v))))
}

/// The divisor and the prefixed unit of an axis whose ticks are `ticks`.
///
/// The prefix is the one that puts the largest tick in [1, 1000), stepped down once when that
/// would write the smallest non-zero tick below 0.1 and the largest still stays under 10,000:
/// 10 GB/s to 2 TB/s reads `10 … 2000` in GB/s, not `0.01 … 2` in TB/s.
fn axis_prefix(unit: &Unit, ticks: &[f64]) -> (f64, Option<String>) {
    let table: &[(f64, &str)] = match unit {
        Unit::BytesPerSec | Unit::Bytes => &SI[4..],
        // No kiloseconds: long times stay in seconds.
        Unit::Seconds => &SI[..5],
        Unit::BinaryBytes => &IEC,
        _ => return (1.0, unit.symbol().map(str::to_owned)),
    };
    let symbol = unit.symbol().unwrap_or_default();
    let max = ticks.iter().map(|t| t.abs()).fold(0.0, f64::max);
    let min = ticks
        .iter()
        .map(|t| t.abs())
        .filter(|t| *t > 0.0)
        .fold(f64::INFINITY, f64::min);
    if max == 0.0 || !max.is_finite() {
        let one = table.iter().position(|(s, _)| *s == 1.0).unwrap_or(0);
        return (1.0, Some(format!("{}{symbol}", table[one].1)));
    }
    let mut i = table
        .iter()
        .rposition(|(s, _)| max >= *s * (1.0 - 1e-9))
        .unwrap_or(0);
    if i > 0 && min / table[i].0 < 0.1 && max / table[i - 1].0 < 10_000.0 {
        i -= 1;
    }
    let (scale, prefix) = table[i];
    (scale, Some(format!("{prefix}{symbol}")))
}

/// A tick's number in the axis' prefixed unit: plain digits, thousands grouped for counts.
fn tick_label(unit: &Unit, v: f64) -> String {
    match unit {
        Unit::Count | Unit::TokensPerSec if v.abs() >= 10_000.0 => numfmt::grouped(v),
        _ => numfmt::sig(v, 6),
    }
}

/// `v` in `unit` as text with its own prefix, for legends and notes: `800 GB/s`, `4 µs`,
/// `4 GiB`, `90 %`, `1200 tokens/s`.
pub fn format_value(unit: &Unit, v: f64) -> String {
    match unit {
        Unit::BytesPerSec => numfmt::si(v, "B/s", 3),
        Unit::Bytes => numfmt::si(v, "B", 3),
        Unit::BinaryBytes => numfmt::si_binary(v, "B", 3),
        Unit::Seconds => numfmt::si(v, "s", 3),
        // Rates from 100 tokens/s up are whole: 3,012, not 3010.
        Unit::TokensPerSec if v.abs() >= 100.0 => format!("{} tokens/s", numfmt::grouped(v)),
        Unit::TokensPerSec => format!("{} tokens/s", numfmt::sig(v, 3)),
        Unit::Percent => format!("{} %", numfmt::sig(v, 3)),
        Unit::Count => {
            if v.abs() >= 10_000.0 {
                numfmt::grouped(v)
            } else {
                numfmt::sig(v, 6)
            }
        }
        Unit::Ratio => numfmt::sig(v, 3),
        Unit::Custom(u) if u.is_empty() => numfmt::sig(v, 3),
        Unit::Custom(u) => format!("{} {u}", numfmt::sig(v, 3)),
        Unit::Category(names) => {
            let i = v.round();
            if i >= 0.0 && (i as usize) < names.len() {
                names[i as usize].clone()
            } else {
                numfmt::sig(v, 3)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(a: &AxisSpec) -> Vec<&str> {
        a.ticks.iter().map(|(_, l)| l.as_str()).collect()
    }

    #[test]
    fn log_bandwidth_axis_has_decade_labels_in_one_prefix() {
        let a = AxisSpec::new(&[1e9, 2e12], None, &Unit::BytesPerSec, true, 680.0, true);
        assert!(a.log);
        assert_eq!(a.unit_text.as_deref(), Some("GB/s"));
        let l = labels(&a);
        for want in ["1", "10", "100", "1000"] {
            assert!(l.contains(&want), "{want} missing from {l:?}");
        }
    }

    #[test]
    fn log_axis_uses_1_2_5_when_there_is_room() {
        let a = AxisSpec::new(
            &[1e9, 2e12],
            Some(true),
            &Unit::BytesPerSec,
            false,
            1400.0,
            true,
        );
        let l = labels(&a);
        assert!(l.contains(&"2") && l.contains(&"500"), "{l:?}");
    }

    #[test]
    fn a_flat_series_is_drawn_flat() {
        // pp512 rates that differ by 0.7 % span at least a tenth of their size, so the wobble
        // stays a wobble; a series spread wider keeps its own span.
        let a = AxisSpec::new(
            &[2990.4, 3012.1],
            None,
            &Unit::TokensPerSec,
            false,
            500.0,
            true,
        );
        assert!(a.hi - a.lo >= 0.1 * 3012.1, "{} .. {}", a.lo, a.hi);
        assert!(a.lo < 2990.4 && a.hi > 3012.1);
        let b = AxisSpec::new(
            &[100.0, 300.0],
            None,
            &Unit::TokensPerSec,
            false,
            500.0,
            true,
        );
        assert!(b.hi - b.lo < 300.0, "{} .. {}", b.lo, b.hi);
        // Near zero, a non-negative series does not get a negative axis.
        let c = AxisSpec::new(
            &[0.001, 0.0011],
            None,
            &Unit::TokensPerSec,
            false,
            500.0,
            true,
        );
        assert!(c.lo >= 0.0, "{}", c.lo);
    }

    #[test]
    fn linear_ticks_step_by_1_2_5() {
        for (lo, hi, target) in [
            (0.0, 71.3, 6),
            (0.13, 0.97, 5),
            (-3.0, 1234.0, 8),
            (2e9, 9e11, 6),
        ] {
            let t = linear_ticks(lo, hi, target);
            assert!(t.len() >= 2, "{t:?}");
            let step = t[1] - t[0];
            let mant = step / 10f64.powf(step.log10().floor());
            assert!(
                [1.0, 2.0, 5.0].iter().any(|m| (mant - m).abs() < 1e-9),
                "step {step} in {t:?}"
            );
            assert!(t.len() <= target + 1);
            assert!(t.iter().all(|v| *v >= lo - 1e-9 && *v <= hi + 1e-9));
            // Every tick is a whole multiple of the step.
            assert!(
                t.iter()
                    .all(|v| ((v / step) - (v / step).round()).abs() < 1e-9)
            );
        }
        assert_eq!(linear_ticks(0.0, 1.0, 5).len(), 6);
    }

    #[test]
    fn prefixes_follow_the_range() {
        let pick = |unit: &Unit, ticks: &[f64]| axis_prefix(unit, ticks).1.unwrap_or_default();
        assert_eq!(pick(&Unit::BytesPerSec, &[1e10, 1e11, 1e12]), "GB/s");
        assert_eq!(pick(&Unit::BytesPerSec, &[1e12, 2e12]), "TB/s");
        assert_eq!(pick(&Unit::BytesPerSec, &[3e11, 4e11]), "GB/s");
        assert_eq!(pick(&Unit::Seconds, &[1e-6, 1e-5, 3e-5]), "µs");
        assert_eq!(pick(&Unit::Seconds, &[0.0, 0.5, 1.0, 1.5]), "s");
        assert_eq!(pick(&Unit::Seconds, &[100.0, 7200.0]), "s");
        assert_eq!(pick(&Unit::BinaryBytes, &[0.0, 8.0 * 1073741824.0]), "GiB");
        assert_eq!(pick(&Unit::Bytes, &[5e8, 5e9]), "GB");
        assert_eq!(pick(&Unit::TokensPerSec, &[0.0, 3000.0]), "tokens/s");
        assert_eq!(axis_prefix(&Unit::Ratio, &[0.5, 1.0]).1, None);
    }

    #[test]
    fn unit_labels() {
        assert_eq!(format_value(&Unit::BytesPerSec, 8e11), "800 GB/s");
        assert_eq!(format_value(&Unit::BytesPerSec, 1.6e12), "1.6 TB/s");
        assert_eq!(
            format_value(&Unit::BytesPerSec, 619.949237894e9),
            "620 GB/s"
        );
        assert_eq!(format_value(&Unit::Seconds, 4e-6), "4 µs");
        assert_eq!(format_value(&Unit::Seconds, 1e-3), "1 ms");
        assert_eq!(format_value(&Unit::Bytes, 1.207959552e9), "1.21 GB");
        assert_eq!(format_value(&Unit::BinaryBytes, 4096.0), "4 KiB");
        assert_eq!(
            format_value(&Unit::BinaryBytes, 1.5 * 1073741824.0),
            "1.5 GiB"
        );
        assert_eq!(format_value(&Unit::Percent, 90.0), "90 %");
        assert_eq!(format_value(&Unit::TokensPerSec, 264.776), "265 tokens/s");
        assert_eq!(format_value(&Unit::TokensPerSec, 3012.07), "3,012 tokens/s");
        assert_eq!(format_value(&Unit::TokensPerSec, 8.2435), "8.24 tokens/s");
        assert_eq!(format_value(&Unit::Count, 65536.0), "65,536");
        assert_eq!(format_value(&Unit::Ratio, -0.0), "0");
        assert_eq!(format_value(&Unit::Ratio, 1e-5), "0.00001");
    }

    #[test]
    fn tick_labels_are_plain_numbers() {
        let a = AxisSpec::new(&[1.6, 306.0], None, &Unit::TokensPerSec, false, 380.0, true);
        assert!(a.log);
        assert!(
            labels(&a)
                .iter()
                .all(|l| l.parse::<f64>().is_ok() && !l.contains('e')),
            "{:?}",
            labels(&a)
        );
    }

    #[test]
    fn binary_sizes_tick_at_whole_binary_units() {
        let gib = 1073741824.0;
        let vals: Vec<f64> = [0.0, 1.0, 2.0, 4.0, 8.0, 12.0, 16.0]
            .iter()
            .map(|g| g * gib)
            .collect();
        let a = AxisSpec::new(&vals, None, &Unit::BinaryBytes, false, 380.0, true);
        assert!(!a.log);
        assert_eq!(a.unit_text.as_deref(), Some("GiB"));
        for (t, l) in &a.ticks {
            let g = t / gib;
            assert_eq!(g, g.round(), "tick {t} is not a whole GiB");
            assert_eq!(l, &numfmt::sig(g, 6));
        }
        assert_eq!(binary_ticks(0.0, 16.6, 5), [0.0, 4.0, 8.0, 12.0, 16.0]);
        let log = AxisSpec::new(
            &[4096.0, 64.0 * 1048576.0],
            None,
            &Unit::BinaryBytes,
            true,
            680.0,
            true,
        );
        assert!(log.log);
        assert!(
            log.ticks
                .iter()
                .all(|(t, _)| (10f64.powf(*t).log2() - 10f64.powf(*t).log2().round()).abs() < 1e-9),
            "{:?}",
            labels(&log)
        );
    }

    #[test]
    fn degenerate_axes_still_have_ticks() {
        for (vals, log) in [
            (vec![], None),
            (vec![f64::NAN], None),
            (vec![5.0], None),
            (vec![0.0], None),
            (vec![3e9], Some(true)),
            (vec![300.0, 800.0], Some(true)),
        ] {
            let a = AxisSpec::new(&vals, log, &Unit::BytesPerSec, true, 600.0, true);
            assert!(a.hi > a.lo, "{vals:?}");
            assert!(!a.ticks.is_empty(), "{vals:?}");
        }
    }
}
