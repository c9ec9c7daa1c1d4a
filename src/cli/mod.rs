//! The command line: flags defined here with clap, turned once into typed options per command,
//! then run. llama-bench's single-dash long flags (`-pg`, `-ub`, `-ctk`) are accepted by
//! rewriting them to clap's double-dash form before parsing ([`llama_bench`]).

pub mod calibrate;
pub mod ceiling;
pub mod latency;
pub mod llama_bench;
pub mod reproduce;
pub mod require;
pub mod serve;
pub mod simulate;
pub mod stage;
pub mod sweep;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use self::llama_bench::normalize_args;
use crate::config::load::Override;
use crate::config::presets;
use crate::error::Error;

/// tiersim: a discrete-event simulator of the memory hierarchy under LLM inference.
#[derive(Debug, Parser)]
#[command(name = "tiersim", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// tiersim's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// A simulated llama-bench: llama-bench's flags, output and field names.
    Simulate(Box<SimulateArgs>),
    /// Run a sweep spec (default: the embedded headline sweep) in parallel into CSV, plots and
    /// a summary; `sweep merge` joins shard outputs.
    Sweep(Box<SweepArgs>),
    /// The least (or most) value of a parameter that meets targets such as
    /// `tg >= 0.9*baseline`, by bisection, over a grid of other parameters.
    Require(RequireArgs),
    /// Serve a stream of requests with continuous batching: throughput, TTFT and TPOT
    /// percentiles, traffic and flash lifetime per tier.
    Serve(Box<serve::ServeArgs>),
    /// Fit a system profile to measured llama-bench results.
    Calibrate(Box<calibrate::CalibrateArgs>),
    /// Compare a profile's predictions with measured llama-bench results.
    Validate(Box<calibrate::ValidateArgs>),
    /// Staging time of a model's weights through a capped tier (the `tier_copy.py` emulation).
    Stage(stage::StageArgs),
    /// SVG curves from a sweep CSV (its JSON sidecar names the varied parameters).
    Plot {
        /// The sweep CSV.
        csv: PathBuf,
        /// Where the SVG files go (default: beside the CSV).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Decode ceiling vs tier bandwidth: `kv_spill_sim.py`'s formula, printed as it prints it.
    Ceiling(Box<CeilingArgs>),
    /// Model specs: `model inspect FILE.gguf` prints the spec a GGUF header describes.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Latency distributions from measurements (`latency from-fio FILE.json`).
    #[command(subcommand)]
    Latency(latency::LatencyCommand),
    /// List the embedded presets with how many of their figures are cited, assumed or without
    /// evidence; with a name (or a YAML file), every figure of it with its source.
    Presets {
        /// A preset name (`h100-hbf`) or a spec YAML file; all presets when absent.
        name: Option<String>,
    },
    /// Published HBF results beside tiersim's figures: each scenario of `models/scenarios/`
    /// (or a scenario YAML file) with the error per figure and the reason for each miss.
    Reproduce {
        /// A scenario name (`flashlab-read-ceiling`) or file; all scenarios when absent.
        name: Option<String>,
    },
}

