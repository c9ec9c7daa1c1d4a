//! `tiersim simulate`: raw llama-bench flags validated into [`SimulateOptions`], then run test by
//! test, each record streamed out as it finishes.

use std::io::Write;

use crate::cli::{LlamaCppLists, SimulateArgs};
use crate::config::load::{self, Override};
use crate::error::Error;
use crate::limits;
use crate::model::quant::QuantType;
use crate::report::{MdColumns, OutputFormat, RunInfo};
use crate::scenario::{self, RecordContext, TestCase, TestGrid};
use crate::sim::machine::Machine;

/// Validated options of `tiersim simulate`.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulateOptions {
    /// Prompt lengths.
    pub n_prompt: Vec<u32>,
    /// Generation lengths.
    pub n_gen: Vec<u32>,
    /// Prompt and generation pairs.
    pub pg: Vec<(u32, u32)>,
    /// Depths.
    pub n_depth: Vec<u32>,
    /// Logical batch sizes.
    pub batch: Vec<u32>,
    /// Physical batch sizes.
    pub ubatch: Vec<u32>,
    /// Sequences decoding together.
    pub n_seq: Vec<u32>,
    /// KV key types.
    pub type_k: Vec<QuantType>,
    /// KV value types.
    pub type_v: Vec<QuantType>,
    /// Thread counts.
    pub threads: Vec<u32>,
    /// Whether `-t` was given; without it a profile's own thread count is used.
    pub threads_given: bool,
    /// Flash attention settings (`None`: auto).
    pub flash_attn: Vec<Option<bool>>,
    /// Weight repacking settings.
    pub repack: Vec<bool>,
    /// Repetitions.
    pub reps: u32,
    /// Output format.
    pub output: OutputFormat,
    /// Model preset or file.
    pub model: Option<String>,
    /// System preset or file.
    pub system: Option<String>,
    /// Overrides.
    pub sets: Vec<Override>,
    /// llama.cpp placements to run every test under, each as overrides applied after `sets`
    /// (one empty placement without llama.cpp flags).
    pub placements: Vec<Vec<Override>>,
    /// The llama.cpp flags' values, for the md table's columns.
    pub llamacpp: LlamaCppLists,
    /// Seed.
    pub seed: u64,
    /// Tier the weights are staged from (cold start).
    pub cold_from: Option<String>,
}

impl SimulateOptions {
    /// Validates raw flags.
    pub fn from_args(a: SimulateArgs) -> Result<Self, Error> {
        let threads = if a.threads.is_empty() {
            vec![std::thread::available_parallelism().map_or(1, |n| n.get() as u32)]
        } else {
            int_list("-t", &a.threads)?
        };
        let pg =
            a.pg.iter()
                .map(|v| {
                    let (p, g) = v.split_once(',').ok_or_else(|| {
                        Error::usage(
                            "-pg",
                            format!("`{v}` is not a pair; expected pp,tg such as 512,128"),
                        )
                    })?;
                    Ok((int("-pg", p)?, int("-pg", g)?))
                })
                .collect::<Result<_, Error>>()?;
        if a.reps == 0 {
            return Err(Error::usage("-r", "is 0; expected at least one repetition"));
        }
        limits::REPETITIONS
            .check(u64::from(a.reps))
            .map_err(|e| Error::usage("-r", e.to_string()))?;
        let nonzero = |flag: &str, v: Vec<u32>| {
            if v.contains(&0) {
                Err(Error::usage(flag, "contains 0; expected positive sizes"))
            } else {
                Ok(v)
            }
        };
        let llamacpp = a.llamacpp.lists()?;
        Ok(Self {
            n_prompt: int_list("-p", &a.n_prompt)?,
            n_gen: int_list("-n", &a.n_gen)?,
            pg,
            n_depth: int_list("-d", &a.n_depth)?,
            batch: nonzero("-b", int_list("-b", &a.batch)?)?,
            ubatch: nonzero("-ub", int_list("-ub", &a.ubatch)?)?,
            n_seq: nonzero("--npl", int_list("--npl", &a.n_seq)?)?,
            type_k: types("-ctk", &a.type_k)?,
            type_v: types("-ctv", &a.type_v)?,
            threads_given: !a.threads.is_empty(),
            flash_attn: a
                .flash_attn
                .iter()
                .map(|v| flag_value("-fa", v, true))
                .collect::<Result<_, _>>()?,
            repack: a
                .repack
                .iter()
                .map(|v| {
                    flag_value("--repack", v, false)?.ok_or_else(|| {
                        Error::usage("--repack", "`auto` is not a value here; expected 0 or 1")
                    })
                })
                .collect::<Result<_, _>>()?,
            threads,
            reps: a.reps,
            output: a
                .output
                .parse()
                .map_err(|e: crate::report::UnknownFormat| Error::usage("-o", e.to_string()))?,
            model: a.model,
            system: a.system,
            sets: a
                .set
                .iter()
                .map(|s| Override::parse(s))
                .collect::<Result<_, _>>()?,
            placements: llamacpp.placements()?,
            llamacpp,
            seed: a.seed,
            cold_from: a.cold_from,
        })
    }

