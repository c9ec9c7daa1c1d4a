//! Words for charts: models, systems, placements, tests and parameters as a reader names them,
//! derived from the loaded specs rather than from YAML keys, so that a figure reads without the
//! spec beside it ("HBF, 1 µs median read", "whole KV cache in SSD", "all-HBM baseline").

use crate::config::system::{SystemSpec, TensorClass, TierKind, TierSpec};
use crate::model::spec::ModelSpec;
use crate::report::numfmt;
use crate::report::plot::{Unit, format_value};
use crate::units::Quantity;

/// A tier kind as written in prose.
pub fn kind_name(k: TierKind) -> &'static str {
    match k {
        TierKind::Hbm => "HBM",
        TierKind::Hbf => "HBF",
        TierKind::Dram => "DRAM",
        TierKind::Gddr => "GDDR",
        TierKind::Cxl => "CXL memory",
        TierKind::Ssd => "SSD",
        TierKind::Other => "other memory",
    }
}

/// The tier a dotted-path segment names: by its name, or else by its index.
pub fn tier<'a>(s: &'a SystemSpec, key: &str) -> Option<&'a TierSpec> {
    s.tiers
        .iter()
        .find(|t| t.name == key)
        .or_else(|| key.parse::<usize>().ok().and_then(|i| s.tiers.get(i)))
}

fn tier_kind(s: &SystemSpec, key: &str) -> Option<&'static str> {
    tier(s, key).map(|t| kind_name(t.kind))
}

/// Distinct words joined as prose: `HBF`, `HBF or SSD`, `HBF, SSD or DRAM`.
pub fn either(words: &[String]) -> String {
    let mut distinct: Vec<&str> = Vec::new();
    for w in words {
        if !distinct.contains(&w.as_str()) {
            distinct.push(w);
        }
    }
    match distinct.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The model as its makers name it, with its llama.cpp file type: `Qwen2.5-3B-Instruct Q4_K_M`,
/// `Meta Llama 3.1 8B Instruct Q4_K_M`.
///
/// The name is the start of the preset's description (up to its first parenthesis, ` in ` or
/// comma); the file type is the preset name's last part when it is one. A model without a
/// usable description keeps its preset name.
pub fn model_name(m: &ModelSpec) -> String {
    let d = m.description.trim();
    let cut = [" (", " in ", ",", "\n"]
        .iter()
        .filter_map(|p| d.find(p))
        .min()
        .unwrap_or(d.len());
    let base = d[..cut].trim();
    if base.is_empty() || base.len() > 48 {
        return m.name.clone();
    }
    let ftype = m.name.rsplit('-').next().unwrap_or_default();
    let is_ftype = ["q", "iq", "f", "bf"].iter().any(|p| {
        ftype
            .strip_prefix(p)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    });
    if is_ftype && !base.to_lowercase().contains(ftype) {
        format!("{base} {}", ftype.to_uppercase())
    } else {
        base.to_owned()
    }
}

/// The tiers of a system as a chain: `HBM + HBF`.
pub fn tier_chain(s: &SystemSpec) -> String {
    s.tiers
        .iter()
        .map(|t| kind_name(t.kind))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// What tells a system from the others of a sweep: the kinds of its tiers beyond the first
/// (`HBF`, `SSD`), or the whole chain for a single-tier system.
pub fn system_short(s: &SystemSpec) -> String {
    let extra: Vec<&str> = s.tiers.iter().skip(1).map(|t| kind_name(t.kind)).collect();
    if extra.is_empty() {
        tier_chain(s)
    } else {
        extra.join(" + ")
    }
}

/// A system as one short tick label on a categorical axis: its legend label's distinctive
/// words (`Son et al.` of `HBF, Son et al. reading (400 × 4 KiB per 1 µs)`), else its name.
pub fn system_tick(name: &str, s: Option<&SystemSpec>) -> String {
    let Some(label) = s.and_then(|s| s.label.as_deref()) else {
        return name.to_owned();
    };
    let head = label.split(" (").next().unwrap_or(label);
    let head = head.split_once(", ").map_or(head, |(_, rest)| rest);
    head.trim_end_matches(" reading").to_owned()
}

/// The machines of a chart in one phrase: `NVIDIA H100 SXM5 80GB with HBM + HBF or HBM + SSD`.
pub fn machines(systems: &[&SystemSpec]) -> String {
    let devices: Vec<String> = systems.iter().map(|s| s.compute.device.clone()).collect();
    let chains: Vec<String> = systems.iter().map(|s| tier_chain(s)).collect();
    if either(&devices).contains(" or ") {
        let each: Vec<String> = systems
            .iter()
            .map(|s| format!("{} with {}", s.compute.device, tier_chain(s)))
            .collect();
        either(&each)
    } else {
        format!("{} with {}", either(&devices), either(&chains))
    }
}

/// Where a system keeps weights and KV beyond the first tier, as templates with `{}` for the
/// tier kind, so that several systems merge into one phrase (`whole KV cache in HBF or SSD`).
fn placement_templates(s: &SystemSpec) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let first = s.tiers.first().map(|t| t.name.as_str()).unwrap_or_default();
    let first_kind = s.tiers.first().map_or("", |t| kind_name(t.kind));
    let kv = &s.placement.kv;
    let spill: Vec<&str> = kv
        .tiers
        .iter()
        .skip(1)
        .filter_map(|t| tier_kind(s, t))
        .collect();
    let home = kv.tiers.first().map(String::as_str).unwrap_or(first);
    if home != first {
        if let Some(k) = tier_kind(s, home) {
            out.push(("KV cache in {}".to_owned(), k.to_owned()));
        }
    } else if !spill.is_empty() {
        let template = match kv.budget {
            Some(b) if b.0 == 0.0 => "whole KV cache in {}".to_owned(),
            Some(b) => format!(
                "KV cache beyond {} of {first_kind} in {{}}",
                numfmt::bytes_binary(b.0)
            ),
            None => "KV cache spilling to {}".to_owned(),
        };
        out.push((template, spill.join(" + ")));
    }
    if s.placement.weights.default != first
        && let Some(k) = tier_kind(s, &s.placement.weights.default)
    {
        out.push(("weights in {}".to_owned(), k.to_owned()));
    }
    for rule in &s.placement.weights.rules {
        let Some(k) = tier_kind(s, &rule.tier) else {
            continue;
        };
        let what: Vec<&str> = rule.tensors.iter().map(|t| tensor_words(*t)).collect();
        let some = if rule.layers.is_some() {
            " (some layers)"
        } else {
            ""
        };
        out.push((
            format!("{}{some} in {{}}", what.join(" and ")),
            k.to_owned(),
        ));
    }
    out
}

fn tensor_words(t: TensorClass) -> &'static str {
    match t {
        TensorClass::Attn => "attention weights",
        TensorClass::Ffn => "FFN weights",
        TensorClass::Experts => "routed experts",
        TensorClass::Output => "output head",
        TensorClass::TokenEmbd => "token embeddings",
        TensorClass::All => "layer weights",
    }
}