/// `tiersim simulate` flags, as llama-bench spells them. Lists take commas or repetition;
/// integer lists take llama-bench's ranges (`128-1024*2`, `0-4096+1024`).
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Prompt lengths (pp tests); 0 disables.
    #[arg(
        short = 'p',
        long = "n-prompt",
        value_delimiter = ',',
        default_value = "512",
        allow_hyphen_values = true
    )]
    pub n_prompt: Vec<String>,
    /// Generation lengths (tg tests); 0 disables.
    #[arg(
        short = 'n',
        long = "n-gen",
        value_delimiter = ',',
        default_value = "128",
        allow_hyphen_values = true
    )]
    pub n_gen: Vec<String>,
    /// Prompt and generation pairs `pp,tg` (pg tests); repeat for several.
    #[arg(long = "pg", allow_hyphen_values = true)]
    pub pg: Vec<String>,
    /// KV cache depth before the timed part.
    #[arg(
        short = 'd',
        long = "n-depth",
        value_delimiter = ',',
        default_value = "0",
        allow_hyphen_values = true
    )]
    pub n_depth: Vec<String>,
    /// Logical batch size.
    #[arg(
        short = 'b',
        long = "batch-size",
        value_delimiter = ',',
        default_value = "2048",
        allow_hyphen_values = true
    )]
    pub batch: Vec<String>,
    /// Physical batch size (prompt tokens per step).
    #[arg(
        long = "ub",
        alias = "ubatch-size",
        value_delimiter = ',',
        default_value = "512",
        allow_hyphen_values = true
    )]
    pub ubatch: Vec<String>,
    /// Sequences decoding together (llama-batched-bench's `-npl`): the weights are read once
    /// per step for all of them, each keeps its own KV cache; rates count every sequence's
    /// tokens.
    #[arg(
        long = "npl",
        alias = "n-seq",
        value_delimiter = ',',
        default_value = "1",
        allow_hyphen_values = true
    )]
    pub n_seq: Vec<String>,
    /// KV cache key types (`f16`, `q8_0`, `q4_0`).
    #[arg(
        long = "ctk",
        alias = "cache-type-k",
        value_delimiter = ',',
        default_value = "f16"
    )]
    pub type_k: Vec<String>,
    /// KV cache value types.
    #[arg(
        long = "ctv",
        alias = "cache-type-v",
        value_delimiter = ',',
        default_value = "f16"
    )]
    pub type_v: Vec<String>,
    /// Threads. A profile fitted at one thread count predicts that count (the default when
    /// the system records one); another count is predicted with its figures and a warning. A
    /// system that records none (a GPU) runs at 1 without `-t`, and the value is recorded only.
    #[arg(
        short = 't',
        long = "threads",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    pub threads: Vec<String>,
    /// Flash attention (`-fa`): on, off or auto (1, 0, -1), as a list. Off costs a rate factor
    /// and three graph nodes per layer (`compute.no_flash_attention`).
    #[arg(
        long = "flash-attn",
        value_delimiter = ',',
        default_value = "auto",
        allow_hyphen_values = true
    )]
    pub flash_attn: Vec<String>,
    /// Weight repacking at load: 0 or 1, as a list. Off runs every weight type's plain-layout
    /// kernel.
    #[arg(long = "repack", value_delimiter = ',', default_value = "1")]
    pub repack: Vec<String>,
    /// Repetitions of each test, each with its own random stream.
    #[arg(
        short = 'r',
        long = "repetitions",
        default_value = "5",
        allow_hyphen_values = true
    )]
    pub reps: String,
    /// Output format: md, csv, json, jsonl, sql or none.
    #[arg(short = 'o', long = "output", default_value = "md")]
    pub output: String,
    /// Models, as a list: preset names, YAML or GGUF files (default:
    /// qwen2.5-3b-instruct-q4_k_m). Each runs every test, in order.
    #[arg(short = 'm', long = "model", value_delimiter = ',')]
    pub model: Vec<String>,
    /// System: a preset name or a YAML file (default: h100-hbf).
    #[arg(long = "system")]
    pub system: Option<String>,
    /// Override a parameter by dotted path, with its unit: `tiers.hbf.read_bw=800GB/s`,
    /// `model.n_layers=40`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Seed of the random streams.
    #[arg(long = "seed", default_value_t = 1)]
    pub seed: u64,
    /// When the first test starts, for `test_time`: `YYYY-MM-DDTHH:MM:SSZ` or seconds since
    /// 1970. Later tests add the simulated time before them. Default: `SOURCE_DATE_EPOCH`
    /// when set, else 1970-01-01T00:00:00Z, so that identical inputs give identical files.
    #[arg(long = "test-time", value_name = "UTC")]
    pub test_time: Option<String>,
    /// Cold start: copy the weights from this tier (name) into the local tier inside each
    /// test's timed part, so time to first token includes the staging.
    #[arg(long = "cold-from", value_name = "TIER")]
    pub cold_from: Option<String>,
    /// Placement flags of llama.cpp (`-ngl`, `-ot`, `--n-cpu-moe`, `-nkvo`).
    #[command(flatten)]
    pub llamacpp: LlamaCppArgs,
    /// llama-bench's flags whose effect is not simulated (recorded in every row).
    #[command(flatten)]
    pub unmodelled: llama_bench::UnmodelledArgs,
    /// llama-bench's session flags (`-oe`, `-v`, `--progress`, ...).
    #[command(flatten)]
    pub session: llama_bench::SessionArgs,
}

