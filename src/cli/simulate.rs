//! `tiersim simulate`: raw llama-bench flags validated into [`SimulateOptions`], then run test by
//! test, each record streamed out as it finishes.

use std::io::{self, Write};

use crate::cli::llama_bench::{
    Session, UnmodelledLists, flash_attn, int_list, output_format, switch_list,
};
use crate::cli::{LlamaCppLists, SimulateArgs};
use crate::config::load::{self, Override};
use crate::error::Error;
use crate::limits;
use crate::model::quant::QuantType;
use crate::report::{Exporter, MdColumns, OutputFormat, RunInfo, TestClock, parse_utc};
use crate::scenario::{self, RecordContext, TestCase, TestGrid, TestOutcome};
use crate::sim::machine::Machine;

/// The thread count recorded for a system that records none (a GPU, whose speed does not
/// depend on host threads) when `-t` is not given: a fixed figure, so that the output does not
/// depend on the machine running the simulation.
pub const UNTHREADED_DEFAULT: u32 = 1;

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
    /// Thread counts from `-t`; `None` runs each system at its own count
    /// ([`UNTHREADED_DEFAULT`] when it records none).
    pub threads: Option<Vec<u32>>,
    /// Flash attention settings (`None`: auto).
    pub flash_attn: Vec<Option<bool>>,
    /// Weight repacking settings.
    pub repack: Vec<bool>,
    /// Repetitions.
    pub reps: u32,
    /// Output format on stdout; `None` writes nothing there (`-o none`).
    pub output: Option<OutputFormat>,
    /// Models (preset names or files) in run order; empty runs the default model.
    pub models: Vec<String>,
    /// System preset or file.
    pub system: Option<String>,
    /// Overrides.
    pub sets: Vec<Override>,
    /// llama.cpp placements to run every test under, each as overrides applied after `sets`
    /// (one empty placement without llama.cpp flags).
    pub placements: Vec<Vec<Override>>,
    /// The llama.cpp flags' values, for the md table's columns.
    pub llamacpp: LlamaCppLists,
    /// The values of llama-bench's flags whose effect is not simulated.
    pub unmodelled: UnmodelledLists,
    /// Session options (`-oe`, `-v`, `--progress`, `--list-devices`).
    pub session: Session,
    /// Seed.
    pub seed: u64,
    /// When the first test starts, in seconds since the Unix epoch.
    pub start_time: i64,
    /// Tier the weights are staged from (cold start).
    pub cold_from: Option<String>,
}

