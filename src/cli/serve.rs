//! `tiersim serve`: a serving workload (requests arriving, continuous batching) on a model and
//! system, summarised as throughput and TTFT/TPOT percentiles.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::cli::LlamaCppArgs;
use crate::config::load::{self, Override};
use crate::error::Error;
use crate::serving::report::{self, ServeContext};
use crate::serving::{self, ServeSpec};
use crate::sim::machine::Machine;

/// `tiersim serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The workload (YAML: requests, arrival_rate_per_s, prompt_tokens, output_tokens, trace,
    /// max_batch, n_ubatch, slot_tokens, type_k, type_v); built-in defaults when absent.
    pub spec: Option<PathBuf>,
    /// Model: a preset name or a YAML file (default: qwen2.5-3b-instruct-q4_k_m).
    #[arg(short = 'm', long = "model")]
    pub model: Option<String>,
    /// System: a preset name or a YAML file (default: h100-hbf).
    #[arg(long = "system")]
    pub system: Option<String>,
    /// A request trace CSV (`prompt_tokens,output_tokens[,arrival_s]`), overriding the spec's.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Override by dotted path: `serve.max_batch=32`, `serve.arrival_rate_per_s=8`,
    /// `tiers.hbf.read_bw=800GB/s`, `model.n_layers=40`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Seed of the request draws and device latencies.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output format: md, csv or json (json lists every request).
    #[arg(short = 'o', long = "output", default_value = "md")]
    pub output: String,
    /// Placement flags of llama.cpp (`-ngl`, `-ot`, `--n-cpu-moe`, `-nkvo`).
    #[command(flatten)]
    pub llamacpp: LlamaCppArgs,
}

/// Runs `tiersim serve`.
pub fn run(args: &ServeArgs, out: &mut dyn Write) -> Result<(), Error> {
    let mut sets: Vec<Override> = args
        .set
        .iter()
        .map(|s| Override::parse(s))
        .collect::<Result<_, _>>()?;
    sets.extend(args.llamacpp.overrides()?);
    let mut spec = ServeSpec::load(args.spec.as_deref(), &sets)?;
    if let Some(t) = &args.trace {
        spec.trace = Some(t.clone());
    }
    let format = args.output.as_str();
    if !["md", "csv", "json"].contains(&format) {
        return Err(Error::usage(
            "-o",
            format!("`{format}` is not a serve output; expected md, csv or json"),
        ));
    }
    let model = load::model(args.model.as_deref(), &sets)?;
    let system = load::system(args.system.as_deref(), &sets)?;
    let machine = Machine::new(&model.spec, &system.spec)?;
    let reqs = serving::requests(&spec, args.seed, u64::from(model.spec.context_length))?;
    let outcome = serving::serve(&machine, &spec, &reqs, args.seed)?;
    let ctx = ServeContext {
        model: &model.spec.name,
        system: &system.spec.name,
        tiers: &system.spec.tiers,
        spec: &spec,
        seed: args.seed,
    };
    let mut text = Vec::new();
    match format {
        "csv" => report::write_csv(&mut text, &ctx, &outcome),
        "json" => report::write_json(&mut text, &ctx, &outcome),
        _ => report::write_md(&mut text, &ctx, &outcome),
    }
    .map_err(Error::Output)?;
    for w in report::wear_warnings(&ctx, &outcome) {
        eprintln!("tiersim: warning: {w}");
    }
    out.write_all(&text).map_err(Error::Output)
}
