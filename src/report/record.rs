//! The result of one simulated `llama-bench` test: the unit every exporter writes.

use std::fmt::Write as _;

/// What tiersim writes where llama-bench writes llama.cpp's commit (`build_commit`, the md
/// footer's `build:` line): the simulator's own version, so that a result names its code.
pub const BUILD_COMMIT: &str = concat!("tiersim-", env!("CARGO_PKG_VERSION"));

/// What tiersim writes where llama-bench writes llama.cpp's build number.
pub const BUILD_NUMBER: u32 = 0;

/// One simulated llama-bench test result: llama-bench's fields, then the simulator's.
///
/// The first group holds every field llama-bench writes, so that tools reading llama-bench
/// output read tiersim's unchanged; the exporters lay them out in llama-bench's order
/// (`report::fields`). The simulator's figures follow, each with its unit in its name
/// (DESIGN §3.1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BenchRecord {
    /// Commit of the code that produced the record (llama.cpp's, in llama-bench).
    pub build_commit: String,
    /// Build number of that code.
    pub build_number: u32,
    /// The compute device(s), as llama-bench describes CPU and accelerator devices.
    pub cpu_info: String,
    /// The GPU device(s); empty when there are none, as in llama-bench.
    pub gpu_info: String,
    /// Backend names as llama-bench joins them (`CPU`, `CUDA`, ...); also the md `backend` column.
    pub backends: String,
    /// Path or preset name of the model.
    pub model_filename: String,
    /// llama.cpp's model description (`llama 8B Q4_K - Medium`); the md `model` column.
    pub model_type: String,
    /// Model weight size in bytes.
    pub model_size: u64,
    /// Model parameter count.
    pub model_n_params: u64,
    /// Logical batch size (`-b`).
    pub n_batch: u32,
    /// Physical batch size (`-ub`): prompt tokens per compute step.
    pub n_ubatch: u32,
    /// Thread count (`-t`).
    pub n_threads: u32,
    /// KV cache key type (`-ctk`), a ggml type name such as `f16` or `q8_0`.
    pub type_k: String,
    /// KV cache value type (`-ctv`).
    pub type_v: String,
    /// Layers offloaded to the GPU (`-ngl`); `-1` means all, llama-bench's default.
    pub n_gpu_layers: i32,
    /// Layers whose routed experts stay in the CPU buffer (`-ncmoe`); 0, llama-bench's
    /// default, keeps none there.
    pub n_cpu_moe: u32,
    /// Whether every layer's KV cache stays in the CPU buffer (`-nkvo`).
    pub no_kv_offload: bool,
    /// Flash attention (`-fa`): `-1` auto, `0` off, `1` on, as llama-bench records it.
    pub flash_attn: i32,
    /// Tensor buffer overrides (`-ot`) as llama-bench records them: `pattern=BUFFER` entries
    /// joined by `;`, or `none`.
    pub tensor_buft_overrides: String,
    /// Whether the CPU backend repacked the weights into its interleaved layouts at load
    /// (`--repack`).
    pub repack: bool,
    /// llama-bench's settings that tiersim records without simulating their effect.
    pub unmodelled: UnmodelledSettings,
    /// Prompt tokens processed in the timed part.
    pub n_prompt: u32,
    /// Tokens generated in the timed part.
    pub n_gen: u32,
    /// Tokens already in the KV cache before the timed part (`-d`).
    pub n_depth: u32,
    /// When the test started, ISO 8601 UTC (`2026-11-22T22:17:16Z`) on the simulated clock
    /// (see [`TestClock`](super::TestClock)); exporters copy it verbatim.
    pub test_time: String,
    /// Mean wall time of one repetition, in nanoseconds.
    pub avg_ns: u64,
    /// Sample standard deviation of the repetitions' wall times, in nanoseconds.
    pub stddev_ns: u64,
    /// Mean of the per-repetition rates `(n_prompt + n_gen) / time`, in tokens per second.
    pub avg_ts: f64,
    /// Sample standard deviation of the per-repetition rates, in tokens per second.
    pub stddev_ts: f64,
    /// Each repetition's wall time, in nanoseconds.
    pub samples_ns: Vec<u64>,
    /// Each repetition's rate, in tokens per second.
    pub samples_ts: Vec<f64>,

    /// Name of the simulated system (the tier hierarchy preset or file).
    pub system: String,
    /// Seed of the run; with the configuration it reproduces the record exactly.
    pub seed: u64,
    /// Sequences decoding together; the rates count the tokens of all of them.
    pub n_seq: u32,
    /// Time to first token of one repetition, mean over repetitions, in milliseconds: the prompt
    /// processing time for tests with a prompt (`pp`, `pg`), the first decode step for `tg`.
    pub ttft_ms: f64,
    /// Median per-token decode latency over all decoded tokens of all repetitions, in
    /// milliseconds; 0 when `n_gen` is 0.
    pub tpot_p50_ms: f64,
    /// 99th percentile per-token decode latency over all decoded tokens of all repetitions, in
    /// milliseconds; 0 when `n_gen` is 0.
    pub tpot_p99_ms: f64,
    /// Fraction of the distinct experts steps asked for that the expert cache held, 0 to 1;
    /// `None` without an expert cache in use.
    pub expert_hit_rate: Option<f64>,
    /// Traffic and contention per memory tier, in the system's tier order: fastest first, the
    /// first being the compute-local tier.
    pub tiers: Vec<TierUsage>,
}

