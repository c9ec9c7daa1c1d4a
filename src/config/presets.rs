//! Presets embedded in the binary: the model specs in `models/*.yaml` and the system specs in
//! `models/systems/*.yaml`, so that `--model qwen2.5-3b-instruct-q4_k_m` or `--system h100-hbf`
//! works from any directory. Each preset is the YAML text of its file, parsed on use; every
//! figure in it carries its source in the file's `evidence:` map (DESIGN §3.3).

/// One embedded preset: its name (the file name without `.yaml`) and the file's YAML text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Preset name, equal to the file name without `.yaml` and to the spec's `name` field.
    pub name: &'static str,
    /// The YAML text of the preset file.
    pub yaml: &'static str,
}

/// Model presets (`models/<name>.yaml`), parsed as [`crate::model::spec::ModelSpec`].
pub const MODELS: &[Preset] = &[
    Preset {
        name: "qwen2.5-3b-instruct-q4_k_m",
        yaml: include_str!("../../models/qwen2.5-3b-instruct-q4_k_m.yaml"),
    },
    Preset {
        name: "llama-3.1-8b-instruct-q4_k_m",
        yaml: include_str!("../../models/llama-3.1-8b-instruct-q4_k_m.yaml"),
    },
    Preset {
        name: "llama-3.1-8b-instruct-f16",
        yaml: include_str!("../../models/llama-3.1-8b-instruct-f16.yaml"),
    },
    Preset {
        name: "llama-3.1-70b-instruct-q4_k_m",
        yaml: include_str!("../../models/llama-3.1-70b-instruct-q4_k_m.yaml"),
    },
    Preset {
        name: "qwen3-30b-a3b-iq4_xs",
        yaml: include_str!("../../models/qwen3-30b-a3b-iq4_xs.yaml"),
    },
    Preset {
        name: "smollm2-135m-instruct-q4_1",
        yaml: include_str!("../../models/smollm2-135m-instruct-q4_1.yaml"),
    },
    Preset {
        name: "gemma-3-270m-q4_k_m",
        yaml: include_str!("../../models/gemma-3-270m-q4_k_m.yaml"),
    },
];

/// System presets (`models/systems/<name>.yaml`), parsed as
/// [`crate::config::system::SystemSpec`].
pub const SYSTEMS: &[Preset] = &[
    Preset {
        name: "h100",
        yaml: include_str!("../../models/systems/h100.yaml"),
    },
    Preset {
        name: "h100-hbf",
        yaml: include_str!("../../models/systems/h100-hbf.yaml"),
    },
    Preset {
        name: "h100-ssd",
        yaml: include_str!("../../models/systems/h100-ssd.yaml"),
    },
    Preset {
        name: "rtx4080",
        yaml: include_str!("../../models/systems/rtx4080.yaml"),
    },
    Preset {
        name: "laptop-ryzen3-5300u",
        yaml: include_str!("../../models/systems/laptop-ryzen3-5300u.yaml"),
    },
];

/// The model preset called `name` (exact match), if there is one.
pub fn model(name: &str) -> Option<&'static Preset> {
    MODELS.iter().find(|p| p.name == name)
}