/// llama.cpp's placement flags, shorthand for `--set placement.llamacpp.*`. For `simulate` they
/// take llama-bench's lists (`-ngl 0,16,33`, `-ngl 0-32+8`, `-ot "exps=CPU,"`) and every test
/// runs once per combination; `serve`, like llama-server, takes one placement.
#[derive(Debug, Clone, Default, Args)]
pub struct LlamaCppArgs {
    /// `-ngl`: layers offloaded to the GPU (tier 0), counting the output layer as the last of
    /// `n_layers + 1`; the rest of the weights, and their KV cache, stay on the host tier. A
    /// negative value offloads every layer, as llama.cpp's default `-1` does.
    #[arg(
        long = "ngl",
        alias = "n-gpu-layers",
        value_name = "N",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    pub n_gpu_layers: Vec<String>,
    /// `-ot`: tensor buffer overrides `regex=BUFFER` (`exps=CPU`, `blk\.1[0-9]\.=hbf`); the
    /// first matching pattern wins. In `simulate`, as in llama-bench, `;` joins overrides
    /// into one placement and `,` or a repeated flag starts another (an empty one has no
    /// overrides); in `serve`, as in llama-server, `,` and repeats add to the one placement.
    #[arg(long = "ot", alias = "override-tensor", value_name = "REGEX=BUFFER")]
    pub override_tensors: Vec<String>,
    /// `--n-cpu-moe`: keep the routed experts of the first N layers on the host.
    #[arg(long = "n-cpu-moe", value_name = "N", value_delimiter = ',')]
    pub n_cpu_moe: Vec<String>,
    /// `-nkvo`: keep every layer's KV cache on the host (llama-bench takes `-nkvo 1`; a bare
    /// `-nkvo` means 1). Without it a layer's KV cache sits where `-ngl` put the layer.
    #[arg(
        long = "nkvo",
        alias = "no-kv-offload",
        value_name = "0|1",
        num_args = 0..=1,
        default_missing_value = "1",
        value_delimiter = ','
    )]
    pub no_kv_offload: Vec<String>,
}

/// The llama.cpp flags' values, parsed: one list per flag, empty when the flag is absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlamaCppLists {
    /// `-ngl` values; negative ones offload every layer.
    pub n_gpu_layers: Vec<i32>,
    /// `-ncmoe` values.
    pub n_cpu_moe: Vec<u32>,
    /// `-nkvo` values.
    pub no_kv_offload: Vec<bool>,
    /// `-ot` groups, llama-bench's way: each a placement's list of `regex=BUFFER` overrides.
    pub override_tensors: Vec<Vec<String>>,
}