/// llama-bench's settings whose effect the simulator does not model: thread-pool placement,
/// multi-GPU splitting, model loading, embeddings, memory fitting. `simulate` takes their flags
/// and records the values so that a row says what was asked for; the prediction is the same
/// for every value.
///
/// [`Default`] holds llama-bench's defaults, as its records spell them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmodelledSettings {
    /// CPU affinity mask (`-C`), hexadecimal as typed (`0x0`).
    pub cpu_mask: String,
    /// Strict CPU placement (`--cpu-strict`).
    pub cpu_strict: bool,
    /// Thread-pool polling level, 0 to 100 (`--poll`).
    pub poll: u32,
    /// How weights split over several GPUs (`-sm`): `none`, `layer`, `row` or `tensor`.
    pub split_mode: String,
    /// The GPU that holds the rest (`-mg`).
    pub main_gpu: i32,
    /// Devices in use (`-dev`): `auto`, `none` or names joined by `/`.
    pub devices: String,
    /// Share of each GPU (`-ts`) as llama-bench records it: `%.2f` per device up to the last
    /// non-zero one, joined by `/` (`0.00` by default).
    pub tensor_split: String,
    /// How the model file is read (`-lm`): `auto`, `none`, `mmap`, `mlock`, `mmap+mlock`, `dio`.
    pub load_mode: String,
    /// Lazy weight materialisation (`-lzm`): `on`, `auto` or `off`.
    pub lazy_mode: String,
    /// Embeddings mode (`-embd`).
    pub embeddings: bool,
    /// Host operations kept off the GPU (`-nopo`); llama-bench writes it as an integer.
    pub no_op_offload: bool,
    /// Host buffers bypassed (`--no-host`).
    pub no_host: bool,
    /// Memory margin per device when fitting the model, in MiB (`-fitt`); 0 is off.
    pub fit_target_mib: u64,
    /// Least context the fit must leave room for, in tokens (`-fitc`).
    pub fit_min_ctx: u32,
}

impl Default for UnmodelledSettings {
    fn default() -> Self {
        Self {
            cpu_mask: "0x0".to_owned(),
            cpu_strict: false,
            poll: 50,
            split_mode: "layer".to_owned(),
            main_gpu: 0,
            devices: "auto".to_owned(),
            tensor_split: "0.00".to_owned(),
            load_mode: "auto".to_owned(),
            lazy_mode: "auto".to_owned(),
            embeddings: false,
            no_op_offload: false,
            no_host: false,
            fit_target_mib: 0,
            fit_min_ctx: 0,
        }
    }
}

/// What one memory tier did during one repetition of a test, mean over repetitions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TierUsage {
    /// Tier name from the system spec (`hbm`, `hbf`, `dram`, `ssd`, ...).
    pub tier: String,
    /// Bytes read from the tier.
    pub bytes_read: u64,
    /// Bytes written to the tier.
    pub bytes_written: u64,
    /// Read rate over the timed wall time, in GB/s (10^9 bytes per second).
    pub read_gbps: f64,
    /// Write rate over the timed wall time, in GB/s (10^9 bytes per second).
    pub write_gbps: f64,
    /// Fraction of the timed wall time the tier's link was busy, 0 to 1.
    pub utilisation: f64,
    /// Time compute waited on this tier, in milliseconds.
    pub stall_ms: f64,
    /// Years until a flash tier's P/E cycles are used up at this test's write rate,
    /// `capacity · pe_cycles / (write_rate · waf)`; `None` without endurance figures or without
    /// writes (no wear).
    pub lifetime_years: Option<f64>,
}

impl BenchRecord {
    /// The test's name as llama-bench prints it: `pp512`, `tg128`, `pp512+tg128`, with
    /// ` @ d4096` appended when the KV cache was pre-filled.
    pub fn test_name(&self) -> String {
        test_name(self.n_prompt, self.n_gen, self.n_depth)
    }
}

/// llama-bench's test name: `pp512`, `tg128`, `pp512+tg128`, with ` @ d4096` appended when the
/// KV cache was pre-filled. A test with neither prompt nor generation falls to the combined
/// form, as in llama-bench.
pub fn test_name(n_prompt: u32, n_gen: u32, n_depth: u32) -> String {
    let mut name = match (n_prompt, n_gen) {
        (p, 0) if p > 0 => format!("pp{p}"),
        (0, g) if g > 0 => format!("tg{g}"),
        (p, g) => format!("pp{p}+tg{g}"),
    };
    if n_depth > 0 {
        let _ = write!(name, " @ d{n_depth}");
    }
    name
}

#[cfg(test)]
mod tests {
    use crate::report::testutil::sample_records;

    #[test]
    fn test_names_follow_llama_bench() {
        let mut r = sample_records().remove(0);
        let mut name = |p, g, d| {
            r.n_prompt = p;
            r.n_gen = g;
            r.n_depth = d;
            r.test_name()
        };
        assert_eq!(name(512, 0, 0), "pp512");
        assert_eq!(name(0, 128, 0), "tg128");
        assert_eq!(name(512, 128, 0), "pp512+tg128");
        assert_eq!(name(32, 0, 64), "pp32 @ d64");
        assert_eq!(name(0, 8, 4096), "tg8 @ d4096");
        assert_eq!(name(0, 0, 0), "pp0+tg0");
    }
}