/// Where the systems of a chart keep what does not fit the first tier, one phrase per placement:
/// `["whole KV cache in HBF or SSD"]`, `["routed experts in HBF"]`.
pub fn placements(systems: &[&SystemSpec]) -> Vec<String> {
    let mut merged: Vec<(String, Vec<String>)> = Vec::new();
    for s in systems {
        for (template, kind) in placement_templates(s) {
            match merged.iter_mut().find(|(t, _)| *t == template) {
                Some((_, kinds)) => kinds.push(kind),
                None => merged.push((template, vec![kind])),
            }
        }
    }
    merged
        .into_iter()
        .map(|(t, kinds)| t.replace("{}", &either(&kinds)))
        .collect()
}

/// What a llama-bench test measures, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct TestWords {
    /// `Decode rate`, `Prefill rate`, `Output rate`.
    pub rate: String,
    /// `decode`, `prefill`, `serving`: the subject of a sentence.
    pub what: String,
    /// The test as llama-bench names it with its context in words:
    /// `tg128 at a 32,768-token context`.
    pub name: String,
}

/// Words for a test from its CSV columns; `serve` rows have no prompt or generation length.
pub fn test_words(
    test: &str,
    n_prompt: Option<u32>,
    n_gen: Option<u32>,
    depth: Option<u32>,
) -> TestWords {
    let (rate, what) = match (n_prompt.unwrap_or(0), n_gen.unwrap_or(0)) {
        _ if test == "serve" => ("Output rate", "serving"),
        (p, 0) if p > 0 => ("Prefill rate", "prefill"),
        (0, g) if g > 0 => ("Decode rate", "decode"),
        _ => ("Prompt + decode rate", "prompt + decode"),
    };
    let short = test.split(" @ ").next().unwrap_or(test).to_owned();
    let name = match depth.filter(|d| *d > 0) {
        Some(d) => format!(
            "{short} at a {}-token context",
            numfmt::grouped(f64::from(d))
        ),
        None => short,
    };
    TestWords {
        rate: rate.to_owned(),
        what: what.to_owned(),
        name,
    }
}