impl SimulateOptions {
    /// Validates raw flags; the test clock starts at `--test-time`, else at the
    /// `SOURCE_DATE_EPOCH` of the environment, else at the Unix epoch.
    pub fn from_args(a: SimulateArgs) -> Result<Self, Error> {
        let source_date_epoch = std::env::var("SOURCE_DATE_EPOCH").ok();
        let pg =
            a.pg.iter()
                .map(|v| {
                    let pair = v
                        .split_once(',')
                        .and_then(|(p, g)| Some((p.trim().parse().ok()?, g.trim().parse().ok()?)));
                    pair.ok_or_else(|| {
                    Error::usage(
                        "-pg",
                        format!(
                            "`{v}` is not a pair of token counts; expected pp,tg such as 512,128"
                        ),
                    )
                })
                })
                .collect::<Result<_, Error>>()?;
        let reps = a
            .reps
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|&r| r > 0)
            .ok_or_else(|| {
                Error::usage(
                    "-r",
                    format!(
                        "`{}` is not a repetition count; expected a positive integer such as 5",
                        a.reps
                    ),
                )
            })?;
        limits::REPETITIONS
            .check(u64::from(reps))
            .map_err(|e| Error::usage("-r", e.to_string()))?;
        let positive = |flag: &str, items: &[String]| {
            let v = int_list(flag, items)?;
            if v.contains(&0) {
                return Err(Error::usage(
                    flag,
                    "`0` is not a positive integer; expected values of at least 1",
                ));
            }
            Ok(v)
        };
        let llamacpp = a.llamacpp.lists()?;
        let unmodelled = a.unmodelled.lists()?;
        let session = a.session.session()?;
        Ok(Self {
            n_prompt: int_list("-p", &a.n_prompt)?,
            n_gen: int_list("-n", &a.n_gen)?,
            pg,
            n_depth: int_list("-d", &a.n_depth)?,
            batch: positive("-b", &a.batch)?,
            ubatch: positive("-ub", &a.ubatch)?,
            n_seq: positive("--npl", &a.n_seq)?,
            type_k: types("-ctk", &a.type_k)?,
            type_v: types("-ctv", &a.type_v)?,
            threads: if a.threads.is_empty() {
                None
            } else {
                Some(positive("-t", &a.threads)?)
            },
            flash_attn: a
                .flash_attn
                .iter()
                .map(|v| flash_attn(v))
                .collect::<Result<_, _>>()?,
            repack: switch_list("--repack", &a.repack)?,
            reps,
            output: output_format("-o", &a.output)?,
            models: a.model,
            system: a.system,
            sets: a
                .set
                .iter()
                .map(|s| Override::parse(s))
                .collect::<Result<_, _>>()?,
            placements: llamacpp.placements()?,
            llamacpp,
            unmodelled,
            session,
            seed: a.seed,
            start_time: start_time(a.test_time.as_deref(), source_date_epoch.as_deref())?,
            cold_from: a.cold_from,
        })
    }

    /// The tests in llama-bench's order, at thread counts `threads`: each within
    /// [`limits::TOKENS`], at most [`limits::TEST_CASES`] of them.
    pub fn cases(&self, threads: &[u32]) -> Result<Vec<TestCase>, Error> {
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
            n_threads: threads.to_vec(),
            flash_attn: self.flash_attn.clone(),
            repack: self.repack.clone(),
        };
        let per_group = grid
            .count()
            .map_err(|e| Error::usage("-p/-n/-pg/-d/-b/-ub/-ctk/-ctv/-t/-fa", e.to_string()))?;
        limits::TEST_CASES
            .product([
                per_group,
                self.placements.len() as u64,
                self.models.len().max(1) as u64,
                self.unmodelled.variants().len() as u64,
            ])
            .map_err(|e| Error::usage("-m/-ngl/-ot and the other lists", e.to_string()))?;
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

    /// The md columns llama-bench would show for this command line.
    pub fn md_columns(&self) -> MdColumns {
        let names = |ts: &[QuantType]| ts.iter().map(|t| t.name()).collect::<Vec<_>>();
        let l = &self.llamacpp;
        let mut c = MdColumns {
            n_gpu_layers: MdColumns::shows(&l.n_gpu_layers, &-1),
            n_cpu_moe: MdColumns::shows(&l.n_cpu_moe, &0),
            n_batch: MdColumns::shows(&self.batch, &MdColumns::DEFAULT_N_BATCH),
            n_ubatch: MdColumns::shows(&self.ubatch, &MdColumns::DEFAULT_N_UBATCH),
            type_k: MdColumns::shows(&names(&self.type_k), &MdColumns::DEFAULT_CACHE_TYPE),
            type_v: MdColumns::shows(&names(&self.type_v), &MdColumns::DEFAULT_CACHE_TYPE),
            no_kv_offload: MdColumns::shows(&l.no_kv_offload, &false),
            override_tensors: !l.override_tensors.is_empty(),
            repack: MdColumns::shows(&self.repack, &true),
            n_seq: MdColumns::shows(&self.n_seq, &1),
            flash_attn: MdColumns::shows(
                &self
                    .flash_attn
                    .iter()
                    .map(|f| f.map_or(-1, i32::from))
                    .collect::<Vec<_>>(),
                &MdColumns::DEFAULT_FLASH_ATTN,
            ),
            ..MdColumns::for_backend("CPU")
        };
        self.unmodelled.show_columns(&mut c);
        c
    }
}

/// The first test's start in seconds since the Unix epoch: `--test-time` (ISO 8601 UTC or
/// seconds), else `SOURCE_DATE_EPOCH` (seconds), else 0.
fn start_time(flag: Option<&str>, source_date_epoch: Option<&str>) -> Result<i64, Error> {
    let seconds = |t: &str| t.trim().parse::<i64>().ok().filter(|&s| s >= 0);
    match (flag, source_date_epoch) {
        (Some(t), _) => parse_utc(t.trim()).or_else(|| seconds(t)).ok_or_else(|| {
            Error::usage(
                "--test-time",
                format!("`{t}` is not a UTC time; expected YYYY-MM-DDTHH:MM:SSZ such as 2026-11-22T22:17:16Z, or seconds since 1970"),
            )
        }),
        (None, Some(e)) => seconds(e).ok_or_else(|| {
            Error::usage(
                "SOURCE_DATE_EPOCH",
                format!("`{e}` is not a time; expected seconds since 1970 such as 1795385836"),
            )
        }),
        (None, None) => Ok(0),
    }
}

