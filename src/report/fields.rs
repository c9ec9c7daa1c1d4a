//! The fields every exporter writes, in one place: llama-bench's 42 in its order and with its
//! types, then the simulator's, then the per-tier figures under names that do not depend on the
//! system (`tier0`, `tier0_bytes_read`, ...; the sweep CSV uses the same scheme). Headers and
//! rows come from the same tables, so they cannot drift apart.

use super::{BenchRecord, TierUsage, numfmt};

/// How many fields llama-bench writes per test (its CSV columns; its JSON adds the samples).
pub const LLAMA_BENCH_FIELD_COUNT: usize = 42;

/// One scalar value, kept typed until a format decides how to spell it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Value<'a> {
    Str(&'a str),
    UInt(u64),
    Int(i64),
    /// A float; NaN stands for a figure that does not exist (no wear, no expert cache).
    Float(f64),
    /// llama-bench's booleans: `true`/`false` in JSON, `1`/`0` in CSV, SQL and md.
    Bool(bool),
}

impl Value<'_> {
    /// The value as llama-bench's `get_values` spells it (CSV, SQL and md cells): integers
    /// plainly, booleans as `0`/`1`, floats as C's `%f`; an absent figure is empty.
    pub(super) fn text(self) -> String {
        match self {
            Value::Str(s) => s.to_owned(),
            Value::UInt(n) => n.to_string(),
            Value::Int(n) => n.to_string(),
            Value::Float(x) if x.is_nan() => String::new(),
            Value::Float(x) => fmt_fixed6(x),
            Value::Bool(b) => u8::from(b).to_string(),
        }
    }

    /// The SQL column type llama-bench gives a field of this kind.
    pub(super) fn sql_type(self) -> &'static str {
        match self {
            Value::Str(_) => "TEXT",
            Value::UInt(_) | Value::Int(_) | Value::Bool(_) => "INTEGER",
            Value::Float(_) => "REAL",
        }
    }
}

/// llama-bench's fields, in llama-bench's order (its JSON puts the sample arrays after them;
/// its CSV and SQL leave the arrays out).
pub(super) fn llama_bench_scalars(
    r: &BenchRecord,
) -> [(&'static str, Value<'_>); LLAMA_BENCH_FIELD_COUNT] {
    use Value::*;
    let u = &r.unmodelled;
    [
        ("build_commit", Str(&r.build_commit)),
        ("build_number", UInt(r.build_number.into())),
        ("cpu_info", Str(&r.cpu_info)),
        ("gpu_info", Str(&r.gpu_info)),
        ("backends", Str(&r.backends)),
        ("model_filename", Str(&r.model_filename)),
        ("model_type", Str(&r.model_type)),
        ("model_size", UInt(r.model_size)),
        ("model_n_params", UInt(r.model_n_params)),
        ("n_batch", UInt(r.n_batch.into())),
        ("n_ubatch", UInt(r.n_ubatch.into())),
        ("n_threads", UInt(r.n_threads.into())),
        ("cpu_mask", Str(&u.cpu_mask)),
        ("cpu_strict", Bool(u.cpu_strict)),
        ("poll", UInt(u.poll.into())),
        ("type_k", Str(&r.type_k)),
        ("type_v", Str(&r.type_v)),
        ("n_gpu_layers", Int(r.n_gpu_layers.into())),
        ("n_cpu_moe", UInt(r.n_cpu_moe.into())),
        ("split_mode", Str(&u.split_mode)),
        ("main_gpu", Int(u.main_gpu.into())),
        ("no_kv_offload", Bool(r.no_kv_offload)),
        ("flash_attn", Int(r.flash_attn.into())),
        ("devices", Str(&u.devices)),
        ("tensor_split", Str(&u.tensor_split)),
        ("tensor_buft_overrides", Str(&r.tensor_buft_overrides)),
        ("load_mode", Str(&u.load_mode)),
        ("lazy_mode", Str(&u.lazy_mode)),
        ("embeddings", Bool(u.embeddings)),
        // llama-bench types this one as an integer, unlike its other switches.
        ("no_op_offload", UInt(u.no_op_offload.into())),
        ("no_host", Bool(u.no_host)),
        ("repack", Bool(r.repack)),
        ("fit_target", UInt(u.fit_target_mib)),
        ("fit_min_ctx", UInt(u.fit_min_ctx.into())),
        ("n_prompt", UInt(r.n_prompt.into())),
        ("n_gen", UInt(r.n_gen.into())),
        ("n_depth", UInt(r.n_depth.into())),
        ("test_time", Str(&r.test_time)),
        ("avg_ns", UInt(r.avg_ns)),
        ("stddev_ns", UInt(r.stddev_ns)),
        ("avg_ts", Float(r.avg_ts)),
        ("stddev_ts", Float(r.stddev_ts)),
    ]
}

/// llama-bench's field names in order.
pub fn llama_bench_field_names() -> [&'static str; LLAMA_BENCH_FIELD_COUNT] {
    llama_bench_scalars(&BenchRecord::default()).map(|(k, _)| k)
}

/// One llama-bench field of `r` as its cell text, or `None` for a name llama-bench does not
/// write.
pub(super) fn llama_bench_value(r: &BenchRecord, name: &str) -> Option<String> {
    llama_bench_scalars(r)
        .into_iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.text())
}