    /// The tests in llama-bench's order, each within [`limits::TOKENS`], at most
    /// [`limits::TEST_CASES`] of them.
    pub fn cases(&self) -> Result<Vec<TestCase>, Error> {
        let grid = TestGrid {
            n_prompt: self.n_prompt.clone(),
            n_gen: self.n_gen.clone(),
            pg: self.pg.clone(),
            n_depth: self.n_depth.clone(),
            n_batch: self.batch.clone(),
            n_ubatch: self.ubatch.clone(),
            n_seq: self.n_seq.clone(),
            type_k: self.type_k.clone(),
            type_v: self.type_v.clone(),
            n_threads: self.threads.clone(),
            flash_attn: self.flash_attn.clone(),
            repack: self.repack.clone(),
        };
        let per_placement = grid
            .count()
            .map_err(|e| Error::usage("-p/-n/-pg/-d/-b/-ub/-ctk/-ctv/-t/-fa", e.to_string()))?;
        limits::TEST_CASES
            .product([per_placement, self.placements.len() as u64])
            .map_err(|e| Error::usage("-ngl/-ncmoe/-ot/-nkvo", e.to_string()))?;
        let cases = grid.cases();
        for c in &cases {
            c.check_tokens().map_err(|(field, e)| {
                let flag = match field {
                    "n_prompt" => "-p",
                    "n_gen" => "-n",
                    _ => "-d",
                };
                Error::usage(flag, e.to_string())
            })?;
        }
        Ok(cases)
    }
}