/// The tests of one model under one placement, with the machines that run them.
struct Group {
    /// The model as the user named it.
    model_origin: String,
    /// What `-v` says about the group.
    description: String,
    /// The machine at the system's own thread count.
    machine: Machine,
    /// Machines at the other thread counts the tests use, from `compute_at_threads`.
    at_threads: Vec<(u32, Machine)>,
    cases: Vec<TestCase>,
}

impl Group {
    fn machine(&self, threads: u32) -> &Machine {
        self.at_threads
            .iter()
            .find(|(t, _)| *t == threads)
            .map_or(&self.machine, |(_, m)| m)
    }
}

/// Runs the simulation and streams the records in the chosen formats: every test under every
/// model and llama.cpp placement (models outermost), repeated for each combination of the
/// unmodelled flags' values (which changes only what the rows record).
pub fn run(opts: &SimulateOptions, out: &mut dyn Write) -> Result<(), Error> {
    for n in opts.unmodelled.notices.iter().chain(&opts.session.notices) {
        eprintln!("tiersim: {n}");
    }
    if opts.session.list_devices {
        return list_devices(opts, out);
    }
    let groups = prepare(opts)?;
    let info = RunInfo {
        md_columns: opts.md_columns(),
    };
    let mut stdout_exporter = opts.output.map(|f| f.exporter(info.clone()));
    let mut stderr_exporter = opts.session.output_err.map(|f| f.exporter(info));
    let mut err = io::stderr();
    let mut each = |f: &mut dyn FnMut(&mut dyn Exporter, &mut dyn Write) -> io::Result<()>| {
        if let Some(e) = stdout_exporter.as_mut() {
            f(e.as_mut(), out).map_err(Error::Output)?;
        }
        if let Some(e) = stderr_exporter.as_mut() {
            f(e.as_mut(), &mut err).map_err(Error::Output)?;
        }
        Ok::<(), Error>(())
    };
    each(&mut |e, w| e.header(w))?;
    let variants = opts.unmodelled.variants();
    let total: usize = groups.iter().map(|g| g.cases.len()).sum::<usize>() * variants.len();
    let mut clock = TestClock::starting_at(opts.start_time);
    let mut started = 0;
    for g in &groups {
        if opts.session.verbose {
            eprintln!("tiersim: {}", g.description);
        }
        let ctx = RecordContext {
            model_origin: &g.model_origin,
            seed: opts.seed,
        };
        // The unmodelled settings do not change the simulation: each test runs once and its
        // outcome is recorded under every combination.
        let mut outcomes: Vec<Option<TestOutcome>> = vec![None; g.cases.len()];
        for (v, settings) in variants.iter().enumerate() {
            // Test ids restart with each group: a group's rows equal those of a run given
            // that model and placement alone.
            for (id, case) in g.cases.iter().enumerate() {
                started += 1;
                if opts.session.progress {
                    eprintln!("tiersim: benchmark {started}/{total}: {}", case.name());
                }
                let machine = g.machine(case.n_threads);
                let outcome = match &mut outcomes[id] {
                    Some(o) => o,
                    slot => slot.insert(scenario::run_test(
                        machine, case, opts.reps, opts.seed, id as u32,
                    )?),
                };
                let mut rec = scenario::record(machine, &ctx, case, outcome);
                rec.unmodelled = settings.clone();
                rec.test_time = clock.stamp();
                clock.advance(outcome.samples.iter().copied().sum());
                each(&mut |e, w| e.record(w, &rec))?;
                if v > 0 {
                    continue;
                }
                for (t, usage) in machine.system.tiers.iter().zip(&rec.tiers) {
                    if let Some(w) = scenario::wear_warning(t, usage.lifetime_years) {
                        eprintln!("tiersim: warning: {}: {w}", rec.test_name());
                    }
                }
            }
        }
    }
    each(&mut |e, w| e.footer(w))
}