/// The simulator's scalar fields, in record order; the per-tier figures follow them.
pub(super) fn sim_scalars(r: &BenchRecord) -> [(&'static str, Value<'_>); 7] {
    use Value::*;
    [
        ("system", Str(&r.system)),
        ("seed", UInt(r.seed)),
        ("n_seq", UInt(r.n_seq.into())),
        ("ttft_ms", Float(r.ttft_ms)),
        ("tpot_p50_ms", Float(r.tpot_p50_ms)),
        ("tpot_p99_ms", Float(r.tpot_p99_ms)),
        (
            "expert_hit_rate",
            Float(r.expert_hit_rate.unwrap_or(f64::NAN)),
        ),
    ]
}

/// One tier's figures without its name, in [`TierUsage`] order.
pub(super) fn tier_scalars(t: &TierUsage) -> [(&'static str, Value<'_>); 7] {
    use Value::*;
    [
        ("bytes_read", UInt(t.bytes_read)),
        ("bytes_written", UInt(t.bytes_written)),
        ("read_gbps", Float(t.read_gbps)),
        ("write_gbps", Float(t.write_gbps)),
        ("utilisation", Float(t.utilisation)),
        ("stall_ms", Float(t.stall_ms)),
        (
            "lifetime_years",
            Float(t.lifetime_years.unwrap_or(f64::NAN)),
        ),
    ]
}

/// The flat fields of a row after llama-bench's: the simulator's scalars, then for tier `i`
/// (the system's order, the compute-local tier first) its name under `tier<i>` and each figure
/// under `tier<i>_<figure>`. The names depend only on the number of tiers, so every system
/// with as many tiers gives the same header.
pub(super) fn flat_sim_fields(r: &BenchRecord) -> Vec<(String, Value<'_>)> {
    let mut out: Vec<(String, Value<'_>)> = sim_scalars(r)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    for (i, t) in r.tiers.iter().enumerate() {
        out.push((format!("tier{i}"), Value::Str(&t.tier)));
        out.extend(
            tier_scalars(t)
                .into_iter()
                .map(|(k, v)| (format!("tier{i}_{k}"), v)),
        );
    }
    out
}

/// Every flat field of a row (llama-bench's, then [`flat_sim_fields`]), as CSV and SQL write
/// them.
pub(super) fn flat_fields(r: &BenchRecord) -> Vec<(String, Value<'_>)> {
    llama_bench_scalars(r)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(flat_sim_fields(r))
        .collect()
}

/// A record with `tiers` blank tiers, which lends its field names and kinds to a header written
/// before any record exists.
pub(super) fn blank_record(tiers: usize) -> BenchRecord {
    BenchRecord {
        tiers: vec![TierUsage::default(); tiers],
        ..BenchRecord::default()
    }
}

/// `x` as C's `%f` prints it, which is how llama-bench writes `avg_ts` and `stddev_ts` (through
/// `std::to_string`): six decimals, and `nan`/`inf` rather than Rust's `NaN`.
pub(super) fn fmt_fixed6(x: f64) -> String {
    fmt_fixed(x, 6)
}

/// `x` as C's `%.<decimals>f` prints it.
pub(super) fn fmt_fixed(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        if x.is_sign_negative() { "-nan" } else { "nan" }.to_owned()
    } else if x.is_infinite() {
        if x < 0.0 { "-inf" } else { "inf" }.to_owned()
    } else {
        format!("{x:.decimals$}")
    }
}

/// A sample rate as llama-bench's JSON writes `samples_ts`: a C++ stream's default `%g`.
pub(super) fn fmt_sample_ts(x: f64) -> String {
    numfmt::c_g(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::{REAL_CSV, sample_records};

    #[test]
    fn llama_bench_fields_are_the_real_header_in_order() {
        let real: Vec<&str> = REAL_CSV.lines().next().unwrap().split(',').collect();
        assert_eq!(real.len(), LLAMA_BENCH_FIELD_COUNT);
        assert_eq!(llama_bench_field_names().to_vec(), real);
        assert_eq!(llama_bench_field_names()[40], "avg_ts");
    }

    #[test]
    fn tier_fields_are_named_by_position_not_by_tier() {
        let mut rec = sample_records().remove(0);
        let names = |r: &BenchRecord| -> Vec<String> {
            flat_sim_fields(r).into_iter().map(|(k, _)| k).collect()
        };
        let before = names(&rec);
        rec.tiers[1].tier = "ssd".to_owned();
        assert_eq!(names(&rec), before);
        assert_eq!(before[7..9], ["tier0", "tier0_bytes_read"]);
        assert!(before.contains(&"tier1_stall_ms".to_owned()));
        assert_eq!(before.len(), 7 + 2 * 8);
        assert_eq!(names(&blank_record(2)), before);
    }

    #[test]
    fn values_are_spelled_as_llama_bench_spells_them() {
        assert_eq!(Value::Bool(true).text(), "1");
        assert_eq!(Value::Float(f64::NAN).text(), "");
        assert_eq!(Value::Float(341.0935042).text(), "341.093504");
        assert_eq!(Value::Int(-1).text(), "-1");
        assert_eq!(fmt_fixed(f64::NEG_INFINITY, 2), "-inf");
        assert_eq!(fmt_sample_ts(341.423), "341.423");
        let rec = BenchRecord::default();
        assert_eq!(llama_bench_value(&rec, "cpu_mask").as_deref(), Some("0x0"));
        assert_eq!(
            llama_bench_value(&rec, "tensor_split").as_deref(),
            Some("0.00")
        );
        assert_eq!(llama_bench_value(&rec, "ttft_ms"), None);
        let kinds: Vec<&str> = llama_bench_scalars(&rec)
            .iter()
            .map(|(_, v)| v.sql_type())
            .collect();
        assert_eq!(kinds.iter().filter(|k| **k == "REAL").count(), 2);
    }
}