/// Runs the simulation and streams the records in the chosen format: every test under every
/// llama.cpp placement, placements outermost.
pub fn run(opts: &SimulateOptions, out: &mut dyn Write) -> Result<(), Error> {
    let mut runs = Vec::with_capacity(opts.placements.len());
    let all_cases = opts.cases()?;
    let mut work: u64 = 0;
    for placement in &opts.placements {
        let sets: Vec<Override> = opts.sets.iter().chain(placement).cloned().collect();
        let model = load::model(opts.model.as_deref(), &sets)?;
        let system = load::system(opts.system.as_deref(), &sets)?;
        let machine = Machine::new(&model.spec, &system.spec)?;
        let mut cases = all_cases.clone();
        // The work estimate is known once the model is: refuse a run of hours before it starts.
        for c in &cases {
            let steps = c.layer_steps(model.spec.n_layers);
            work = work.saturating_add(steps.saturating_mul(u64::from(opts.reps)));
        }
        limits::WORK
            .check(work)
            .map_err(|e| Error::usage("-r/-p/-n/-d", e.to_string()))?;
        threads_against_profile(&machine, &mut cases, opts.threads_given);
        // A profile with figures at several thread counts: one machine per count the tests use.
        let mut at_threads: Vec<(u32, Machine)> = Vec::new();
        for c in &cases {
            if at_threads.iter().any(|(t, _)| *t == c.n_threads)
                || machine
                    .system
                    .compute
                    .threads
                    .is_none_or(|t| t == c.n_threads)
            {
                continue;
            }
            if let Some(s) = system.spec.at_threads(c.n_threads) {
                at_threads.push((c.n_threads, Machine::new(&model.spec, &s)?));
            }
        }
        if let Some(k) = &machine.kernels
            && !k.fallback.is_empty()
        {
            let types: Vec<&str> = k.fallback.iter().map(|t| t.name()).collect();
            eprintln!(
                "tiersim: warning: system `{}` has no kernel rate for {} (used by {}): those \
                 weights run at peak_flops × decode/prefill efficiency; calibrate on a model \
                 of that type or add compute.kernels.{}",
                machine.system.name,
                types.join(", "),
                machine.model.name,
                types[0]
            );
        }
        if let Some(name) = &opts.cold_from {
            let tier = machine
                .tier_index(name)
                .filter(|&i| i > 0)
                .ok_or_else(|| Error::usage("--cold-from", format!("`{name}` is not a device tier of {}; expected one of its tiers after the first", machine.system.name)))?;
            for c in &mut cases {
                c.stage_from = Some(tier);
            }
        }
        // Every test's capacity is checked before the first result is written, so a run
        // either fails at once or writes a complete, well-formed file.
        for case in &cases {
            case.kv_layout(&machine)?;
        }
        runs.push((machine, at_threads, cases));
    }
    let ctx = RecordContext {
        model_origin: opts.model.as_deref().unwrap_or(load::DEFAULT_MODEL),
        seed: opts.seed,
    };
    let system_name = runs.first().map_or("", |(m, _, _)| m.system.name.as_str());
    let mut info = RunInfo::new(system_name, opts.seed);
    let names = |ts: &[QuantType]| ts.iter().map(|t| t.name()).collect::<Vec<_>>();
    let l = &opts.llamacpp;
    info.md_columns = MdColumns {
        n_gpu_layers: !l.n_gpu_layers.is_empty(),
        n_cpu_moe: MdColumns::shows(&l.n_cpu_moe, &0),
        n_batch: MdColumns::shows(&opts.batch, &MdColumns::DEFAULT_N_BATCH),
        n_ubatch: MdColumns::shows(&opts.ubatch, &MdColumns::DEFAULT_N_UBATCH),
        type_k: MdColumns::shows(&names(&opts.type_k), &MdColumns::DEFAULT_CACHE_TYPE),
        type_v: MdColumns::shows(&names(&opts.type_v), &MdColumns::DEFAULT_CACHE_TYPE),
        no_kv_offload: MdColumns::shows(&l.no_kv_offload, &false),
        override_tensors: !l.override_tensors.is_empty(),
        n_seq: MdColumns::shows(&opts.n_seq, &1),
        flash_attn: MdColumns::shows(
            &opts
                .flash_attn
                .iter()
                .map(|f| f.map_or(-1, i32::from))
                .collect::<Vec<_>>(),
            &MdColumns::DEFAULT_FLASH_ATTN,
        ),
        ..MdColumns::for_backend("CPU")
    };
    let mut exporter = opts.output.exporter(info);
    exporter.header(out).map_err(Error::Output)?;
    for (main, at_threads, cases) in &runs {
        // Test ids restart with each placement: a placement's rows equal those of a run
        // given that placement alone.
        for (id, case) in cases.iter().enumerate() {
            let machine = at_threads
                .iter()
                .find(|(t, _)| *t == case.n_threads)
                .map_or(main, |(_, m)| m);
            let outcome = scenario::run_test(machine, case, opts.reps, opts.seed, id as u32)?;
            let rec = scenario::record(machine, &ctx, case, &outcome);
            exporter.record(out, &rec).map_err(Error::Output)?;
            for (t, usage) in machine.system.tiers.iter().zip(&rec.tiers) {
                if let Some(w) = scenario::wear_warning(t, usage.lifetime_years) {
                    eprintln!("tiersim: warning: {}: {w}", rec.test_name());
                }
            }
        }
    }
    exporter.footer(out).map_err(Error::Output)
}

/// A profile's figures hold at the thread count it was fitted at: without `-t` the tests run
/// at that count; a `-t` it does not cover is predicted with its figures and said so on stderr.
fn threads_against_profile(machine: &Machine, cases: &mut [scenario::TestCase], given: bool) {
    let Some(fitted) = machine.system.compute.threads else {
        return;
    };
    if !given {
        for c in cases.iter_mut() {
            c.n_threads = fitted;
        }
        return;
    }
    let covered = machine.system.thread_counts();
    let mut warned = Vec::new();
    for c in cases.iter() {
        if !covered.contains(&c.n_threads) && !warned.contains(&c.n_threads) {
            warned.push(c.n_threads);
            eprintln!(
                "tiersim: warning: -t {}: system `{}` holds figures for {} thread(s) only; \
                 the prediction uses those of {fitted} unchanged (fit a profile at this thread \
                 count with tiersim calibrate -t {} and add it under compute_at_threads)",
                c.n_threads,
                machine.system.name,
                covered
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                c.n_threads
            );
        }
    }
}

