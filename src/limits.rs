//! Limits on the counts users' files and flags ask for, checked before anything is allocated or
//! run.
//!
//! tiersim reads specs, traces and measurements written by other people. A count in such an
//! input (`repeats: 4294967295`, `-p 1-1000000000+1`, `n_layers: 4294967295`) would otherwise
//! become an allocation or a loop of that size: an abort, a hang or a machine out of memory
//! instead of a sentence. Every count is therefore checked against a documented maximum here,
//! and every product of counts is computed with checked arithmetic, before the work starts.
//! Past a limit, the error names the value, the limit and how to split the job.
//!
//! The limits sit far above any study the tool is meant for (the largest published model has
//! 126 layers; a llama-bench run lists a handful of sizes) and far below what would exhaust a
//! 24 GiB machine, so that a legitimate run never meets one and a hostile one fails in
//! milliseconds.

use std::fmt;

use crate::report::numfmt::grouped_int;

/// One documented maximum: what is counted, the largest value accepted, how to stay below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// What is counted, as a plural noun phrase (`repetitions`).
    pub what: &'static str,
    /// The largest value accepted.
    pub max: u64,
    /// How a larger job is split or reduced, as an imperative clause.
    pub split: &'static str,
}

/// Repetitions of one test (`-r`, a sweep's `repeats`).
pub const REPETITIONS: Limit = Limit {
    what: "repetitions",
    max: 10_000,
    split: "run fewer repetitions (llama-bench's default is 5) and merge the outputs",
};

/// Requests one GPU decodes together in a largest-batch search: the bisection's upper end
/// (published per-GPU batches are at most a few thousand).
pub const BATCH: Limit = Limit {
    what: "requests in one batch",
    max: 1 << 20,
    split: "check the workload and the machine: a batch this large means the KV barely costs anything",
};

/// Values one list flag or list field expands to (`-p 1-1000000000+1`).
pub const LIST_VALUES: Limit = Limit {
    what: "values in one list",
    max: 10_000,
    split: "use a coarser step or several runs",
};

/// Test cases of one `simulate` run: the product of its lists and placements.
pub const TEST_CASES: Limit = Limit {
    what: "test cases (the product of the lists)",
    max: 100_000,
    split: "split the lists over several runs, or use a sweep with --shard",
};

/// Tokens in one test: a prompt, a generation or a depth.
pub const TOKENS: Limit = Limit {
    what: "tokens",
    max: 1 << 24,
    split: "simulate a shorter test; rates are per token, so a shorter test gives the same rate",
};

/// Layers of a model.
pub const LAYERS: Limit = Limit {
    what: "layers",
    max: 4_096,
    split: "check the model spec (the largest published models have about 130 layers)",
};

/// Routed experts of one layer of a model.
pub const EXPERTS: Limit = Limit {
    what: "experts per layer",
    max: 65_536,
    split: "check the model spec (published mixtures have at most a few hundred experts)",
};

/// Values of one sweep axis.
pub const AXIS_STEPS: Limit = Limit {
    what: "values on one sweep axis",
    max: 100_000,
    split: "use fewer steps",
};

/// Points of one sweep (the product of its axes).
pub const SWEEP_POINTS: Limit = Limit {
    what: "sweep points (the product of the axes)",
    max: 10_000_000,
    split: "split the spec into several sweeps, or narrow its axes",
};

/// Requests of one serving run.
pub const REQUESTS: Limit = Limit {
    what: "requests",
    max: 1_000_000,
    split: "serve fewer requests; percentiles settle within a few thousand",
};

/// Worker threads of one command.
pub const THREADS: Limit = Limit {
    what: "threads",
    max: 1_024,
    split: "use at most one thread per core; split a larger job into shards (--shard i/n)",
};

/// Transfers of one staged copy or one ceiling measurement.
pub const TRANSFERS: Limit = Limit {
    what: "transfers",
    max: 10_000_000,
    split: "use a larger chunk or io size",
};

/// Transfers of one whole command (tokens × transfers per token × simulated variants).
pub const RUN_TRANSFERS: Limit = Limit {
    what: "transfers in all",
    max: 2_000_000_000,
    split: "simulate fewer tokens or use a larger io size",
};

