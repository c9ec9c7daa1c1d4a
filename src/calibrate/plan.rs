//! The measurement matrix: which `llama-bench` runs determine which compute figures, so that
//! a calibration can say what its rows leave free and how to pin it (`calibrate --plan`).

use crate::calibrate::fit::Param;
use crate::model::quant::QuantType;

/// The llama-bench run (flags besides `-m MODEL -t T -r 3 -o json`) that pins `p`, and why.
pub fn run_for(p: Param) -> (&'static str, &'static str) {
    match p {
        Param::KernelMat(_) | Param::RepackedMat | Param::PrefillEfficiency => (
            "-p 16,64,128,512 -n 0",
            "prompt ubatches time the many-token kernels",
        ),
        Param::BatchHalf | Param::TokenOverhead => (
            "-p 512 -n 0 -ub 32,128,512",
            "the same tokens in smaller ubatches separate the batch ramp from per-token work",
        ),
        Param::KernelVec(_) | Param::RepackedVec | Param::DecodeEfficiency => (
            "-p 0 -n 32,128",
            "one-token steps time the matrix-vector kernels",
        ),
        Param::AttentionEfficiency => (
            "-p 0 -n 32 -d 0,1024,4096",
            "decode at depth adds attention and nothing else",
        ),
        Param::PromptAttentionEfficiency => (
            "-p 128 -n 0 -d 0,1024,4096",
            "prompt ubatches at depth add batched attention",
        ),
        Param::QuantizedKvAttention | Param::QuantizedKvPromptAttention => (
            "-p 512 -n 32 -d 0,2048 -ctk f16,q8_0 -ctv f16,q8_0 -fa 1",
            "the same tests with a quantised cache",
        ),
        Param::NoFlashAttention => (
            "-p 0 -n 32 -d 0,2048 -fa 0,1",
            "the same tests with and without flash attention",
        ),
        Param::NodeOverhead | Param::StepOverhead | Param::LayerOverhead => (
            "-p 0 -n 32,128 (on a second model of another depth or width)",
            "per-node and per-step costs separate only across models with other node counts",
        ),
        Param::MemoryEfficiency => (
            "-p 0 -n 128 (on a model larger than the last-level cache)",
            "decode of a model far past the cache streams at memory speed",
        ),
    }
}

/// The llama-bench commands of a measurement matrix that determines every per-kernel figure
/// for `models` (file names as the user has them) at `threads`, with the weight types to make
/// with `llama-quantize` for kernels none of the models runs, and the bandwidth curve.
pub fn commands(models: &[String], threads: u32, extra_types: &[QuantType]) -> Vec<String> {
    let mut out = Vec::new();
    let base =
        |m: &str, flags: &str| format!("llama-bench -m {m} -t {threads} -r 3 -o json {flags}");
    let mut seen = Vec::new();
    for p in [
        Param::KernelMat(QuantType::F16),
        Param::BatchHalf,
        Param::KernelVec(QuantType::F16),
        Param::AttentionEfficiency,
        Param::PromptAttentionEfficiency,
        Param::QuantizedKvAttention,
        Param::NoFlashAttention,
    ] {
        let (flags, why) = run_for(p);
        if seen.contains(&flags) {
            continue;
        }
        seen.push(flags);
        out.push(format!("# {why}"));
        for m in models {
            out.push(base(m, flags));
        }
    }
    out.push("# repacked and plain layouts of the same weights".to_owned());
    for m in models {
        out.push(base(m, "-p 512 -n 128 --repack 0,1"));
    }
    if let Some(first) = models.first() {
        if !extra_types.is_empty() {
            out.push(
                "# kernels none of the models runs: the same model in those types (speed does \
                 not depend on the values), then the pp and tg sweeps above on each"
                    .to_owned(),
            );
        }
        for ty in extra_types {
            out.push(format!(
                "llama-quantize --allow-requantize {first} {}-{}.gguf {} 2",
                first.trim_end_matches(".gguf"),
                ty.name(),
                ty.name().to_uppercase()
            ));
        }
        if models.len() < 2 {
            out.push(
                "# a second model of another depth or width (a random-weight GGUF written with \
                 gguf-py will do) separates per-node from per-step costs: run the tg sweep on it"
                    .to_owned(),
            );
        }
    }
    out.push(format!(
        "# the bandwidth against working-set size at {threads} thread(s): read a buffer of \
         128 KiB to 1 GiB over and over, best of 5, into compute.read_bw_curve"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_has_a_run_and_the_plan_covers_each_kind_of_run() {
        let plan = commands(&["m.gguf".into()], 2, &[QuantType::Q4K]).join("\n");
        for needle in [
            "-p 16,64,128,512 -n 0",
            "-ub 32,128,512",
            "-p 0 -n 32,128",
            "-d 0,1024,4096",
            "-ctk f16,q8_0",
            "-fa 0,1",
            "--repack 0,1",
            "llama-quantize --allow-requantize m.gguf m-q4_k.gguf Q4_K 2",
            "second model",
            "read_bw_curve",
        ] {
            assert!(plan.contains(needle), "{needle} missing from\n{plan}");
        }
        assert!(plan.contains("-t 2 -r 3 -o json"));
    }
}