/// llama-bench's boolean flag values: `1`/`on`/`true`, `0`/`off`/`false`, and where
/// `auto_ok`, `auto` or `-1` (`None`).
fn flag_value(flag: &str, text: &str, auto_ok: bool) -> Result<Option<bool>, Error> {
    match text.trim() {
        "1" | "on" | "true" => Ok(Some(true)),
        "0" | "off" | "false" => Ok(Some(false)),
        "auto" | "-1" if auto_ok => Ok(None),
        other => Err(Error::usage(
            flag,
            format!(
                "`{other}` is not a value; expected 0, 1{}",
                if auto_ok { " or auto" } else { "" }
            ),
        )),
    }
}

fn int(flag: &str, text: &str) -> Result<u32, Error> {
    text.trim()
        .parse()
        .map_err(|_| Error::usage(flag, format!("`{text}` is not a non-negative integer")))
}

/// Parses llama-bench's integer lists: values, `first-last`, `first-last+step`, `first-last*mult`.
pub(crate) fn int_list(flag: &str, items: &[String]) -> Result<Vec<u32>, Error> {
    let mut out = Vec::new();
    for item in items {
        let item = item.trim();
        limits::LIST_VALUES
            .check(out.len() as u64 + 1)
            .map_err(|e| Error::usage(flag, e.to_string()))?;
        let Some((first, rest)) = item.split_once('-') else {
            out.push(int(flag, item)?);
            continue;
        };
        // A part that is not a number is reported with the whole item as typed (`-p=-1` is an
        // empty first part; the user typed `-1`).
        let part = |t: &str| t.trim().parse::<u32>().ok();
        let parsed = if let Some((l, s)) = rest.split_once('+') {
            part(l).zip(part(s).map(Step::Add))
        } else if let Some((l, s)) = rest.split_once('*') {
            part(l).zip(part(s).map(Step::Mul))
        } else {
            part(rest).map(|l| (l, Step::Add(1)))
        };
        let (Some(first), Some((last, step))) = (part(first), parsed) else {
            return Err(Error::usage(
                flag,
                format!(
                    "`{item}` is neither a non-negative integer nor a range; expected a value such \
                     as 512 or first-last, first-last+step, first-last*mult"
                ),
            ));
        };
        let bad = matches!(step, Step::Add(0) | Step::Mul(0 | 1))
            || (matches!(step, Step::Mul(_)) && first == 0);
        if bad || last < first {
            return Err(Error::usage(
                flag,
                format!(
                    "`{item}` is not a range; expected first-last, first-last+step or first-last*mult with first <= last"
                ),
            ));
        }
        // The range's length is known before it is expanded: bound it, not the memory.
        let len = match step {
            Step::Add(s) => u64::from((last - first) / s) + 1,
            Step::Mul(m) => {
                let (mut n, mut v) = (1u64, u64::from(first));
                while v * u64::from(m) <= u64::from(last) {
                    v *= u64::from(m);
                    n += 1;
                }
                n
            }
        };
        limits::LIST_VALUES
            .check(out.len() as u64 + len)
            .map_err(|e| Error::usage(flag, format!("`{item}` {e}")))?;
        let mut v = first;
        while v <= last {
            out.push(v);
            v = match step {
                Step::Add(s) => v.saturating_add(s),
                Step::Mul(m) => v.saturating_mul(m),
            };
            if v == u32::MAX {
                break;
            }
        }
    }
    Ok(out)
}

enum Step {
    Add(u32),
    Mul(u32),
}

fn types(flag: &str, items: &[String]) -> Result<Vec<QuantType>, Error> {
    items
        .iter()
        .map(|t| {
            QuantType::from_name(t.trim()).ok_or_else(|| {
                Error::usage(flag, format!("`{t}` is not a ggml type; expected f16, bf16, f32, q8_0, q4_0, q4_1, q5_0, q5_1 or iq4_nl"))
            })
        })
        .collect()
}