/// The system preset called `name` (exact match), if there is one.
pub fn system(name: &str) -> Option<&'static Preset> {
    SYSTEMS.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::system::SystemSpec;
    use crate::model::quant::QuantType;
    use crate::model::spec::{BlockTensor, ModelSpec};

    fn parse_model(p: &Preset) -> ModelSpec {
        serde_yaml::from_str(p.yaml).unwrap_or_else(|e| panic!("model preset {}: {e}", p.name))
    }

    fn parse_system(p: &Preset) -> SystemSpec {
        serde_yaml::from_str(p.yaml).unwrap_or_else(|e| panic!("system preset {}: {e}", p.name))
    }

    /// The type of block tensor `t` on `layer`: the last matching override, else the default.
    fn tensor_type(spec: &ModelSpec, t: BlockTensor, layer: u32) -> QuantType {
        spec.quant
            .overrides
            .iter()
            .rev()
            .find(|o| o.tensors.contains(&t) && o.layers.as_ref().is_none_or(|l| l.contains(layer)))
            .map_or(spec.quant.default, |o| o.ty)
    }

    /// Tensor bytes of the whole model, counted tensor by tensor as a GGUF file stores them:
    /// per layer q, k, v, o and the FFN (or router and experts) matrices, the f32 norm, head-norm
    /// and bias vectors; then the token embedding, the output matrix when untied, and the f32
    /// output norm.
    fn weight_bytes(spec: &ModelSpec) -> f64 {
        use BlockTensor::*;
        let d = f64::from(spec.d_model);
        let hd = f64::from(spec.head_dim);
        let q = f64::from(spec.n_heads) * hd;
        let kv = f64::from(spec.n_kv_heads) * hd;
        let f32 = |n: f64| QuantType::F32.bytes(n).0;
        let mut total = 0.0;
        for l in 0..spec.n_layers {
            let m = |t: BlockTensor, n: f64| tensor_type(spec, t, l).bytes(n).0;
            total += m(AttnQ, d * q) + m(AttnK, d * kv) + m(AttnV, d * kv) + m(AttnOutput, q * d);
            let ffn = |dim: u32, gate: BlockTensor, up: BlockTensor, down: BlockTensor| {
                let n = d * f64::from(dim);
                let g = if spec.ffn_gated { m(gate, n) } else { 0.0 };
                g + m(up, n) + m(down, n)
            };
            let dense = spec
                .moe
                .as_ref()
                .is_none_or(|moe| moe.dense_layers.as_ref().is_some_and(|s| s.contains(l)));
            if dense {
                total += ffn(spec.ffn_dim, FfnGate, FfnUp, FfnDown);
            } else {
                let moe = spec.moe.as_ref().unwrap();
                let router = d * f64::from(moe.n_experts);
                let has_router_override = spec
                    .quant
                    .overrides
                    .iter()
                    .any(|o| o.tensors.contains(&FfnGateInp));
                total += if has_router_override {
                    m(FfnGateInp, router)
                } else {
                    f32(router)
                };
                total += f64::from(moe.n_experts)
                    * ffn(moe.expert_ffn_dim, FfnGateExps, FfnUpExps, FfnDownExps);
                total += ffn(
                    moe.shared_expert_ffn_dim,
                    FfnGateShexp,
                    FfnUpShexp,
                    FfnDownShexp,
                );
            }
            let mut vectors =
                f64::from(spec.norms_per_layer) * d + f64::from(spec.head_norms_per_layer) * hd;
            if spec.qkv_bias {
                vectors += q + 2.0 * kv;
            }
            total += f32(vectors);
        }
        let table = f64::from(spec.vocab) * d;
        total += spec.quant.token_embd.bytes(table).0 + f32(d);
        if !spec.tied_embeddings {
            total += spec
                .quant
                .output
                .unwrap_or(spec.quant.default)
                .bytes(table)
                .0;
        }
        total
    }

    #[test]
    fn every_model_preset_parses_and_is_named_after_its_file() {
        for p in MODELS {
            let spec = parse_model(p);
            assert_eq!(spec.name, p.name, "name field of models/{}.yaml", p.name);
            if let Err(e) = crate::config::validate::model(&spec, p.name) {
                panic!("model preset {}: {e}", p.name);
            }
            assert!(!spec.evidence.is_empty(), "{} has no evidence", p.name);
            assert_eq!(spec.n_heads % spec.n_kv_heads, 0, "{}: GQA groups", p.name);
        }
    }

    #[test]
    fn every_system_preset_parses_and_is_named_after_its_file() {
        for p in SYSTEMS {
            let spec = parse_system(p);
            assert_eq!(
                spec.name, p.name,
                "name field of models/systems/{}.yaml",
                p.name
            );
            if let Err(e) = crate::config::validate::system(&spec, p.name) {
                panic!("system preset {}: {e}", p.name);
            }
            assert!(!spec.evidence.is_empty(), "{} has no evidence", p.name);
            for t in spec.tiers.iter().skip(1) {
                let what = format!("{}: tier {}", p.name, t.name);
                assert!(t.read_latency.is_some(), "{what} has no read_latency");
                assert!(t.write_latency.is_some(), "{what} has no write_latency");
                assert!(t.parallel_units.is_some(), "{what} has no parallel_units");
                assert!(t.queue_depth.is_some(), "{what} has no queue_depth");
                assert!(t.io_size.is_some(), "{what} has no io_size");
            }
            let names: Vec<&str> = spec.tiers.iter().map(|t| t.name.as_str()).collect();
            assert!(
                names.contains(&spec.placement.weights.default.as_str()),
                "{}",
                p.name
            );
            for t in &spec.placement.kv.tiers {
                assert!(names.contains(&t.as_str()), "{}: KV tier {t}", p.name);
            }
            for key in spec.evidence.keys() {
                let root = key.split('.').next().unwrap_or_default();
                assert!(
                    ["compute", "tiers", "placement", "overlap", "sim"].contains(&root),
                    "{}: evidence key {key}",
                    p.name
                );
            }
        }
    }

    #[test]
    fn flash_tiers_have_the_described_latencies() {
        let tier = |sys: &str, name: &str| {
            let spec = parse_system(system(sys).unwrap());
            spec.tiers.into_iter().find(|t| t.name == name).unwrap()
        };
        let us = |s: crate::units::Seconds| s.0 * 1e6;
        // HBF: lognormal tR with median 4 us, p99 10 us; mean ~4.47 us, so the array reads
        // 256 units x 4 KiB / 4.47 us ~ 235 GB/s.
        let hbf = tier("h100-hbf", "hbf");
        let read = hbf.read_latency.unwrap();
        assert!((us(read.quantile(0.5)) - 4.0).abs() < 1e-6);
        assert!((us(read.quantile(0.99)) - 10.0).abs() < 1e-6);
        let array = 256.0 * 4096.0 / read.mean().0;
        assert!((2.2e11..2.5e11).contains(&array), "HBF array rate {array}");
        let program = hbf.write_latency.unwrap().is_fixed().map(us).unwrap();
        assert!(
            (program - 100.0).abs() < 1e-9,
            "HBF program time {program} us"
        );
        // SSD: 99.9 % lognormal(60 us, 90 us) + 0.1 % 2 ms; mean ~63 us.
        let ssd = tier("h100-ssd", "ssd");
        let mean = us(ssd.read_latency.unwrap().mean());
        assert!(
            (62.0..64.0).contains(&mean),
            "SSD mean read latency {mean} us"
        );
    }

    #[test]
    fn preset_lookup_by_name() {
        assert_eq!(
            model("gemma-3-270m-q4_k_m").map(|p| p.name),
            Some("gemma-3-270m-q4_k_m")
        );
        assert_eq!(system("h100-hbf").map(|p| p.name), Some("h100-hbf"));
        assert!(model("no-such-model").is_none());
        assert!(system("h100-hbf.yaml").is_none());
        let mut names: Vec<&str> = MODELS.iter().chain(SYSTEMS).map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            MODELS.len() + SYSTEMS.len(),
            "duplicate preset names"
        );
    }

    #[test]
    fn smollm2_bytes_match_the_real_file() {
        // llama-bench's model_size for SmolLM2-135M-Instruct.Q4_1.gguf
        // (data/llama-bench-2core-zen4/formats/smollm2_small.json).
        let spec = parse_model(model("smollm2-135m-instruct-q4_1").unwrap());
        assert_eq!(weight_bytes(&spec), 96_576_768.0);
    }

    #[test]
    fn quantised_presets_match_known_file_sizes() {
        // Tensor bytes computed from llama.cpp's Q4_K_M / IQ4_XS layouts; published GGUF files
        // add a few MB of metadata (tokenizer) on top.
        let expect = [
            // Official Qwen file, ~1.95 GiB in the seeds.
            ("qwen2.5-3b-instruct-q4_k_m", 2_098_976_768.0),
            // bartowski: 4.92 GB.
            ("llama-3.1-8b-instruct-q4_k_m", 4_912_898_048.0),
            // bartowski: 16.07 GB.
            ("llama-3.1-8b-instruct-f16", 16_061_054_976.0),
            // bartowski: 42.52 GB.
            ("llama-3.1-70b-instruct-q4_k_m", 42_512_531_456.0),
            ("qwen3-30b-a3b-iq4_xs", 16_362_379_264.0),
            ("gemma-3-270m-q4_k_m", 246_587_904.0),
        ];
        for (name, bytes) in expect {
            let spec = parse_model(model(name).unwrap());
            assert_eq!(weight_bytes(&spec), bytes, "{name}");
        }
    }
}