/// Bytes of a text input read into memory (specs, traces, measurements, shards).
pub const FILE_BYTES: Limit = Limit {
    what: "bytes",
    max: 256 << 20,
    split: "split the file",
};

/// Nesting depth of a YAML or JSON document.
pub const NESTING: Limit = Limit {
    what: "levels of nesting",
    max: 64,
    split: "flatten the document",
};

/// Simulated layer-steps of one command (tests × repetitions × steps × layers): the work
/// estimate. About a microsecond each, so the limit is minutes, not hours.
pub const WORK: Limit = Limit {
    what: "simulated layer-steps (tests × repetitions × steps × layers)",
    max: 2_000_000_000,
    split: "run fewer repetitions or shorter tests, or split the lists over several runs",
};

/// A count past its [`Limit`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LimitError {
    /// The limit that was passed.
    pub limit: Limit,
    /// The value asked for, as text (it may not fit an integer).
    pub value: String,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "asks for {} {}, past tiersim's limit of {}; {}",
            self.value,
            self.limit.what,
            grouped_int(self.limit.max),
            self.limit.split
        )
    }
}

impl Limit {
    /// `value` if it is within the limit.
    pub fn check(self, value: u64) -> Result<u64, LimitError> {
        if value <= self.max {
            Ok(value)
        } else {
            Err(self.past(grouped_int(value)))
        }
    }

    /// `value` as a `usize` if it is within the limit (for capacities and loop bounds).
    pub fn check_usize(self, value: u64) -> Result<usize, LimitError> {
        self.check(value)
            .and_then(|v| usize::try_from(v).map_err(|_| self.past(grouped_int(v))))
    }

    /// The error for a value that overflowed before it could be compared, or that is known to be
    /// past the limit; `value` as the user should read it.
    pub fn past(self, value: impl Into<String>) -> LimitError {
        LimitError {
            limit: self,
            value: value.into(),
        }
    }

    /// The product of `factors`, within the limit; an overflow is reported as past it.
    pub fn product(self, factors: impl IntoIterator<Item = u64>) -> Result<u64, LimitError> {
        let mut acc: u64 = 1;
        for f in factors {
            acc = acc
                .checked_mul(f)
                .ok_or_else(|| self.past("more than 18,446,744,073,709,551,615"))?;
        }
        self.check(acc)
    }
}

/// The deepest nesting of `[`/`{` (flow) or indentation-free brackets in `text`, counted in one
/// pass so that a hostile document is rejected in linear time before a parser recurses into it.
/// Quoted strings are skipped; block-style YAML nests by indentation, which the parsers bound
/// themselves.
pub fn bracket_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_at_the_limit_passes_and_one_past_names_value_limit_and_remedy() {
        assert_eq!(REPETITIONS.check(10_000), Ok(10_000));
        let e = REPETITIONS.check(4_294_967_295).unwrap_err();
        assert_eq!(
            e.to_string(),
            "asks for 4,294,967,295 repetitions, past tiersim's limit of 10,000; run fewer \
             repetitions (llama-bench's default is 5) and merge the outputs"
        );
    }

    #[test]
    fn an_overflowing_product_is_past_the_limit_not_zero() {
        // Eight axes of 256 values: 2^64, which wraps to 0 in unchecked arithmetic.
        let e = SWEEP_POINTS.product([256; 8]).unwrap_err();
        assert!(e.to_string().contains("more than"), "{e}");
        assert_eq!(SWEEP_POINTS.product([10, 10, 10]), Ok(1_000));
        assert_eq!(SWEEP_POINTS.product([]), Ok(1));
    }

    #[test]
    fn bracket_depth_counts_flow_nesting_and_skips_strings() {
        assert_eq!(bracket_depth("a: [1, [2, {b: 3}]]"), 3);
        assert_eq!(bracket_depth("a: '[[[[' \nb: \"]]\\\"[[\""), 0);
        assert_eq!(bracket_depth(&"[".repeat(100_000)), 100_000);
        assert_eq!(bracket_depth("plain: text"), 0);
    }
}
