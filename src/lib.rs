//! # tiersim — the memory hierarchy under LLM inference, simulated
//!
//! tiersim answers "what pp and tg would this model reach on this memory hierarchy?" by
//! simulating llama-bench's tests on a model of the hardware. The crate is organised by concept:
//!
//! - [`units`]: dimensional quantities (`Bytes`, `Seconds`, `BytesPerSec`, `FlopsPerSec`) as
//!   distinct types, parsed only with their unit (`1.6TB/s`, `4us`, `512GiB`), and [`units::SimTime`],
//!   the integer clock.
//! - [`model`]: an LLM architecture ([`model::spec::ModelSpec`], YAML in `models/`) and the
//!   traffic it generates per layer and token ([`model::traffic::ModelTraffic`]): weight bytes,
//!   KV bytes per token, FLOPs.
//! - [`config`]: the system spec ([`config::system::SystemSpec`]: compute roofline, tiers,
//!   placement, overlap, expert routing and cache), llama.cpp's
//!   `-ngl`/`-ot`/`--n-cpu-moe`/`-nkvo` as placement rules ([`config::llamacpp`]), embedded presets with the provenance of every
//!   figure ([`config::presets`]), `--set` overrides, validation with field paths.
//! - [`tier`]: a tier as a device: latency distributions ([`tier::latency`]), the
//!   lanes-and-link access model ([`tier::device::Device`]) and the optional stages a flash
//!   read crosses besides its sense — admission, channels, ECC ([`tier::read_path`]).
//! - [`engine`]: the event core — a deterministic scheduler and FIFO timelines. It knows nothing
//!   of models or files.
//! - [`sim::compute`]: how long a layer's work takes on the compute device. A system whose
//!   `compute:` block lists `kernels` is timed per kernel: a rate per ggml weight type for one
//!   token and for many, repacked layouts apart, a batch ramp, fixed costs per graph node (the
//!   node count follows the architecture), per prompt token and per step, decode and prompt
//!   attention apart, and the bandwidth the weights see read off a measured
//!   bandwidth-against-working-set curve; compute and memory time add on a CPU
//!   (`kernel_memory: serial`) and overlap on a GPU. Without `kernels`, one roofline of
//!   `peak_flops` × efficiency. `calibrate` fits these figures jointly over several models and
//!   weight types and reports leave-one-model-out errors (`calibration/CALIBRATION.md`).
//! - [`sim`]: a model placed on a system ([`sim::machine::Machine`]), KV residency as the context
//!   grows ([`sim::kv::KvLayout`]), mixture-of-experts routing and the expert cache
//!   ([`sim::experts`]), what each step of a batch of sequences asks of each layer
//!   ([`sim::work::StepWork`]), host processors computing the weights they hold, and the step's
//!   execution with overlap ([`sim::run::Run`]).
//! - [`scenario`]: llama-bench's `pp`, `tg` and `pg` tests with depth, batch, ubatch, cold
//!   start, parallel sequences and repetitions; [`serving`]: requests arriving over time,
//!   continuous batching, TTFT/TPOT percentiles; [`report`]: the md, csv, json, jsonl and sql
//!   exporters with llama-bench's fields, and SVG charts ([`report::plot`]).
//! - [`sweep`]: parameter grids run in parallel into a tidy CSV (resumable, shardable), their
//!   plots, and the requirement solver ([`sweep::require`]).
//! - [`published`]: published HBF results as scenarios (`models/scenarios/`, `tiersim
//!   reproduce`): the device arithmetic, simulated bursts and decode gaps, system closed forms and
//!   the largest batch whose simulated decode step meets a TPOT bound ([`published::slo`])
//!   beside the published figures, each miss with its reason. The contested HBF figures themselves are named readings,
//!   one system preset each ([`config::presets::READINGS`]), which the default sweep and
//!   requirement run one by one.
//! - [`analytic`] and [`ceiling`]: the predecessor's closed forms (decode ceiling, staging) and
//!   the simulated ceiling beside them, with the share of each cause.
//! - [`calibrate`]: llama-bench output readers (every format), fitting a system profile to
//!   measured runs, and the fit report.
//! - [`cli`]: the command line, parsed once into typed options.
//! - [`limits`]: the documented maximum of every count an input can ask for, checked before
//!   anything is allocated, and [`files`]: outputs written whole or not at all, under `--out`.
//!
//! Two rules hold everywhere: every dimensional number is a unit type (a bare number where a
//! unit is needed does not parse), and every random draw comes from a stream named by
//! `(seed, id)` ([`rng::stream`]), so results do not depend on thread count or shard split.
//!
//! A typical use from code:
//!
//! ```
//! use tiersim::{config::load, scenario, sim::machine::Machine};
//! let model = load::model(Some("smollm2-135m-instruct-q4_1"), &[]).unwrap();
//! let system = load::system(Some("h100"), &[]).unwrap();
//! let machine = Machine::new(&model.spec, &system.spec).unwrap();
//! let case = scenario::TestCase { n_gen: 16, ..Default::default() }; // tg16, llama-bench defaults
//! let out = scenario::run_test(&machine, &case, 2, 42, 0).unwrap();
//! assert_eq!(out.samples.len(), 2);
//! ```
#![warn(missing_docs)]

pub mod analytic;
pub mod calibrate;
pub mod ceiling;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod files;
pub mod layers;
pub mod limits;
pub mod model;
pub mod published;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod serving;
pub mod sim;
pub mod sweep;
pub mod tier;
pub mod units;