impl LlamaCppArgs {
    /// The flags' value lists, with llama-bench's ranges expanded.
    pub fn lists(&self) -> Result<LlamaCppLists, Error> {
        let no_kv_offload = llama_bench::switch_list("-nkvo", &self.no_kv_offload)?;
        let override_tensors = self
            .override_tensors
            .iter()
            .flat_map(|v| v.split(','))
            .map(|group| {
                group
                    .split(';')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .collect();
        Ok(LlamaCppLists {
            override_tensors,
            n_gpu_layers: llama_bench::signed_list("-ngl", &self.n_gpu_layers)?,
            n_cpu_moe: llama_bench::int_list("-ncmoe", &self.n_cpu_moe)?,
            no_kv_offload,
        })
    }

    /// The flags as `--set` overrides for a command that runs one placement (`serve`): a list
    /// of values is an error; every `-ot` adds to the one placement.
    pub fn overrides(&self) -> Result<Vec<Override>, Error> {
        let lists = self.lists()?;
        for (flag, n) in [
            ("-ngl", lists.n_gpu_layers.len()),
            ("--n-cpu-moe", lists.n_cpu_moe.len()),
            ("-nkvo", lists.no_kv_offload.len()),
        ] {
            if n > 1 {
                return Err(Error::usage(
                    flag,
                    format!("has {n} values; this command runs one placement, so give one"),
                ));
            }
        }
        let ot = (!self.override_tensors.is_empty()).then(|| self.override_tensors.clone());
        Ok(combinations(&lists, &[ot])?.pop().unwrap_or_default())
    }
}

impl LlamaCppLists {
    /// Every combination of the values as `--set` overrides of `placement.llamacpp`, in
    /// llama-bench's order (`-ngl` outermost, then `-ncmoe`, `-ot`, `-nkvo`); one empty
    /// combination when no flag is given.
    pub fn placements(&self) -> Result<Vec<Vec<Override>>, Error> {
        combinations(self, &options(&self.override_tensors))
    }
}

/// The overrides of every combination of `lists`' values with the `-ot` groups `ot`.
fn combinations(
    lists: &LlamaCppLists,
    ot: &[Option<Vec<String>>],
) -> Result<Vec<Vec<Override>>, Error> {
    use serde_yaml::Value;
    let ngl = options(&lists.n_gpu_layers);
    let ncmoe = options(&lists.n_cpu_moe);
    let nkvo = options(&lists.no_kv_offload);
    let mut out = Vec::with_capacity(ngl.len() * ncmoe.len() * ot.len() * nkvo.len());
    for &g in &ngl {
        for &c in &ncmoe {
            for o in ot {
                for &k in &nkvo {
                    let mut sets = Vec::new();
                    if let Some(n) = g {
                        // A negative count is llama.cpp's "all layers", the placement's absence.
                        let value = u32::try_from(n).map_or(Value::Null, Value::from);
                        sets.push(Override::new(
                            "placement.llamacpp.n_gpu_layers",
                            value,
                            &format!("-ngl {n}"),
                        )?);
                    }
                    if let Some(n) = c {
                        sets.push(Override::new(
                            "placement.llamacpp.n_cpu_moe",
                            Value::from(n),
                            &format!("--n-cpu-moe {n}"),
                        )?);
                    }
                    // An empty group is llama-bench's placement without overrides.
                    if let Some(entries) = o.as_ref().filter(|e| !e.is_empty()) {
                        let list = entries.iter().map(|e| Value::from(e.as_str())).collect();
                        sets.push(Override::new(
                            "placement.llamacpp.override_tensors",
                            Value::Sequence(list),
                            &format!("-ot {}", entries.join(";")),
                        )?);
                    }
                    if let Some(on) = k {
                        sets.push(Override::new(
                            "placement.llamacpp.no_kv_offload",
                            Value::from(on),
                            &format!("-nkvo {}", u8::from(on)),
                        )?);
                    }
                    out.push(sets);
                }
            }
        }
    }
    Ok(out)
}

/// A flag's values as options, or a single `None` when it was not given.
fn options<T: Clone>(values: &[T]) -> Vec<Option<T>> {
    if values.is_empty() {
        vec![None]
    } else {
        values.iter().cloned().map(Some).collect()
    }
}

/// `tiersim sweep` flags.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepArgs {
    /// Merge shard outputs instead of running.
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// The sweep spec (YAML); the embedded default sweep when absent.
    pub spec: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output directory.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Continue an interrupted sweep in `--out` without redoing finished points.
    #[arg(long)]
    pub resume: bool,
    /// Run only shard `i` of `n` (points whose id is i mod n), for a cluster job array; `auto`
    /// takes it from a Slurm array task's SLURM_ARRAY_TASK_ID, _COUNT, _MIN and _STEP.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
    /// Do not write SVG plots.
    #[arg(long)]
    pub no_plots: bool,
    /// Do not show a progress bar (it is never shown when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

/// `tiersim sweep` subcommands.
#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Join shard CSVs (with their sidecars) into the file one run would have written.
    Merge {
        /// Shard CSV files.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The merged CSV.
        #[arg(long)]
        out: PathBuf,
    },
}

/// `tiersim require` flags.
#[derive(Debug, Args)]
pub struct RequireArgs {
    /// The requirement spec (YAML); the embedded default when absent.
    pub spec: Option<PathBuf>,
    /// Output directory for the table (CSV) and curve (SVG).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `tiersim ceiling` flags: `kv_spill_sim.py`'s options and defaults (underscore spellings too).
#[derive(Debug, Args)]
pub struct CeilingArgs {
    /// KV kilobytes fetched from the tier per token.
    #[arg(
        long = "kv-kb-per-token",
        alias = "kv_kb_per_token",
        default_value = "256",
        allow_hyphen_values = true
    )]
    pub kv_kb_per_token: String,
    /// One tier bandwidth in MB/s.
    #[arg(long = "tier-mbps", alias = "tier_mbps", allow_hyphen_values = true)]
    pub tier_mbps: Option<String>,
    /// Tier bandwidths in MB/s, comma-separated.
    #[arg(
        long = "tier-mbps-list",
        alias = "tier_mbps_list",
        allow_hyphen_values = true
    )]
    pub tier_mbps_list: Option<String>,
    /// Latency per access in milliseconds.
    #[arg(
        long = "op-lat-ms",
        alias = "op_lat_ms",
        default_value = "0.05",
        allow_hyphen_values = true
    )]
    pub op_lat_ms: String,
    /// Accesses per token.
    #[arg(
        long = "ops-per-token",
        alias = "ops_per_token",
        default_value = "2",
        allow_hyphen_values = true
    )]
    pub ops_per_token: String,
    /// Beyond the formula: simulate the tier with this queue depth (default 1).
    #[arg(long)]
    pub queue_depth: Option<u32>,
    /// Simulate with this many parallel units (default 1).
    #[arg(long)]
    pub parallel_units: Option<u32>,
    /// Simulate with this transfer unit (default: the token's bytes over ops-per-token).
    #[arg(long)]
    pub io_size: Option<String>,
    /// Simulate with this read latency distribution, as YAML (`4us`,
    /// `{lognormal: {median: 50us, p99: 200us}}`), or `fio:FILE.json` for a measured one.
    #[arg(long)]
    pub read_latency: Option<String>,
    /// Take the KV bytes per token from this model (preset, YAML or GGUF) at `--context`.
    #[arg(long)]
    pub model: Option<String>,
    /// Context length (tokens of KV read per decoded token) with `--model`.
    #[arg(long, default_value_t = 32768)]
    pub context: u32,
    /// KV cache type with `--model`.
    #[arg(long, default_value = "f16")]
    pub kv_type: String,
    /// With `--model`: the model's weights stream from the tier too.
    #[arg(long)]
    pub weights: bool,
    /// KV kilobytes written to the tier per token (flash program interference).
    #[arg(long)]
    pub write_kb_per_token: Option<String>,
    /// Program latency of those writes, as YAML (default 100us).
    #[arg(long)]
    pub write_latency: Option<String>,
    /// Write bandwidth in MB/s (default: the read bandwidth).
    #[arg(long)]
    pub write_mbps: Option<String>,
    /// Tokens simulated per bandwidth.
    #[arg(long, default_value_t = 64)]
    pub tokens: u32,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the formula-and-simulation table as CSV here.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write the ceiling curve as SVG here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Simulate every access (`fine`) instead of lanes (`coarse`).
    #[arg(long)]
    pub fine: bool,
}