/// How a swept parameter's written values become plotted values.
#[derive(Debug, Clone, PartialEq)]
pub enum Plotted {
    /// The value as written, in base units.
    AsWritten,
    /// A latency multiplier of tier `tier`: plotted as the median read latency it gives, scale
    /// × the tier's median, in seconds, on each point's own system.
    MedianLatency {
        /// The tier's name or index as in the path.
        tier: String,
    },
    /// Not a number (`system`, `model`).
    Categorical,
}

/// A swept parameter in words: its axis title, unit and how its values plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The dotted path as in the spec.
    pub path: String,
    /// What an axis of it measures: `HBF or SSD read bandwidth`.
    pub axis: String,
    /// Its plotting unit, `None` when it is not a number.
    pub unit: Option<Unit>,
    /// How its values plot.
    pub plotted: Plotted,
}

impl Param {
    /// The words for `path`, with the kinds of the tiers it names across `systems` and its
    /// written `values` (which tell binary sizes from decimal ones).
    pub fn new(path: &str, systems: &[&SystemSpec], values: &[&str]) -> Self {
        let unit = values_unit(values);
        let parts: Vec<&str> = path.split('.').collect();
        let kinds = |key: &str| -> String {
            let k: Vec<String> = systems
                .iter()
                .filter_map(|s| tier_kind(s, key))
                .map(str::to_owned)
                .collect();
            if k.is_empty() {
                format!("tier {key}")
            } else {
                either(&k)
            }
        };
        let first_kind = systems
            .first()
            .and_then(|s| s.tiers.first())
            .map_or("first-tier", |t| kind_name(t.kind));
        let mut plotted = Plotted::AsWritten;
        let (axis, unit) = match parts.as_slice() {
            ["system"] => ("system".to_owned(), None),
            ["model"] => ("model".to_owned(), None),
            ["tiers", t, "latency_scale"] => {
                let can = systems
                    .iter()
                    .all(|s| tier(s, t).is_some_and(|t| t.read_latency.is_some()));
                if can && !systems.is_empty() {
                    plotted = Plotted::MedianLatency {
                        tier: (*t).to_owned(),
                    };
                    (
                        format!("{} median read latency", kinds(t)),
                        Some(Unit::Seconds),
                    )
                } else {
                    (
                        format!("{} latency (× its median)", kinds(t)),
                        Some(Unit::Ratio),
                    )
                }
            }
            ["tiers", t, leaf] => {
                let what = match *leaf {
                    "read_bw" => "read bandwidth",
                    "write_bw" => "write bandwidth",
                    "queue_depth" => "queue depth",
                    "parallel_units" => "parallel units",
                    "io_size" => "access size",
                    "capacity" => "capacity",
                    other => return Self::fallback(path, other, unit),
                };
                (format!("{} {what}", kinds(t)), unit)
            }
            ["experts", "cache"] => (format!("expert cache in {first_kind}"), unit),
            ["experts", "skew"] => (
                "routing skew (Zipf exponent, 0 = uniform)".to_owned(),
                Some(Unit::Ratio),
            ),
            ["serve", "arrival_rate_per_s"] => (
                "request arrival rate".to_owned(),
                Some(Unit::Custom("requests/s".into())),
            ),
            ["serve", "max_batch"] => ("batch slots".to_owned(), Some(Unit::Count)),
            ["serve", "requests"] => ("requests".to_owned(), Some(Unit::Count)),
            ["placement", "kv", "budget"] => (format!("KV cache budget in {first_kind}"), unit),
            [.., leaf] => return Self::fallback(path, leaf, unit),
            [] => return Self::fallback(path, path, unit),
        };
        if unit.is_none() {
            plotted = Plotted::Categorical;
        }
        Param {
            path: path.to_owned(),
            axis,
            unit,
            plotted,
        }
    }

    fn fallback(path: &str, leaf: &str, unit: Option<Unit>) -> Self {
        Param {
            path: path.to_owned(),
            axis: leaf.replace('_', " "),
            plotted: if unit.is_some() {
                Plotted::AsWritten
            } else {
                Plotted::Categorical
            },
            unit,
        }
    }

