//! The one-screen summary of a sweep, read back from its CSV so that resumed and merged runs
//! summarise the same way.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::error::Error;
use crate::report::numfmt;

/// Figures of one test across a sweep.
#[derive(Debug, Clone, PartialEq)]
struct TestSummary {
    points: u64,
    min_ts: f64,
    max_ts: f64,
    baseline_ts: Option<f64>,
    worst: Option<(f64, String)>,
}

/// Reads a sweep CSV and writes a short summary: per test, the range of rates, the baseline
/// and the worst degradation with the parameters where it happens.
pub fn summarise(csv_path: &Path, n_axes: usize) -> Result<String, Error> {
    let unreadable = |e: csv::Error| Error::Read(crate::files::ReadError::at(csv_path, e));
    let mut r = csv::Reader::from_path(csv_path).map_err(unreadable)?;
    let header = r.headers().map_err(unreadable)?.clone();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(test), Some(ts), Some(base), Some(deg)) = (
        col("test"),
        col("ts"),
        col("baseline_ts"),
        col("degradation_pct"),
    ) else {
        return Err(Error::usage(
            "summary",
            format!("{} is not a sweep CSV", csv_path.display()),
        ));
    };
    let axes: Vec<String> = header
        .iter()
        .skip(1)
        .take(n_axes)
        .map(str::to_owned)
        .collect();
    let lifetimes: Vec<(usize, usize)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let tier = h.strip_prefix("tier")?.strip_suffix("_lifetime_years")?;
            Some((i, col(&format!("tier{tier}"))?))
        })
        .collect();
    // The shortest flash lifetime seen: years, tier name, test and parameters.
    let mut shortest: Option<(f64, String, String)> = None;
    let mut tests: BTreeMap<String, TestSummary> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut points = std::collections::BTreeSet::new();
    for rec in r.records() {
        let rec = rec.map_err(unreadable)?;
        points.insert(rec.get(0).unwrap_or_default().to_owned());
        let name = rec.get(test).unwrap_or_default().to_owned();
        let v: f64 = rec.get(ts).and_then(|x| x.parse().ok()).unwrap_or(f64::NAN);
        let b: Option<f64> = rec.get(base).and_then(|x| x.parse().ok());
        let d: Option<f64> = rec.get(deg).and_then(|x| x.parse().ok());
        let at = || -> String {
            axes.iter()
                .enumerate()
                .filter_map(|(i, a)| {
                    rec.get(1 + i)
                        .filter(|v| !v.is_empty())
                        .map(|v| format!("{a}={v}"))
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        for &(years_col, tier_col) in &lifetimes {
            if let Some(y) = rec.get(years_col).and_then(|x| x.parse::<f64>().ok())
                && shortest.as_ref().is_none_or(|(s, _, _)| y < *s)
            {
                let tier = rec.get(tier_col).unwrap_or_default().to_owned();
                shortest = Some((y, tier, format!("{name} at {}", at())));
            }
        }
        if !tests.contains_key(&name) {
            order.push(name.clone());
        }
        let s = tests.entry(name).or_insert(TestSummary {
            points: 0,
            min_ts: f64::INFINITY,
            max_ts: f64::NEG_INFINITY,
            baseline_ts: None,
            worst: None,
        });
        s.points += 1;
        s.min_ts = s.min_ts.min(v);
        s.max_ts = s.max_ts.max(v);
        if let Some(b) = b {
            s.baseline_ts = Some(s.baseline_ts.map_or(b, |x: f64| x.max(b)));
        }
        if let Some(d) = d
            && s.worst.as_ref().is_none_or(|(w, _)| d > *w)
        {
            s.worst = Some((d, at()));
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} points, {} tests per point -> {}",
        points.len(),
        order.len(),
        csv_path.display()
    );
    let _ = writeln!(
        out,
        "{:<22} {:>12} {:>12} {:>12}  worst degradation",
        "test", "min t/s", "max t/s", "baseline"
    );
    for name in &order {
        let s = &tests[name];
        let base = s
            .baseline_ts
            .map_or("-".to_owned(), |b| numfmt::fixed(b, 2));
        let worst = s.worst.as_ref().map_or("-".to_owned(), |(d, at)| {
            format!("{} % at {at}", numfmt::fixed(*d, 1))
        });
        let _ = writeln!(
            out,
            "{name:<22} {:>12} {:>12} {base:>12}  {worst}",
            numfmt::fixed(s.min_ts, 2),
            numfmt::fixed(s.max_ts, 2)
        );
    }
    if let Some((y, tier, at)) = shortest {
        let _ = writeln!(
            out,
            "shortest flash lifetime: {} years ({tier}, {at}); the default endurance target is 5 years",
            numfmt::fixed(y, 2)
        );
    }
    Ok(out)
}
