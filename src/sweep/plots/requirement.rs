//! The chart of a requirement: the answer against the first `over` parameter, one curve per
//! target, and a note under the chart for every row whose target was not met (or was met
//! everywhere), so that a missing point is explained on the figure.

use crate::config::load;
use crate::config::system::SystemSpec;
use crate::report::numfmt;
use crate::report::plot::{Axis, Gap, LineChart, LineStyle, Series, Unit, format_value, line_svg};
use crate::sweep::require::{Answer, Bound, Goal, Metric, Prepared, RequirementRow, Target};
use crate::sweep::spec::{quantity, value_text};
use crate::units::Quantity;

use super::labels::{self, Param};

/// A target in words: `decode ≥ 90 % of all-HBM`, `p99 TPOT ≤ 50 ms`.
pub fn target_words(t: &Target, baseline: &str) -> String {
    let metric = match t.metric {
        Metric::Pp => "prefill",
        Metric::Tg => "decode",
        Metric::Pg => "prompt + decode",
        Metric::TpotP50 => "median TPOT",
        Metric::TpotP99 => "p99 TPOT",
        Metric::Ttft => "mean TTFT",
    };
    let op = if t.at_least { "≥" } else { "≤" };
    let is_rate = matches!(t.metric, Metric::Pp | Metric::Tg | Metric::Pg);
    let bound = match t.bound {
        Bound::Baseline(k) => format!("{} % of {baseline}", numfmt::sig(100.0 * k, 3)),
        Bound::Value(v) if is_rate => format!("{} tokens/s", numfmt::sig(v, 3)),
        Bound::Value(v) => numfmt::duration(v),
    };
    format!("{metric} {op} {bound}")
}

/// The metric a target reads, as a value in words: `decode 183 tokens/s`.
fn metric_value(t: &Target, v: f64) -> String {
    let words = target_words(t, "");
    let metric = words.split(['≥', '≤']).next().unwrap_or_default().trim();
    match t.metric {
        Metric::Pp | Metric::Tg | Metric::Pg => {
            format!("{metric} {}", format_value(&Unit::TokensPerSec, v))
        }
        _ => format!("{metric} {}", numfmt::duration(v)),
    }
}

/// Phrases joined as one, their shared start and end said once (word by word): `decode ≥ 90,
/// 95 and 99 % of all-HBM`.
fn join_common(phrases: &[String]) -> String {
    let words: Vec<Vec<&str>> = phrases.iter().map(|p| p.split(' ').collect()).collect();
    let Some(first) = words.first() else {
        return String::new();
    };
    if words.len() == 1 {
        return phrases[0].clone();
    }
    let shortest = words.iter().map(Vec::len).min().unwrap_or(0);
    let head = (0..shortest)
        .take_while(|&i| words.iter().all(|w| w[i] == first[i]))
        .count();
    let tail = (0..shortest - head)
        .take_while(|&i| {
            words
                .iter()
                .all(|w| w[w.len() - 1 - i] == first[first.len() - 1 - i])
        })
        .count();
    let middles: Vec<String> = words
        .iter()
        .map(|w| w[head..w.len() - tail].join(" "))
        .collect();
    let list = match middles.as_slice() {
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
        [] => String::new(),
    };
    let mut out: Vec<String> = first[..head].iter().map(|w| (*w).to_owned()).collect();
    out.push(list);
    out.extend(first[first.len() - tail..].iter().map(|w| (*w).to_owned()));
    out.join(" ")
}