    /// The value written as `raw` plotted on this axis at a point of system `s`; NaN when it is
    /// not a number.
    pub fn plot_value(&self, raw: &str, s: Option<&SystemSpec>) -> f64 {
        let v = Quantity::parse(raw).map_or(f64::NAN, Quantity::get);
        match &self.plotted {
            Plotted::AsWritten => v,
            Plotted::Categorical => f64::NAN,
            Plotted::MedianLatency { tier: key } => s
                .and_then(|s| tier(s, key))
                .and_then(|t| t.read_latency.as_ref())
                .map_or(f64::NAN, |l| v * l.quantile(0.5).0),
        }
    }

    /// The value in a legend: `1 µs median read`, `skew 0.8`, `8 requests/s`, `4 GiB expert
    /// cache`.
    pub fn value_words(&self, raw: &str, s: Option<&SystemSpec>) -> String {
        let v = self.plot_value(raw, s);
        let shown = |u: &Unit| {
            if v.is_finite() {
                format_value(u, v)
            } else {
                raw.to_owned()
            }
        };
        let leaf = self.path.rsplit('.').next().unwrap_or(&self.path);
        match (&self.plotted, leaf) {
            (Plotted::MedianLatency { .. }, _) => {
                format!("{} median read", shown(&Unit::Seconds))
            }
            (_, "latency_scale") => format!("{raw} × median latency"),
            (_, "skew") if v == 0.0 => "skew 0 (uniform)".to_owned(),
            (_, "skew") => format!("skew {}", numfmt::sig(v, 3)),
            (_, "cache") => format!("{} expert cache", self.shown_unit(raw, v)),
            (_, "arrival_rate_per_s") => format!("{} requests/s", numfmt::sig(v, 3)),
            (_, "max_batch") => format!("{} slots", numfmt::sig(v, 6)),
            _ => match &self.unit {
                Some(u) => format!("{} {}", self.axis, shown(u)),
                None => raw.to_owned(),
            },
        }
    }

    fn shown_unit(&self, raw: &str, v: f64) -> String {
        match (&self.unit, v.is_finite()) {
            (Some(u), true) => format_value(u, v),
            _ => raw.to_owned(),
        }
    }

    /// The unit of the plotted values.
    pub fn plot_unit(&self) -> Unit {
        self.unit.clone().unwrap_or(Unit::Ratio)
    }
}

/// The plotting unit of written values, when all are numbers of one kind: sizes written with
/// binary prefixes (`1GiB`) plot in binary units.
pub fn values_unit(values: &[&str]) -> Option<Unit> {
    let written: Vec<&str> = values.iter().copied().filter(|v| !v.is_empty()).collect();
    let qs: Vec<Quantity> = written
        .iter()
        .map(|v| Quantity::parse(v))
        .collect::<Option<_>>()?;
    let first = *qs.first()?;
    if !qs.iter().all(|q| q.same_kind(first)) {
        return None;
    }
    let binary = written.iter().any(|v| v.contains("iB"));
    Some(match first {
        Quantity::Size(_) if binary => Unit::BinaryBytes,
        q => unit_of(q),
    })
}

/// The plot unit of a quantity's kind (sizes in decimal units).
pub fn unit_of(q: Quantity) -> Unit {
    match q {
        Quantity::Rate(_) => Unit::BytesPerSec,
        Quantity::Size(_) => Unit::Bytes,
        Quantity::Time(_) => Unit::Seconds,
        Quantity::Flops(_) => Unit::Custom("FLOP/s".into()),
        Quantity::Plain(_, true) => Unit::Count,
        Quantity::Plain(_, false) => Unit::Ratio,
    }
}