/// `tiersim model` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Print the model spec (YAML) of a GGUF file, preset or YAML file, with its per-layer
    /// weight bytes as comments.
    Inspect {
        /// A GGUF file, a model YAML file or a preset name.
        model: String,
    },
}

/// `--threads` of `sweep` and `require`: all cores by default, at least 1, at most
/// [`crate::limits::THREADS`] (each worker is an OS thread with its own stack).
pub fn worker_threads(given: Option<usize>) -> Result<usize, Error> {
    match given {
        Some(0) => Err(Error::usage("--threads", "is 0; expected at least 1")),
        Some(n) => crate::limits::THREADS
            .check_usize(n as u64)
            .map_err(|e| Error::usage("--threads", e.to_string())),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// Runs a parsed command, writing its results to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<(), Error> {
    match cli.command {
        Command::Simulate(args) => {
            simulate::run(&simulate::SimulateOptions::from_args(*args)?, out)
        }
        Command::Sweep(args) => match &args.command {
            Some(SweepCommand::Merge {
                inputs,
                out: target,
            }) => sweep::merge(inputs, target, out),
            None => sweep::run(&sweep::SweepOptions::from_args(&args)?, out),
        },
        Command::Require(args) => {
            let threads = worker_threads(args.threads)?;
            crate::files::check_out_dir(&args.out)?;
            require::run(args.spec.as_deref(), &args.out, threads, true, out)
        }
        Command::Calibrate(args) => calibrate::run_calibrate(&args, out),
        Command::Validate(args) => calibrate::run_validate(&args, out),
        Command::Plot { csv, out: dir } => {
            if let Some(d) = &dir {
                crate::files::check_out_dir(d)?;
            }
            let mut text = String::new();
            for p in crate::sweep::plots::plot_csv(&csv, dir.as_deref())? {
                text.push_str(&format!("plot: {}\n", p.display()));
            }
            out.write_all(text.as_bytes()).map_err(Error::Output)
        }
        Command::Stage(args) => stage::run(&args, out),
        Command::Serve(args) => serve::run(&args, out),
        Command::Ceiling(args) => ceiling::run(&ceiling::CeilingOptions::from_args(&args)?, out),
        Command::Model(ModelCommand::Inspect { model }) => inspect_model(&model, out),
        Command::Latency(cmd) => latency::run(&cmd, out),
        Command::Presets { name } => list_presets(name.as_deref(), out),
        Command::Reproduce { name } => reproduce::run(name.as_deref(), out),
    }
}

/// `tiersim presets [NAME]`: the summary table, or one preset's figures with their sources.
fn list_presets(name: Option<&str>, out: &mut dyn Write) -> Result<(), Error> {
    let text = match name {
        None => presets::summary()?,
        Some(name) => presets::describe(name)?,
    };
    out.write_all(text.as_bytes()).map_err(Error::Output)
}

fn inspect_model(name: &str, out: &mut dyn Write) -> Result<(), Error> {
    let loaded = crate::config::load::model(Some(name), &[])?;
    let t = crate::model::traffic::ModelTraffic::new(&loaded.spec);
    let yaml = serde_yaml::to_string(&loaded.spec).expect("a spec serialises");
    let mut text = format!("# {} (from {})\n", loaded.spec.name, loaded.origin);
    text.push_str(&format!(
        "# tensor bytes {} ({}), parameters {}\n",
        t.model_size.0, t.model_size, t.n_params
    ));
    text.push_str(&format!(
        "# token_embd {} B, output {} B{}\n",
        t.token_embd.0,
        t.output.0,
        if loaded.spec.tied_embeddings {
            " (tied)"
        } else {
            ""
        }
    ));
    for (i, l) in t.layers.iter().enumerate() {
        text.push_str(&format!(
            "# layer {i:>3}: attn {} B, ffn {} B, experts {} x {} B, {}\n",
            l.attn.0,
            l.ffn.0,
            l.n_experts,
            l.expert.0,
            if l.global { "global" } else { "sliding window" }
        ));
    }
    text.push_str(&yaml);
    out.write_all(text.as_bytes()).map_err(Error::Output)
}