/// Loads every model under every placement, checks that each test fits, and says on stderr
/// what the system cannot predict as asked.
fn prepare(opts: &SimulateOptions) -> Result<Vec<Group>, Error> {
    let models: Vec<Option<&str>> = if opts.models.is_empty() {
        vec![None]
    } else {
        opts.models.iter().map(|m| Some(m.as_str())).collect()
    };
    let mut groups = Vec::with_capacity(models.len() * opts.placements.len());
    let mut threads_noted = false;
    let mut work: u64 = 0;
    for &model_name in &models {
        for placement in &opts.placements {
            let sets: Vec<Override> = opts.sets.iter().chain(placement).cloned().collect();
            let model = load::model(model_name, &sets)?;
            let system = load::system(opts.system.as_deref(), &sets)?;
            let machine = Machine::new(&model.spec, &system.spec)?;
            let fitted = machine.system.compute.threads;
            let threads = match (&opts.threads, fitted) {
                (Some(t), _) => t.clone(),
                (None, Some(f)) => vec![f],
                (None, None) => vec![UNTHREADED_DEFAULT],
            };
            if let (Some(t), None) = (&opts.threads, fitted)
                && !threads_noted
            {
                threads_noted = true;
                eprintln!(
                    "tiersim: -t {}: system `{}` records no thread count (its compute does not \
                     depend on host threads), so the flag has no effect on the prediction; the \
                     value is recorded in `n_threads`",
                    join(t),
                    machine.system.name
                );
            }
            let mut cases = opts.cases(&threads)?;
            // The work estimate is known once the model is: refuse a run of hours before it
            // starts, not after.
            for c in &cases {
                let steps = c.layer_steps(model.spec.n_layers);
                work = work.saturating_add(steps.saturating_mul(u64::from(opts.reps)));
            }
            limits::WORK
                .check(work)
                .map_err(|e| Error::usage("-r/-p/-n/-d", e.to_string()))?;
            if opts.threads.is_some() {
                warn_uncovered_threads(&machine, &cases);
            }
            // A profile with figures at several thread counts: one machine per count the tests
            // use.
            let mut at_threads: Vec<(u32, Machine)> = Vec::new();
            for c in &cases {
                if at_threads.iter().any(|(t, _)| *t == c.n_threads)
                    || fitted.is_none_or(|t| t == c.n_threads)
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
            let placed: Vec<&str> = placement.iter().map(|o| o.text.as_str()).collect();
            let description = format!(
                "model `{}` ({}), system `{}` ({}), placement {}, seed {}",
                model.spec.name,
                model.origin,
                system.spec.name,
                system.origin,
                if placed.is_empty() {
                    "as the system places it".to_owned()
                } else {
                    placed.join(" ")
                },
                opts.seed
            );
            groups.push(Group {
                model_origin: model_name.unwrap_or(load::DEFAULT_MODEL).to_owned(),
                description,
                machine,
                at_threads,
                cases,
            });
        }
    }
    Ok(groups)
}

/// A profile's figures hold at the thread counts it was fitted at: a `-t` it does not cover is
/// predicted with its main figures and said so on stderr, once per count.
fn warn_uncovered_threads(machine: &Machine, cases: &[TestCase]) {
    let Some(fitted) = machine.system.compute.threads else {
        return;
    };
    let covered = machine.system.thread_counts();
    let mut warned = Vec::new();
    for c in cases {
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

/// `--list-devices`: the simulated system's compute device and memory tiers.
fn list_devices(opts: &SimulateOptions, out: &mut dyn Write) -> Result<(), Error> {
    let system = load::system(opts.system.as_deref(), &opts.sets)?;
    let mut text = format!(
        "Available devices (simulated system `{}`):\n  compute: {}\n",
        system.spec.name, system.spec.compute.device
    );
    for t in &system.spec.tiers {
        text.push_str(&format!(
            "  {}: {}, read {}\n",
            t.name, t.capacity, t.read_bw
        ));
    }
    out.write_all(text.as_bytes()).map_err(Error::Output)
}

fn join(values: &[u32]) -> String {
    values
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_time_comes_from_the_flag_then_the_environment_then_the_epoch() {
        assert_eq!(start_time(None, None).unwrap(), 0);
        assert_eq!(start_time(None, Some("1795385836")).unwrap(), 1_795_385_836);
        assert_eq!(
            start_time(Some("2026-11-22T22:17:16Z"), Some("5")).unwrap(),
            1_795_385_836
        );
        assert_eq!(start_time(Some("60"), None).unwrap(), 60);
        let e = start_time(Some("yesterday"), None).unwrap_err().to_string();
        assert!(
            e.starts_with("--test-time: `yesterday` is not a UTC time;"),
            "{e}"
        );
        let e = start_time(None, Some("-3")).unwrap_err().to_string();
        assert!(
            e.starts_with("SOURCE_DATE_EPOCH: `-3` is not a time;"),
            "{e}"
        );
    }
}