/// The baseline in words: `all-HBM baseline` when everything moves to the first tier.
pub fn baseline_words(
    spec: &crate::sweep::spec::Baseline,
    s: Option<&SystemSpec>,
) -> Option<String> {
    use crate::sweep::spec::Baseline;
    match spec {
        Baseline::None => None,
        Baseline::Fastest => Some(match s.and_then(|s| s.tiers.first()) {
            Some(t) => format!("all-{} baseline", kind_name(t.kind)),
            None => "all-in-first-tier baseline".to_owned(),
        }),
        Baseline::Set(_) => Some("baseline".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;

    fn sys(name: &str) -> SystemSpec {
        load::system(Some(name), &[]).unwrap().spec
    }

    #[test]
    fn models_are_named_as_their_makers_do() {
        let name = |p: &str| model_name(&load::model(Some(p), &[]).unwrap().spec);
        assert_eq!(
            name("qwen2.5-3b-instruct-q4_k_m"),
            "Qwen2.5-3B-Instruct Q4_K_M"
        );
        assert_eq!(name("qwen3-30b-a3b-iq4_xs"), "Qwen3-30B-A3B IQ4_XS");
        assert_eq!(
            name("llama-3.1-8b-instruct-q4_k_m"),
            "Meta Llama 3.1 8B Instruct Q4_K_M"
        );
        assert_eq!(
            name("smollm2-135m-instruct-q4_1"),
            "SmolLM2-135M-Instruct Q4_1"
        );
    }

    #[test]
    fn systems_and_placements_in_words() {
        let (hbf, ssd) = (sys("h100-hbf"), sys("h100-ssd"));
        assert_eq!(tier_chain(&hbf), "HBM + HBF");
        assert_eq!(system_short(&ssd), "SSD");
        assert_eq!(
            machines(&[&hbf, &ssd]),
            "NVIDIA H100 SXM5 80GB with HBM + HBF or HBM + SSD"
        );
        assert_eq!(
            placements(&[&hbf, &ssd]),
            ["KV cache beyond 1 GiB of HBM in HBF or SSD"]
        );
        let sets = [load::Override::parse("placement.kv.budget=0B").unwrap()];
        let spilled = load::system(Some("h100-ssd"), &sets).unwrap().spec;
        assert_eq!(placements(&[&spilled]), ["whole KV cache in SSD"]);
        assert_eq!(
            either(&["a".into(), "b".into(), "a".into(), "c".into()]),
            "a, b or c"
        );
    }

    #[test]
    fn latency_scale_plots_as_time_on_each_system() {
        let (hbf, ssd) = (sys("h100-hbf"), sys("h100-ssd"));
        let p = Param::new("tiers.1.latency_scale", &[&hbf, &ssd], &["0.25", "1", "4"]);
        assert_eq!(p.axis, "HBF or SSD median read latency");
        assert_eq!(p.unit, Some(Unit::Seconds));
        assert!((p.plot_value("0.25", Some(&hbf)) - 1e-6).abs() < 1e-12);
        assert_eq!(p.value_words("0.25", Some(&hbf)), "1 µs median read");
        assert_eq!(p.value_words("1", Some(&ssd)), "60 µs median read");
    }

    #[test]
    fn parameters_in_words() {
        let hbf = sys("h100-hbf");
        let bw = Param::new("tiers.1.read_bw", &[&hbf], &["10GB/s", "1.6TB/s"]);
        assert_eq!(bw.axis, "HBF read bandwidth");
        assert_eq!(bw.unit, Some(Unit::BytesPerSec));
        let cache = Param::new("experts.cache", &[&hbf], &["0B", "1GiB", "16GiB"]);
        assert_eq!(cache.unit, Some(Unit::BinaryBytes));
        assert_eq!(cache.axis, "expert cache in HBM");
        assert_eq!(cache.value_words("4GiB", None), "4 GiB expert cache");
        let skew = Param::new("experts.skew", &[&hbf], &["0", "0.8"]);
        assert_eq!(skew.value_words("0", None), "skew 0 (uniform)");
        let rate = Param::new("serve.arrival_rate_per_s", &[&hbf], &["2", "16"]);
        assert_eq!(rate.value_words("8", None), "8 requests/s");
        let qd = Param::new("tiers.hbf.queue_depth", &[&hbf], &["32768"]);
        assert_eq!(qd.value_words("32768", None), "HBF queue depth 32,768");
        assert_eq!(
            bw.value_words("400GB/s", None),
            "HBF read bandwidth 400 GB/s"
        );
        let s = Param::new("system", &[&hbf], &["h100-hbf"]);
        assert_eq!(s.plotted, Plotted::Categorical);
        assert!(s.unit.is_none());
    }

    #[test]
    fn tests_in_words() {
        let t = test_words("tg128 @ d32768", Some(0), Some(128), Some(32768));
        assert_eq!(t.rate, "Decode rate");
        assert_eq!(t.name, "tg128 at a 32,768-token context");
        assert_eq!(
            test_words("pp512", Some(512), Some(0), Some(0)).what,
            "prefill"
        );
        assert_eq!(test_words("serve", None, None, None).rate, "Output rate");
    }
}
