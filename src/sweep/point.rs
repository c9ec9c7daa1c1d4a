//! One sweep point: its configuration resolved, its tests simulated, its CSV rows formatted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::config::error::ConfigError;
use crate::config::load::{self, Loaded, Override, Target};
use crate::config::system::SystemSpec;
use crate::limits;
use crate::model::spec::ModelSpec;
use crate::rng;
use crate::scenario::{self, TestCase, TestGrid, TestOutcome, percentile};
use crate::serving::{self, ServeSpec};
use crate::sim::machine::Machine;
use crate::sweep::spec::{
    Baseline, Point, SweepSpec, TestsSpec, map_overrides, value_override, value_text,
};

/// A point's model and system, loaded with the sweep's and the point's overrides.
pub struct Resolved {
    /// The model.
    pub model: Loaded<ModelSpec>,
    /// The system.
    pub system: Loaded<SystemSpec>,
    /// The serving workload with the point's `serve.` overrides, when the sweep serves.
    pub serve: Option<ServeSpec>,
}

/// Loads the configuration of `point`.
pub fn resolve(
    spec: &SweepSpec,
    fixed: &[Override],
    point: &Point,
) -> Result<Resolved, ConfigError> {
    let mut model = spec.model.clone();
    let mut system = spec.system.clone();
    let mut sets = fixed.to_vec();
    for (axis, value) in &point.values {
        match spec.vary[*axis].param.as_str() {
            "model" => model = value_text(value),
            "system" => system = value_text(value),
            path => sets.push(value_override(path, value)?),
        }
    }
    let with_point = |e: ConfigError| match e {
        ConfigError::Override { text, message } => ConfigError::Override {
            text,
            message: format!("{message} (sweep point {})", point.id),
        },
        other => other,
    };
    let serve = match &spec.serve {
        None => None,
        Some(s) => {
            let origin = format!("the sweep's serve workload at point {}", point.id);
            let text = serde_yaml::to_string(s).expect("a spec serialises");
            let s: ServeSpec = load::load_text(text, origin.clone(), &sets, Target::Serve)
                .map_err(with_point)?
                .spec;
            s.validate(&origin)?;
            Some(s)
        }
    };
    Ok(Resolved {
        model: load::model(Some(&model), &sets).map_err(with_point)?,
        system: load::system(Some(&system), &sets).map_err(with_point)?,
        serve,
    })
}

/// The baseline system of a point: its own configuration with every weight and the whole KV
/// cache in the first tier (or the spec's baseline overrides); `None` without a baseline.
pub fn baseline_system(spec: &SweepSpec, r: &Resolved) -> Result<Option<SystemSpec>, ConfigError> {
    match &spec.baseline {
        Baseline::None => Ok(None),
        Baseline::Fastest => {
            let mut s = r.system.spec.clone();
            let first = s.tiers[0].name.clone();
            s.placement.weights.default = first.clone();
            s.placement.weights.rules.clear();
            s.placement.kv.tiers = vec![first];
            s.placement.kv.budget = None;
            // Nothing lives in the other tiers any more; dropping them lets points that differ
            // only in those tiers share one baseline.
            s.tiers.truncate(1);
            s.evidence.clear();
            Ok(Some(s))
        }
        Baseline::Set(map) => {
            let mut doc = serde_yaml::to_value(&r.system.spec).expect("a spec serialises");
            for o in map_overrides(map)? {
                let (_, path) = o.target();
                o.apply(&mut doc, path)?;
            }
            let s: SystemSpec = load::parse(
                &serde_yaml::to_string(&doc).expect("serialises"),
                "baseline",
            )?;
            crate::config::validate::system(&s, "baseline")?;
            Ok(Some(s))
        }
    }
}

/// A baseline's rates per test, or why it failed, computed by the first point that needs it.
type BaselineCell = OnceLock<Result<Vec<f64>, String>>;

/// Baseline rates shared by the points that have the same baseline configuration.
///
/// A baseline's seed derives from its configuration, not from the point that first needs it,
/// so the cache gives the same numbers whichever thread fills it.
#[derive(Default)]
pub struct BaselineCache {
    entries: Mutex<HashMap<String, Arc<BaselineCell>>>,
}