/// The requirement's curve as an SVG document, or `None` without an `over` parameter to plot
/// against.
pub fn requirement_svg(p: &Prepared, rows: &[RequirementRow]) -> Option<String> {
    let x_axis = p.spec.over.first()?;
    let fixed = p.spec.set.clone();
    let sets = crate::sweep::spec::map_overrides(&fixed).unwrap_or_default();
    let system: Option<SystemSpec> = load::system(Some(&p.spec.system), &sets)
        .ok()
        .map(|s| s.spec);
    let model = load::model(Some(&p.spec.model), &sets)
        .map_or_else(|_| p.spec.model.clone(), |m| labels::model_name(&m.spec));
    let systems: Vec<&SystemSpec> = system.iter().collect();
    let over_texts: Vec<String> = rows
        .iter()
        .filter_map(|r| r.over.first().map(value_text))
        .collect();
    let over_refs: Vec<&str> = over_texts.iter().map(String::as_str).collect();
    let x = Param::new(&x_axis.param, &systems, &over_refs);
    // Systems (the readings of a tier) have no order or scale: one tick each, in spec order,
    // named by what tells them apart.
    let categories: Option<Vec<String>> = (x_axis.param == "system").then(|| {
        let mut seen: Vec<String> = Vec::new();
        for t in &over_texts {
            if !seen.contains(t) {
                seen.push(t.clone());
            }
        }
        seen
    });
    let category_names: Vec<String> = categories
        .iter()
        .flatten()
        .map(|n| {
            let s = load::system(Some(n), &sets).ok().map(|s| s.spec);
            labels::system_tick(n, s.as_ref())
        })
        .collect();
    let x_value = |raw: &str| match &categories {
        Some(c) => c
            .iter()
            .position(|n| n == raw)
            .map_or(f64::NAN, |i| i as f64),
        None => x.plot_value(raw, system.as_ref()),
    };
    let x_place = |raw: &str| match &categories {
        Some(c) => c
            .iter()
            .position(|n| n == raw)
            .map_or_else(|| raw.to_owned(), |i| category_names[i].clone()),
        None => x.value_words(raw, system.as_ref()),
    };
    let bounds = (
        value_text(&p.spec.solve.bounds.0),
        value_text(&p.spec.solve.bounds.1),
    );
    let y = Param::new(&p.spec.solve.param, &systems, &[&bounds.0, &bounds.1]);
    let y_kind = quantity(&p.spec.solve.bounds.0)?;
    let y_unit = y.unit.clone().unwrap_or_else(|| labels::unit_of(y_kind));
    let baseline = labels::baseline_words(&p.spec.baseline, system.as_ref())
        .map_or("the baseline".to_owned(), |b| {
            b.trim_end_matches(" baseline").to_owned()
        });
    let target_of = |r: &RequirementRow| -> Option<&Target> {
        let i = p.spec.targets.iter().position(|t| *t == r.target)?;
        p.targets.get(i)
    };

    let mut series: Vec<Series> = Vec::new();
    let mut unmet: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    let mut always: Vec<(String, Vec<String>)> = Vec::new();
    let mut others_seen: Vec<String> = Vec::new();
    for r in rows {
        let Some(t) = target_of(r) else { continue };
        let words = target_words(t, &baseline);
        let others: Vec<String> = p
            .spec
            .over
            .iter()
            .zip(&r.over)
            .skip(1)
            .map(|(a, v)| {
                Param::new(&a.param, &systems, &[&value_text(v)])
                    .value_words(&value_text(v), system.as_ref())
            })
            .collect();
        let others = others.join(", ");
        if !others_seen.contains(&others) {
            others_seen.push(others.clone());
        }
        let label = if others.is_empty() {
            words.clone()
        } else {
            format!("{words}, {others}")
        };
        let raw = r.over.first().map(value_text).unwrap_or_default();
        let xv = x_value(&raw);
        let place = x_place(&raw);
        let at = if others.is_empty() {
            place
        } else {
            format!("{place} ({others})")
        };
        let yv = match r.answer {
            Answer::Found { value, .. } => value,
            Answer::NotMet { best } => {
                match unmet.iter_mut().find(|(a, _, _)| *a == at) {
                    Some((_, ts, bests)) => {
                        ts.push(words.clone());
                        bests.push(metric_value(t, best));
                    }
                    None => unmet.push((at, vec![words.clone()], vec![metric_value(t, best)])),
                }
                f64::NAN
            }
            Answer::AlwaysMet { .. } => {
                match always.iter_mut().find(|(a, _)| *a == at) {
                    Some((_, ts)) => ts.push(words.clone()),
                    None => always.push((at, vec![words.clone()])),
                }
                f64::NAN
            }
        };
        let colour = p.targets.iter().position(|x| x == t).unwrap_or(0);
        let line = others_seen.iter().position(|o| *o == others).unwrap_or(0);
        match series.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push((xv, yv)),
            None => series.push(Series::new(label, vec![(xv, yv)]).styled(
                colour,
                if categories.is_some() {
                    LineStyle::Markers
                } else {
                    LineStyle::ALL[line % LineStyle::ALL.len()]
                },
            )),
        }
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let (lo, hi) = (
        Quantity::parse(&bounds.0).map_or(f64::NAN, Quantity::get),
        Quantity::parse(&bounds.1).map_or(f64::NAN, Quantity::get),
    );
    let range = format!(
        "{} to {}",
        format_value(&y_unit, lo),
        format_value(&y_unit, hi)
    );
    let (best_end, worst_end) = match p.spec.solve.goal {
        Goal::Least => (hi, lo),
        Goal::Most => (lo, hi),
    };
    let mut notes: Vec<String> = unmet
        .iter()
        .map(|(at, targets, bests)| {
            format!(
                "Not met at {at}: even {} of {} gives {}, short of {}.",
                format_value(&y_unit, best_end),
                y.axis,
                labels::either(bests).replace(" or ", ", "),
                join_common(targets)
            )
        })
        .collect();
    notes.extend(always.iter().map(|(at, targets)| {
        format!(
            "Met at {at} across the whole search ({range}): even {} gives {}.",
            format_value(&y_unit, worst_end),
            join_common(targets)
        )
    }));
    let gaps: Vec<Gap> = rows
        .iter()
        .filter(|r| !matches!(r.answer, Answer::Found { .. }))
        .filter_map(|r| {
            let raw = r.over.first().map(value_text)?;
            let label = match r.answer {
                Answer::NotMet { .. } => "not met",
                _ => "met everywhere",
            };
            Some((x_value(&raw), label))
        })
        .fold(Vec::new(), |mut acc: Vec<Gap>, (x, label)| {
            if x.is_finite() && !acc.iter().any(|g| g.x == x) {
                acc.push(Gap {
                    x,
                    label: label.to_owned(),
                });
            }
            acc
        });
    let goal = match p.spec.solve.goal {
        Goal::Least => "Least",
        Goal::Most => "Most",
    };
    let test = p.cases.first().map(|c| {
        labels::test_words(&c.name(), Some(c.n_prompt), Some(c.n_gen), Some(c.n_depth)).name
    });
    let mut first = match test {
        Some(t) => format!("{model}, {t}"),
        None => model,
    };
    for phrase in labels::placements(&systems) {
        first.push_str("; ");
        first.push_str(&phrase);
    }
    let settings: Vec<String> = p
        .spec
        .set
        .iter()
        .filter(|(k, _)| k.starts_with("tiers."))
        .map(|(k, v)| {
            Param::new(k, &systems, &[&value_text(v)]).value_words(&value_text(v), system.as_ref())
        })
        .collect();
    let mut second = system
        .as_ref()
        .map_or(p.spec.system.clone(), |s| labels::machines(&[s]));
    if !settings.is_empty() {
        second.push_str(&format!(": {}", settings.join(", ")));
    }
    let tolerance = p.spec.solve.tolerance.trim();
    let tolerance = match tolerance.strip_suffix('%') {
        Some(n) => format!("{} %", n.trim()),
        None => tolerance.to_owned(),
    };
    let third = format!(
        "answers within {tolerance} of the least value that meets the target; {} repeat{}, seed {}",
        p.spec.repeats,
        if p.spec.repeats == 1 { "" } else { "s" },
        p.spec.seed
    );
    Some(line_svg(&LineChart {
        title: format!("{goal} {} that meets each target", y.axis),
        subtitle: Some(format!("{first}\n{second}\n{third}")),
        x: match &categories {
            Some(_) => Axis::new(
                format!(
                    "{} reading",
                    system
                        .as_ref()
                        .map_or_else(|| "tier".to_owned(), labels::system_short)
                ),
                Unit::Category(category_names.clone()),
            ),
            None => Axis::new(x.axis.clone(), x.plot_unit()),
        },
        y: Axis::new(format!("{} {}", goal.to_lowercase(), y.axis), y_unit),
        series,
        references: Vec::new(),
        gaps,
        notes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_in_words() {
        let t: Target = "tg >= 0.9*baseline".parse().unwrap();
        assert_eq!(target_words(&t, "all-HBM"), "decode ≥ 90 % of all-HBM");
        let t: Target = "tpot_p99 <= 50ms".parse().unwrap();
        assert_eq!(target_words(&t, "all-HBM"), "p99 TPOT ≤ 50 ms");
        let t: Target = "pp >= 1000".parse().unwrap();
        assert_eq!(target_words(&t, "x"), "prefill ≥ 1000 tokens/s");
        assert_eq!(metric_value(&t, 183.4), "prefill 183 tokens/s");
    }

    #[test]
    fn shared_words_are_said_once() {
        let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            join_common(&p(&[
                "decode ≥ 90 % of all-HBM",
                "decode ≥ 95 % of all-HBM",
                "decode ≥ 99 % of all-HBM"
            ])),
            "decode ≥ 90, 95 and 99 % of all-HBM"
        );
        assert_eq!(join_common(&p(&["a b", "c d"])), "a b and c d");
        assert_eq!(join_common(&p(&["only"])), "only");
    }
}