impl BaselineCache {
    /// Mean rate of each test on the baseline `system`, computed once per configuration.
    pub fn rates(
        &self,
        model: &ModelSpec,
        system: &SystemSpec,
        work: Work<'_>,
        repeats: u32,
        seed: u64,
    ) -> Result<Vec<f64>, ConfigError> {
        let key = match work {
            Work::Tests(_) => serde_json::to_string(&(model, system)),
            Work::Serve(s) => serde_json::to_string(&(model, system, s)),
        }
        .expect("specs serialise");
        let cell = {
            let mut map = self
                .entries
                .lock()
                .expect("no thread panics while holding the lock");
            Arc::clone(map.entry(key.clone()).or_default())
        };
        let result = cell.get_or_init(|| {
            let m = Machine::new(model, system).map_err(|e| e.to_string())?;
            match work {
                Work::Tests(cases) => cases
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let seed = fnv1a(key.as_bytes()) ^ seed;
                        let out = scenario::run_test(&m, c, repeats, seed, i as u32)
                            .map_err(|e| e.to_string())?;
                        Ok(out.rate_stats(c).0)
                    })
                    .collect(),
                // The sweep's seed, as at every point: the baseline serves the same requests.
                Work::Serve(s) => {
                    let served = run_serve(&m, s, seed).map_err(|e| e.to_string())?;
                    Ok(vec![served.1])
                }
            }
        });
        result.clone().map_err(|message| ConfigError::Parse {
            origin: format!("the baseline of {} (everything in its first tier)", system.name),
            message: format!("{message}; give the sweep a `baseline: {{set: ...}}` that fits, or `baseline: none`"),
        })
    }
}

/// What a point runs: llama-bench tests, or a serving workload.
#[derive(Debug, Clone, Copy)]
pub enum Work<'a> {
    /// The sweep's tests.
    Tests(&'a [TestCase]),
    /// A serving workload.
    Serve(&'a ServeSpec),
}

/// Serves `s` on `m`: the run as a test outcome and its output tokens per second. The requests
/// are drawn from the sweep's seed, so every point serves the same requests.
fn run_serve(m: &Machine, s: &ServeSpec, seed: u64) -> Result<(TestOutcome, f64), ConfigError> {
    let reqs = serving::requests(s, seed, u64::from(m.model.context_length)).map_err(|e| {
        ConfigError::Parse {
            origin: "the sweep's serve workload".to_owned(),
            message: e.to_string(),
        }
    })?;
    let out = serving::serve(m, s, &reqs, seed)?;
    Ok((out.as_test_outcome(), out.summary().output_tps))
}

/// 64-bit FNV-1a: a stable hash (std's hasher is randomly keyed per process).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The CSV header for a sweep with `axes` and up to `tiers` tiers per system.
pub fn header(spec: &SweepSpec, tiers: usize) -> Vec<String> {
    let mut h = vec!["point".to_owned()];
    h.extend(spec.vary.iter().map(|a| a.param.clone()));
    for c in [
        "test",
        "n_prompt",
        "n_gen",
        "n_depth",
        "n_ubatch",
        "n_seq",
        "type_k",
        "type_v",
        "ts",
        "ts_sd",
        "baseline_ts",
        "degradation_pct",
        "ttft_ms",
        "tpot_p50_ms",
        "tpot_p99_ms",
        "expert_hit_rate",
    ] {
        h.push(c.to_owned());
    }
    for t in 0..tiers {
        for c in [
            "",
            "_bytes_read",
            "_bytes_written",
            "_read_gbps",
            "_utilisation",
            "_stall_share",
            "_lifetime_years",
        ] {
            h.push(format!("tier{t}{c}"));
        }
    }
    h
}

/// A point's simulated tests and, when the sweep has one, its baseline rates.
pub struct PointEval {
    /// Tier names of the point's system, fastest first.
    pub tier_names: Vec<String>,
    /// The tiers' specs (for endurance).
    pub tier_specs: Vec<crate::config::system::TierSpec>,
    /// Each test's outcome, in test order.
    pub outcomes: Vec<TestOutcome>,
    /// Baseline rate of each test.
    pub baseline: Option<Vec<f64>>,
    /// The workload and its output tokens per second, when the point served instead of running
    /// tests.
    pub served: Option<(ServeSpec, f64)>,
}

/// Simulates every test of a point (and its baseline, through the cache).
pub fn evaluate(
    spec: &SweepSpec,
    fixed: &[Override],
    cases: &[TestCase],
    baselines: &BaselineCache,
    point: &Point,
) -> Result<PointEval, ConfigError> {
    let r = resolve(spec, fixed, point)?;
    let m = Machine::new(&r.model.spec, &r.system.spec)?;
    let work = match &r.serve {
        Some(s) => Work::Serve(s),
        None => Work::Tests(cases),
    };
    let baseline = match baseline_system(spec, &r)? {
        Some(b) => Some(baselines.rates(&r.model.spec, &b, work, spec.repeats, spec.seed)?),
        None => None,
    };
    let seed = rand::Rng::next_u64(&mut rng::stream(spec.seed, point.id));
    let (outcomes, served) = match work {
        Work::Tests(cases) => (
            cases
                .iter()
                .enumerate()
                .map(|(i, c)| scenario::run_test(&m, c, spec.repeats, seed, i as u32))
                .collect::<Result<_, _>>()?,
            None,
        ),
        // The sweep's seed, not the point's, draws the requests: every point serves the same
        // workload, so differences between points are the machine's.
        Work::Serve(s) => {
            let (out, tps) = run_serve(&m, s, spec.seed)?;
            (vec![out], Some((s.clone(), tps)))
        }
    };
    Ok(PointEval {
        tier_names: m.system.tiers.iter().map(|t| t.name.clone()).collect(),
        tier_specs: m.system.tiers.clone(),
        outcomes,
        baseline,
        served,
    })
}

/// Simulates every test of a point and formats its rows.
pub fn run_point(
    spec: &SweepSpec,
    fixed: &[Override],
    cases: &[TestCase],
    tiers: usize,
    baselines: &BaselineCache,
    point: &Point,
) -> Result<Vec<Vec<String>>, ConfigError> {
    let eval = evaluate(spec, fixed, cases, baselines, point)?;
    let base = &eval.baseline;
    let mut rows = Vec::with_capacity(cases.len());
    for (i, (c, out)) in cases.iter().zip(&eval.outcomes).enumerate() {
        let (ts, sd) = match &eval.served {
            Some((_, tps)) => (*tps, f64::NAN),
            None => out.rate_stats(c),
        };
        let wall = out.mean_time().0;
        let mut row = vec![point.id.to_string()];
        for a in 0..spec.vary.len() {
            row.push(
                point
                    .values
                    .iter()
                    .find(|(i, _)| *i == a)
                    .map_or_else(String::new, |(_, v)| value_text(v)),
            );
        }
        let (b, deg) = match &base {
            Some(b) => (num(b[i]), num(100.0 * (1.0 - ts / b[i]))),
            None => (String::new(), String::new()),
        };
        row.extend(match &eval.served {
            // A serving row: its batch cap stands in the sequences column.
            Some((s, _)) => [
                "serve".to_owned(),
                String::new(),
                String::new(),
                String::new(),
                s.n_ubatch.to_string(),
                s.max_batch.to_string(),
                s.type_k.name().to_owned(),
                s.type_v.name().to_owned(),
            ],
            None => [
                c.name(),
                c.n_prompt.to_string(),
                c.n_gen.to_string(),
                c.n_depth.to_string(),
                c.n_ubatch.to_string(),
                c.seqs().to_string(),
                c.type_k.name().to_owned(),
                c.type_v.name().to_owned(),
            ],
        });
        row.extend([
            num(ts),
            num(sd),
            b,
            deg,
            num(out.mean_ttft().as_ms()),
            num(percentile(&out.tpot, 0.5).as_ms()),
            num(percentile(&out.tpot, 0.99).as_ms()),
            out.expert_cache
                .and_then(|c| c.hit_rate())
                .map_or_else(String::new, num),
        ]);
        for t in 0..tiers {
            match (eval.tier_names.get(t), out.tiers.get(t)) {
                (Some(name), Some(f)) => row.extend([
                    name.clone(),
                    num(f.bytes_read.0.round()),
                    num(f.bytes_written.0.round()),
                    num(if wall > 0.0 {
                        f.bytes_read.0 / wall / 1e9
                    } else {
                        0.0
                    }),
                    num(if wall > 0.0 {
                        (f.busy.0 / wall).min(1.0)
                    } else {
                        0.0
                    }),
                    num(if wall > 0.0 { f.stall.0 / wall } else { 0.0 }),
                    eval.tier_specs
                        .get(t)
                        .and_then(|spec_t| {
                            scenario::lifetime_years(
                                spec_t,
                                f.bytes_written,
                                crate::units::Seconds(wall),
                            )
                        })
                        .map_or_else(String::new, num),
                ]),
                _ => row.extend(std::iter::repeat_n(String::new(), 7)),
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Checks that a point can run (loads, places, fits every test) without simulating it.
pub fn check_point(
    spec: &SweepSpec,
    fixed: &[Override],
    cases: &[TestCase],
    point: &Point,
) -> Result<usize, ConfigError> {
    let r = resolve(spec, fixed, point)?;
    let reqs = match &r.serve {
        Some(s) => Some(
            serving::requests(s, spec.seed, u64::from(r.model.spec.context_length)).map_err(
                |e| ConfigError::Parse {
                    origin: "the sweep's serve workload".to_owned(),
                    message: e.to_string(),
                },
            )?,
        ),
        None => None,
    };
    let fits = |m: &Machine| -> Result<(), ConfigError> {
        match (&r.serve, &reqs) {
            (Some(s), Some(reqs)) => serving::slot_layout(m, s, reqs).map(|_| ()),
            _ => cases.iter().try_for_each(|c| c.kv_layout(m).map(|_| ())),
        }
    };
    let m = Machine::new(&r.model.spec, &r.system.spec)?;
    fits(&m)?;
    if let Some(b) = baseline_system(spec, &r)? {
        let bm = Machine::new(&r.model.spec, &b).map_err(|e| baseline_error(&b, e))?;
        fits(&bm).map_err(|e| baseline_error(&b, e))?;
    }
    Ok(m.system.tiers.len())
}

fn baseline_error(b: &SystemSpec, e: ConfigError) -> ConfigError {
    ConfigError::Parse {
        origin: format!("the baseline of {} (everything in its first tier)", b.name),
        message: format!(
            "{e}; give the sweep a `baseline: {{set: ...}}` that fits, or `baseline: none`"
        ),
    }
}

/// A number as the CSV writes it: shortest round-trip digits, so re-runs are byte-identical.
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

/// Checks a sweep's `tests:` as `simulate` checks its flags: positive batch sizes and
/// sequence counts, list lengths, the number of tests and their tokens within [`limits`].
pub fn check_tests(t: &TestsSpec, origin: &str) -> Result<(), ConfigError> {
    let bad = |field: &str, m: String| ConfigError::invalid(origin, format!("tests.{field}"), m);
    for (field, v) in [
        ("n_batch", &t.n_batch),
        ("n_ubatch", &t.n_ubatch),
        ("n_seq", &t.n_seq),
    ] {
        if v.contains(&0) {
            return Err(bad(field, "contains 0; expected positive values".into()));
        }
    }
    for (field, n) in [
        ("n_prompt", t.n_prompt.len()),
        ("n_gen", t.n_gen.len()),
        ("pg", t.pg.len()),
        ("n_depth", t.n_depth.len()),
        ("n_batch", t.n_batch.len()),
        ("n_ubatch", t.n_ubatch.len()),
        ("n_seq", t.n_seq.len()),
        ("type_k", t.type_k.len()),
        ("type_v", t.type_v.len()),
    ] {
        limits::LIST_VALUES
            .check(n as u64)
            .map_err(|e| bad(field, e.to_string()))?;
    }
    let grid = grid(t);
    grid.count().map_err(|e| bad("n_prompt", e.to_string()))?;
    for c in grid.cases() {
        c.check_tokens().map_err(|(f, e)| bad(f, e.to_string()))?;
    }
    Ok(())
}

fn grid(t: &TestsSpec) -> TestGrid {
    TestGrid {
        n_prompt: t.n_prompt.clone(),
        n_gen: t.n_gen.clone(),
        pg: t.pg.clone(),
        n_depth: t.n_depth.clone(),
        n_batch: t.n_batch.clone(),
        n_ubatch: t.n_ubatch.clone(),
        n_seq: t.n_seq.clone(),
        type_k: t.type_k.clone(),
        type_v: t.type_v.clone(),
        n_threads: vec![1],
        flash_attn: vec![None],
        repack: vec![true],
    }
}

/// The tests of a sweep, in llama-bench's order; a serving sweep has one placeholder, its row.
pub fn cases(spec: &SweepSpec) -> Vec<TestCase> {
    if spec.serve.is_some() {
        return vec![TestCase::default()];
    }
    grid(&spec.tests).cases()
}
