//! llama-bench's command-line conventions, in one place: its single-dash long flags (rewritten
//! to clap's spelling before parsing), its list and range syntax, the spellings of its values,
//! and the flags whose effect the simulation does not model (recorded, with one notice each).

use std::ffi::OsString;

use clap::Args;

use crate::error::Error;
use crate::limits;
use crate::report::{OutputFormat, UnmodelledSettings};

/// llama-bench's (and llama-batched-bench's `-npl`) multi-letter single-dash flags and their
/// clap spelling. clap reads `-fa` as `-f a` and `-dev` as `-d ev`, so each is rewritten
/// before parsing; this table is the only place that knows them.
const SINGLE_DASH_FLAGS: [(&str, &str); 26] = [
    ("-fa", "--flash-attn"),
    ("-pg", "--pg"),
    ("-ub", "--ub"),
    ("-ctk", "--ctk"),
    ("-ctv", "--ctv"),
    ("-ngl", "--ngl"),
    ("-ot", "--ot"),
    ("-ncmoe", "--n-cpu-moe"),
    ("-nkvo", "--nkvo"),
    ("-npl", "--npl"),
    ("-sm", "--split-mode"),
    ("-mg", "--main-gpu"),
    ("-dev", "--device"),
    ("-ts", "--tensor-split"),
    ("-lm", "--load-mode"),
    ("-lzm", "--lazy-mode"),
    ("-mmp", "--mmap"),
    ("-embd", "--embeddings"),
    ("-nopo", "--no-op-offload"),
    ("-fitt", "--fit-target"),
    ("-fitc", "--fit-ctx"),
    ("-oe", "--output-err"),
    ("-hf", "--hf-repo"),
    ("-hfr", "--hf-repo"),
    ("-hff", "--hf-file"),
    ("-hft", "--hf-token"),
];

/// Rewrites llama-bench's single-dash long flags (`-ub 256`, `-ctk=q8_0`) to `--ub` and friends.
pub fn normalize_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    args.into_iter()
        .map(|arg| {
            let Some(text) = arg.to_str() else { return arg };
            for (short, long) in SINGLE_DASH_FLAGS {
                if text == short {
                    return long.into();
                }
                if let Some(rest) = text.strip_prefix(short).and_then(|r| r.strip_prefix('=')) {
                    return format!("{long}={rest}").into();
                }
            }
            arg
        })
        .collect()
}

/// Parses llama-bench's integer lists: values, `first-last`, `first-last+step`,
/// `first-last*mult`; every error quotes the item as typed.
pub(crate) fn int_list(flag: &str, items: &[String]) -> Result<Vec<u32>, Error> {
    ranges(flag, items, false)?
        .into_iter()
        .map(|v| {
            u32::try_from(v).map_err(|_| {
                Error::usage(
                    flag,
                    format!("`{v}` is too large; expected at most {}", u32::MAX),
                )
            })
        })
        .collect()
}

/// [`int_list`] where values may be negative (`-ngl -1`).
pub(crate) fn signed_list(flag: &str, items: &[String]) -> Result<Vec<i32>, Error> {
    ranges(flag, items, true)?
        .into_iter()
        .map(|v| {
            i32::try_from(v).map_err(|_| {
                Error::usage(
                    flag,
                    format!(
                        "`{v}` is out of range; expected {} to {}",
                        i32::MIN,
                        i32::MAX
                    ),
                )
            })
        })
        .collect()
}

fn ranges(flag: &str, items: &[String], signed: bool) -> Result<Vec<i64>, Error> {
    let mut out = Vec::new();
    for item in items {
        let item = item.trim();
        // llama-bench accepts a trailing comma (`-p 64,`).
        if item.is_empty() && !out.is_empty() {
            continue;
        }
        out.extend(range(flag, item, signed)?);
    }
    Ok(out)
}

/// One item of an integer list, expanded.
fn range(flag: &str, item: &str, signed: bool) -> Result<Vec<i64>, Error> {
    let syntax = || {
        let (what, example) = if signed {
            ("an integer or range", "99, -1 or 0-32+8")
        } else {
            (
                "a non-negative integer or range",
                "512, 0-4096+1024 or 128-1024*2",
            )
        };
        Error::usage(
            flag,
            format!("`{item}` is not {what}; expected values such as {example}"),
        )
    };
    let number = |s: &str| -> Result<i64, Error> {
        let digits = s.strip_prefix('-').unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        s.parse::<i64>().map_err(|_| {
            Error::usage(
                flag,
                format!("`{item}` is too large; expected at most {}", u32::MAX),
            )
        })
    };
    // A leading minus belongs to the first value, and only where negatives are allowed.
    let (sign, body) = match item.strip_prefix('-') {
        Some(rest) if signed => ("-", rest),
        _ => ("", item),
    };
    let Some((first, rest)) = body.split_once('-') else {
        return Ok(vec![number(&format!("{sign}{body}"))?]);
    };
    let first = number(&format!("{sign}{first}"))?;
    let (last, step, multiply) = match rest.find(['+', '*']) {
        Some(at) => (
            number(&rest[..at])?,
            number(&rest[at + 1..])?,
            rest.as_bytes()[at] == b'*',
        ),
        None => (number(rest)?, 1, false),
    };
    let advances = if multiply {
        step >= 2 && first > 0
    } else {
        step >= 1
    };
    if !advances || last < first {
        return Err(Error::usage(
            flag,
            format!(
                "`{item}` is not a range that advances; expected first-last with first <= last, \
                 then +step with a step of at least 1 or *mult with a multiplier of at least 2 \
                 from a positive first"
            ),
        ));
    }
    let mut values = Vec::new();
    let mut v = first;
    while v <= last {
        // A typo such as `0-4000000000` is refused as it expands, never allocated.
        if values.len() as u64 == limits::LIST_VALUES.max {
            let e = limits::LIST_VALUES.past(format!(
                "more than {}",
                crate::report::numfmt::grouped_int(values.len() as u64)
            ));
            return Err(Error::usage(flag, format!("`{item}` {e}")));
        }
        values.push(v);
        v = if multiply {
            v.saturating_mul(step)
        } else {
            v.saturating_add(step)
        };
    }
    Ok(values)
}

/// llama-bench's on/off values: `1`/`on`/`true`, `0`/`off`/`false`.
pub(crate) fn switch(flag: &str, text: &str) -> Result<bool, Error> {
    match text.trim() {
        "1" | "on" | "true" => Ok(true),
        "0" | "off" | "false" => Ok(false),
        other => Err(Error::usage(
            flag,
            format!("`{other}` is not 0 or 1; expected 0, 1 or a list such as 0,1"),
        )),
    }
}

/// [`switch`] over a list.
pub(crate) fn switch_list(flag: &str, items: &[String]) -> Result<Vec<bool>, Error> {
    items.iter().map(|v| switch(flag, v)).collect()
}

/// `-fa`'s values: [`switch`]'s, `enabled`/`disabled`, and `auto` or `-1` (`None`).
pub(crate) fn flash_attn(text: &str) -> Result<Option<bool>, Error> {
    match text.trim() {
        "auto" | "-1" => Ok(None),
        "enabled" => Ok(Some(true)),
        "disabled" => Ok(Some(false)),
        other => switch("-fa", other).map(Some).map_err(|_| {
            Error::usage(
                "-fa",
                format!("`{other}` is not a flash-attention setting; expected on, off or auto (or 1, 0, -1)"),
            )
        }),
    }
}

/// One value of a word list, checked against llama-bench's spellings.
fn choice(flag: &str, text: &str, what: &str, allowed: &[&str]) -> Result<String, Error> {
    let v = text.trim();
    if allowed.contains(&v) {
        Ok(v.to_owned())
    } else {
        let (last, rest) = allowed.split_last().expect("a choice has options");
        Err(Error::usage(
            flag,
            format!(
                "`{v}` is not {what}; expected {} or {last}",
                rest.join(", ")
            ),
        ))
    }
}

/// An output format of `-o` or `-oe`; `none` writes nothing.
pub(crate) fn output_format(flag: &str, text: &str) -> Result<Option<OutputFormat>, Error> {
    if text == "none" {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        Error::usage(
            flag,
            format!("`{text}` is not an output format; expected md, csv, json, jsonl, sql or none"),
        )
    })
}

/// llama-bench flags whose effect tiersim does not model: accepted with llama-bench's list
/// syntax, recorded in every row (each list multiplies the tests, as in llama-bench), and
/// announced once on stderr.
#[derive(Debug, Clone, Default, Args)]
pub struct UnmodelledArgs {
    /// `-C`: CPU affinity masks in hexadecimal (recorded only).
    #[arg(
        short = 'C',
        long = "cpu-mask",
        value_delimiter = ',',
        value_name = "HEX"
    )]
    pub cpu_mask: Vec<String>,
    /// Strict CPU placement, 0 or 1 (recorded only).
    #[arg(long = "cpu-strict", value_delimiter = ',', value_name = "0|1")]
    pub cpu_strict: Vec<String>,
    /// Thread-pool polling level, 0 to 100 (recorded only).
    #[arg(long = "poll", value_delimiter = ',', allow_hyphen_values = true)]
    pub poll: Vec<String>,
    /// `-sm`: none, layer, row or tensor (recorded only).
    #[arg(long = "split-mode", value_delimiter = ',')]
    pub split_mode: Vec<String>,
    /// `-mg`: the main GPU (recorded only).
    #[arg(long = "main-gpu", value_delimiter = ',', allow_hyphen_values = true)]
    pub main_gpu: Vec<String>,
    /// `-dev`: auto, none or device names joined by `/` (recorded only).
    #[arg(long = "device", value_delimiter = ',', value_name = "DEV0/DEV1")]
    pub devices: Vec<String>,
    /// `-ts`: each GPU's share, joined by `/` or `;` (recorded only).
    #[arg(long = "tensor-split", value_delimiter = ',', value_name = "TS0/TS1")]
    pub tensor_split: Vec<String>,
    /// `-lm`: auto, none, mmap, mlock, mmap+mlock or dio (recorded only).
    #[arg(long = "load-mode", value_delimiter = ',')]
    pub load_mode: Vec<String>,
    /// `-mmp`: older llama-bench's mmap switch, 0 or 1, recorded as load mode none or mmap.
    #[arg(long = "mmap", value_delimiter = ',', value_name = "0|1")]
    pub mmap: Vec<String>,
    /// `-lzm`: on, auto or off (recorded only).
    #[arg(long = "lazy-mode", value_delimiter = ',')]
    pub lazy_mode: Vec<String>,
    /// `-embd`: embeddings mode, 0 or 1 (recorded only).
    #[arg(long = "embeddings", value_delimiter = ',', value_name = "0|1")]
    pub embeddings: Vec<String>,
    /// `-nopo`: keep host operations off the GPU, 0 or 1 (recorded only).
    #[arg(long = "no-op-offload", value_delimiter = ',', value_name = "0|1")]
    pub no_op_offload: Vec<String>,
    /// Bypass host buffers, 0 or 1 (recorded only).
    #[arg(long = "no-host", value_delimiter = ',', value_name = "0|1")]
    pub no_host: Vec<String>,
    /// `-fitt`: memory margin per device in MiB when fitting the model (recorded only).
    #[arg(long = "fit-target", value_delimiter = ',', value_name = "MiB")]
    pub fit_target: Vec<String>,
    /// `-fitc`: least context for `-fitt`, in tokens (recorded only).
    #[arg(long = "fit-ctx", value_delimiter = ',', value_name = "N")]
    pub fit_min_ctx: Vec<String>,
}

/// The unmodelled flags' values, parsed, each list holding llama-bench's default when the flag
/// is absent.
#[derive(Debug, Clone, PartialEq)]
pub struct UnmodelledLists {
    cpu_mask: Vec<String>,
    cpu_strict: Vec<bool>,
    poll: Vec<u32>,
    split_mode: Vec<String>,
    main_gpu: Vec<i32>,
    devices: Vec<String>,
    tensor_split: Vec<String>,
    load_mode: Vec<String>,
    lazy_mode: Vec<String>,
    embeddings: Vec<bool>,
    no_op_offload: Vec<bool>,
    no_host: Vec<bool>,
    fit_target_mib: Vec<u64>,
    fit_min_ctx: Vec<u32>,
    /// One line per flag given, saying it has no effect on the prediction.
    pub notices: Vec<String>,
}

impl UnmodelledArgs {
    /// The values, checked against llama-bench's spellings.
    pub fn lists(&self) -> Result<UnmodelledLists, Error> {
        let d = UnmodelledSettings::default();
        let mut notices = Vec::new();
        let mut notice = |flag: &str, raw: &[String], field: &str, what: &str| {
            if !raw.is_empty() {
                notices.push(format!(
                    "{flag} {}: {what} is not simulated, so the flag has no effect on the \
                     prediction; the value is recorded in `{field}`",
                    raw.join(",")
                ));
            }
        };
        notice("-C", &self.cpu_mask, "cpu_mask", "CPU affinity");
        notice(
            "--cpu-strict",
            &self.cpu_strict,
            "cpu_strict",
            "CPU affinity",
        );
        notice("--poll", &self.poll, "poll", "thread-pool polling");
        notice("-sm", &self.split_mode, "split_mode", "splitting over GPUs");
        notice("-mg", &self.main_gpu, "main_gpu", "splitting over GPUs");
        notice("-dev", &self.devices, "devices", "device selection");
        notice(
            "-ts",
            &self.tensor_split,
            "tensor_split",
            "splitting over GPUs",
        );
        notice("-lm", &self.load_mode, "load_mode", "model loading");
        notice("-mmp", &self.mmap, "load_mode", "model loading");
        notice("-lzm", &self.lazy_mode, "lazy_mode", "model loading");
        notice("-embd", &self.embeddings, "embeddings", "embeddings mode");
        notice(
            "-nopo",
            &self.no_op_offload,
            "no_op_offload",
            "operation offload",
        );
        notice("--no-host", &self.no_host, "no_host", "host-buffer use");
        notice(
            "-fitt",
            &self.fit_target,
            "fit_target",
            "fitting to device memory",
        );
        notice(
            "-fitc",
            &self.fit_min_ctx,
            "fit_min_ctx",
            "fitting to device memory",
        );

        let mut load_mode: Vec<String> = self
            .load_mode
            .iter()
            .map(|v| {
                choice(
                    "-lm",
                    v,
                    "a load mode",
                    &["auto", "none", "mmap", "mlock", "mmap+mlock", "dio"],
                )
            })
            .collect::<Result<_, _>>()?;
        for v in &self.mmap {
            load_mode.push(if switch("-mmp", v)? { "mmap" } else { "none" }.to_owned());
        }
        let poll = int_list("--poll", &self.poll)?;
        if let Some(p) = poll.iter().find(|&&p| p > 100) {
            return Err(Error::usage(
                "--poll",
                format!("`{p}` is out of range; expected a polling level from 0 to 100"),
            ));
        }
        let main_gpu = int_list("-mg", &self.main_gpu)?
            .into_iter()
            .map(|g| {
                i32::try_from(g).map_err(|_| {
                    Error::usage("-mg", format!("`{g}` is too large; expected a GPU index"))
                })
            })
            .collect::<Result<_, _>>()?;
        let lists = UnmodelledLists {
            cpu_mask: or(
                self.cpu_mask
                    .iter()
                    .map(|m| cpu_mask(m))
                    .collect::<Result<_, _>>()?,
                d.cpu_mask,
            ),
            cpu_strict: or(switch_list("--cpu-strict", &self.cpu_strict)?, d.cpu_strict),
            poll: or(poll, d.poll),
            split_mode: or(
                self.split_mode
                    .iter()
                    .map(|v| {
                        choice(
                            "-sm",
                            v,
                            "a split mode",
                            &["none", "layer", "row", "tensor"],
                        )
                    })
                    .collect::<Result<_, _>>()?,
                d.split_mode,
            ),
            main_gpu: or(main_gpu, d.main_gpu),
            devices: or(
                self.devices
                    .iter()
                    .map(|v| devices(v))
                    .collect::<Result<_, _>>()?,
                d.devices,
            ),
            tensor_split: or(
                self.tensor_split
                    .iter()
                    .map(|v| tensor_split(v))
                    .collect::<Result<_, _>>()?,
                d.tensor_split,
            ),
            load_mode: or(load_mode, d.load_mode),
            lazy_mode: or(
                self.lazy_mode
                    .iter()
                    .map(|v| choice("-lzm", v, "a lazy mode", &["on", "auto", "off"]))
                    .collect::<Result<_, _>>()?,
                d.lazy_mode,
            ),
            embeddings: or(switch_list("-embd", &self.embeddings)?, d.embeddings),
            no_op_offload: or(switch_list("-nopo", &self.no_op_offload)?, d.no_op_offload),
            no_host: or(switch_list("--no-host", &self.no_host)?, d.no_host),
            fit_target_mib: or(
                self.fit_target
                    .iter()
                    .map(|v| {
                        v.trim().parse::<u64>().map_err(|_| {
                            Error::usage(
                                "-fitt",
                                format!("`{v}` is not a margin in MiB; expected a non-negative integer such as 1024"),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
                d.fit_target_mib,
            ),
            fit_min_ctx: or(
                self.fit_min_ctx
                    .iter()
                    .map(|v| {
                        v.trim().parse::<u32>().map_err(|_| {
                            Error::usage(
                                "-fitc",
                                format!("`{v}` is not a context size; expected a non-negative integer such as 4096"),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
                d.fit_min_ctx,
            ),
            notices,
        };
        // Every combination becomes rows: bound the product before it is expanded.
        limits::TEST_CASES
            .product(
                [
                    lists.cpu_mask.len(),
                    lists.cpu_strict.len(),
                    lists.poll.len(),
                    lists.split_mode.len(),
                    lists.main_gpu.len(),
                    lists.devices.len(),
                    lists.tensor_split.len(),
                    lists.load_mode.len(),
                    lists.lazy_mode.len(),
                    lists.embeddings.len(),
                    lists.no_op_offload.len(),
                    lists.no_host.len(),
                    lists.fit_target_mib.len(),
                    lists.fit_min_ctx.len(),
                ]
                .map(|n| n as u64),
            )
            .map_err(|e| Error::usage("-C/--poll/-sm/-mg/-dev/-ts/-lm/-embd", e.to_string()))?;
        Ok(lists)
    }
}

impl UnmodelledLists {
    /// Every combination of the values, in llama-bench's loop order (`-fitt` outermost,
    /// `--poll` innermost).
    pub fn variants(&self) -> Vec<UnmodelledSettings> {
        let mut out = vec![UnmodelledSettings::default()];
        out = expand(out, &self.fit_target_mib, |s, v| s.fit_target_mib = v);
        out = expand(out, &self.fit_min_ctx, |s, v| s.fit_min_ctx = v);
        out = expand(out, &self.split_mode, |s, v| s.split_mode = v);
        out = expand(out, &self.load_mode, |s, v| s.load_mode = v);
        out = expand(out, &self.lazy_mode, |s, v| s.lazy_mode = v);
        out = expand(out, &self.main_gpu, |s, v| s.main_gpu = v);
        out = expand(out, &self.devices, |s, v| s.devices = v);
        out = expand(out, &self.tensor_split, |s, v| s.tensor_split = v);
        out = expand(out, &self.no_host, |s, v| s.no_host = v);
        out = expand(out, &self.embeddings, |s, v| s.embeddings = v);
        out = expand(out, &self.no_op_offload, |s, v| s.no_op_offload = v);
        out = expand(out, &self.cpu_mask, |s, v| s.cpu_mask = v);
        out = expand(out, &self.cpu_strict, |s, v| s.cpu_strict = v);
        expand(out, &self.poll, |s, v| s.poll = v)
    }

    /// Sets the md columns llama-bench would show for these values.
    pub fn show_columns(&self, c: &mut crate::report::MdColumns) {
        use crate::report::MdColumns as M;
        let d = UnmodelledSettings::default();
        c.cpu_mask = M::shows(&self.cpu_mask, &d.cpu_mask);
        c.cpu_strict = M::shows(&self.cpu_strict, &d.cpu_strict);
        c.poll = M::shows(&self.poll, &d.poll);
        c.main_gpu = M::shows(&self.main_gpu, &d.main_gpu);
        c.split_mode = M::shows(&self.split_mode, &d.split_mode);
        c.devices = M::shows(&self.devices, &d.devices);
        c.tensor_split = M::shows(&self.tensor_split, &d.tensor_split);
        c.load_mode = M::shows(&self.load_mode, &d.load_mode);
        c.lazy_mode = M::shows(&self.lazy_mode, &d.lazy_mode);
        c.embeddings = M::shows(&self.embeddings, &d.embeddings);
        c.no_op_offload = M::shows(&self.no_op_offload, &d.no_op_offload);
        c.no_host = M::shows(&self.no_host, &d.no_host);
        c.fit_target = M::shows(&self.fit_target_mib, &d.fit_target_mib);
        c.fit_min_ctx = M::shows(&self.fit_min_ctx, &d.fit_min_ctx);
    }
}

/// `values`, or llama-bench's default alone when the flag was not given.
fn or<T>(values: Vec<T>, default: T) -> Vec<T> {
    if values.is_empty() {
        vec![default]
    } else {
        values
    }
}

/// Each of `settings` once per value, the value varying fastest.
fn expand<T: Clone>(
    settings: Vec<UnmodelledSettings>,
    values: &[T],
    set: impl Fn(&mut UnmodelledSettings, T),
) -> Vec<UnmodelledSettings> {
    let mut out = Vec::with_capacity(settings.len() * values.len());
    for s in settings {
        for v in values {
            let mut s = s.clone();
            set(&mut s, v.clone());
            out.push(s);
        }
    }
    out
}

/// A CPU mask as typed, checked to be hexadecimal with an optional `0x`.
fn cpu_mask(text: &str) -> Result<String, Error> {
    let t = text.trim();
    let digits = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::usage(
            "-C",
            format!("`{t}` is not a hexadecimal CPU mask; expected values such as 0x0 or 0xff"),
        ));
    }
    Ok(t.to_owned())
}

/// A `-dev` value as llama-bench records it: `auto`, `none`, or names joined by `/`.
fn devices(text: &str) -> Result<String, Error> {
    let names: Vec<&str> = text.split('/').map(str::trim).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(Error::usage(
            "-dev",
            format!(
                "`{text}` names an empty device; expected auto, none or device names joined by / such as CUDA0/CUDA1"
            ),
        ));
    }
    Ok(names.join("/"))
}

/// Most devices a `-ts` value may split over (llama.cpp's `llama_max_devices`).
const MAX_DEVICES: usize = 16;

/// A `-ts` value as llama-bench records it: each share as `%.2f` up to the last non-zero one,
/// joined by `/`.
fn tensor_split(text: &str) -> Result<String, Error> {
    let bad = || {
        Error::usage(
            "-ts",
            format!(
                "`{text}` is not a tensor split; expected non-negative shares per device joined by / or ; such as 3/1 (at most {MAX_DEVICES})"
            ),
        )
    };
    let shares: Vec<f64> = text
        .split(['/', ';'])
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(bad)
        })
        .collect::<Result<_, _>>()?;
    if shares.is_empty() || shares.len() > MAX_DEVICES {
        return Err(bad());
    }
    let last = shares.iter().rposition(|&x| x > 0.0).unwrap_or(0);
    Ok(shares[..=last]
        .iter()
        .map(|x| format!("{x:.2}"))
        .collect::<Vec<_>>()
        .join("/"))
}

/// llama-bench's options about the benchmark session rather than a test: accepted so that its
/// command lines run unchanged.
#[derive(Debug, Clone, Default, Args)]
pub struct SessionArgs {
    /// `-oe`: also write the results to stderr in this format (md, csv, json, jsonl, sql, none).
    #[arg(long = "output-err", value_name = "FORMAT")]
    pub output_err: Option<String>,
    /// Say on stderr which model, system, placement and seed each group of tests simulates.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Print a line on stderr as each test starts.
    #[arg(long = "progress")]
    pub progress: bool,
    /// List the simulated system's devices and exit.
    #[arg(long = "list-devices")]
    pub list_devices: bool,
    /// Seconds between tests (no effect: the simulation does not wait).
    #[arg(long = "delay", value_name = "SECONDS")]
    pub delay: Option<String>,
    /// Process priority, -1 to 3 (no effect on a simulation).
    #[arg(long = "prio", allow_hyphen_values = true)]
    pub prio: Option<String>,
    /// NUMA mode: distribute, isolate or numactl (no effect on a simulation).
    #[arg(long = "numa")]
    pub numa: Option<String>,
    /// Skip warm-up runs (no effect: simulated repetitions need none).
    #[arg(long = "no-warmup")]
    pub no_warmup: bool,
    /// Offline mode (no effect: tiersim never downloads).
    #[arg(long = "offline")]
    pub offline: bool,
    /// `-hf`: a Hugging Face repository; refused, since tiersim reads `--model` instead.
    #[arg(long = "hf-repo", value_name = "USER/MODEL")]
    pub hf_repo: Option<String>,
    /// `-hff`: a Hugging Face file; refused, as `-hf` is.
    #[arg(long = "hf-file", value_name = "FILE")]
    pub hf_file: Option<String>,
    /// `-hft`: a Hugging Face token (no effect: tiersim never downloads).
    #[arg(long = "hf-token", value_name = "TOKEN")]
    pub hf_token: Option<String>,
}

/// The session options, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Format of the copy written to stderr, if any.
    pub output_err: Option<OutputFormat>,
    /// Whether to describe each group of tests on stderr.
    pub verbose: bool,
    /// Whether to announce each test on stderr.
    pub progress: bool,
    /// Whether to list devices instead of running.
    pub list_devices: bool,
    /// One line per flag given that has no effect.
    pub notices: Vec<String>,
}

impl SessionArgs {
    /// Checks the values as llama-bench does, refusing what tiersim cannot honour.
    pub fn session(&self) -> Result<Session, Error> {
        for (flag, value) in [("-hf", &self.hf_repo), ("-hff", &self.hf_file)] {
            if let Some(v) = value {
                return Err(Error::usage(
                    flag,
                    format!(
                        "`{v}`: tiersim does not download models; expected --model with a preset name, a model YAML or a GGUF file"
                    ),
                ));
            }
        }
        let mut notices = Vec::new();
        if let Some(d) = &self.delay {
            d.trim().parse::<u32>().map_err(|_| {
                Error::usage(
                    "--delay",
                    format!("`{d}` is not a number of seconds; expected a non-negative integer"),
                )
            })?;
            notices.push(format!(
                "--delay {d}: the simulation does not wait between tests, so the flag has no effect"
            ));
        }
        if let Some(p) = &self.prio {
            choice("--prio", p, "a priority", &["-1", "0", "1", "2", "3"])?;
            notices.push(format!(
                "--prio {p}: process priority does not change a simulation, so the flag has no effect"
            ));
        }
        if let Some(n) = &self.numa {
            choice(
                "--numa",
                n,
                "a NUMA mode",
                &["distribute", "isolate", "numactl"],
            )?;
            notices.push(format!(
                "--numa {n}: NUMA placement is not simulated, so the flag has no effect"
            ));
        }
        for (given, flag, why) in [
            (
                self.no_warmup,
                "--no-warmup",
                "simulated repetitions need no warm-up",
            ),
            (self.offline, "--offline", "tiersim never downloads"),
            (self.hf_token.is_some(), "-hft", "tiersim never downloads"),
        ] {
            if given {
                notices.push(format!("{flag}: {why}, so the flag has no effect"));
            }
        }
        Ok(Session {
            output_err: match &self.output_err {
                Some(f) => output_format("-oe", f)?,
                None => None,
            },
            verbose: self.verbose,
            progress: self.progress,
            list_devices: self.list_devices,
            notices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn message(e: Error) -> String {
        e.to_string()
    }

    #[test]
    fn every_single_dash_flag_is_rewritten_with_or_without_equals() {
        let args = normalize_args(
            [
                "tiersim",
                "-fa",
                "1",
                "-dev=CUDA0",
                "-nopo",
                "-d",
                "-ts",
                "-1",
                "x",
            ]
            .map(OsString::from),
        );
        assert_eq!(
            args,
            [
                "tiersim",
                "--flash-attn",
                "1",
                "--device=CUDA0",
                "--no-op-offload",
                "-d",
                "--tensor-split",
                "-1",
                "x"
            ]
            .map(OsString::from)
        );
        for (short, long) in SINGLE_DASH_FLAGS {
            assert!(short.len() > 2 && short.starts_with('-') && !short.starts_with("--"));
            assert!(long.starts_with("--"), "{long}");
        }
    }

    #[test]
    fn integer_lists_take_ranges_and_quote_bad_items_whole() {
        assert_eq!(
            int_list("-d", &strings(&["0-4096+1024", "16", "128-1024*2", ""])).unwrap(),
            [0, 1024, 2048, 3072, 4096, 16, 128, 256, 512, 1024]
        );
        assert_eq!(
            signed_list("-ngl", &strings(&["-1", "0-8+4"])).unwrap(),
            [-1, 0, 4, 8]
        );
        for (flag, item) in [
            ("-p", "-1"),
            ("-d", "32k"),
            ("-t", "2x"),
            ("-d", ""),
            ("-p", "1-"),
        ] {
            let m = message(int_list(flag, &strings(&[item])).unwrap_err());
            assert_eq!(
                m,
                format!(
                    "{flag}: `{item}` is not a non-negative integer or range; expected values \
                     such as 512, 0-4096+1024 or 128-1024*2"
                )
            );
        }
        let m = message(int_list("-p", &strings(&["9-3"])).unwrap_err());
        assert!(
            m.starts_with("-p: `9-3` is not a range that advances;"),
            "{m}"
        );
        let m = message(int_list("-p", &strings(&["0-8*2"])).unwrap_err());
        assert!(m.contains("`0-8*2`"), "{m}");
        let m = message(int_list("-p", &strings(&["99999999999"])).unwrap_err());
        assert_eq!(
            m,
            "-p: `99999999999` is too large; expected at most 4294967295"
        );
        let m = message(int_list("-p", &strings(&["0-4000000000"])).unwrap_err());
        assert!(m.contains("more than 10,000 values in one list"), "{m}");
    }

    #[test]
    fn switches_and_words_name_what_they_expect() {
        assert_eq!(
            switch_list("-embd", &strings(&["0", "on", "true"])).unwrap(),
            [false, true, true]
        );
        assert_eq!(
            message(switch("--no-host", "2").unwrap_err()),
            "--no-host: `2` is not 0 or 1; expected 0, 1 or a list such as 0,1"
        );
        assert_eq!(flash_attn("auto").unwrap(), None);
        assert_eq!(flash_attn("enabled").unwrap(), Some(true));
        assert_eq!(flash_attn("0").unwrap(), Some(false));
        assert!(message(flash_attn("maybe").unwrap_err()).contains("`maybe`"));
        assert_eq!(
            message(
                choice(
                    "-sm",
                    "rows",
                    "a split mode",
                    &["none", "layer", "row", "tensor"]
                )
                .unwrap_err()
            ),
            "-sm: `rows` is not a split mode; expected none, layer, row or tensor"
        );
        assert_eq!(output_format("-oe", "none").unwrap(), None);
        assert_eq!(output_format("-o", "sql").unwrap(), Some(OutputFormat::Sql));
        assert!(message(output_format("-o", "xml").unwrap_err()).contains("`xml`"));
    }

    #[test]
    fn recorded_values_take_llama_benchs_spelling() {
        assert_eq!(tensor_split("3/1").unwrap(), "3.00/1.00");
        assert_eq!(tensor_split("0.5;0.5;0").unwrap(), "0.50/0.50");
        assert_eq!(tensor_split("0").unwrap(), "0.00");
        assert!(tensor_split("a/b").is_err() && tensor_split("-1").is_err());
        assert_eq!(devices("CUDA0/ CUDA1").unwrap(), "CUDA0/CUDA1");
        assert!(devices("CUDA0//CUDA1").is_err());
        assert_eq!(cpu_mask("0xff").unwrap(), "0xff");
        assert!(cpu_mask("0xzz").is_err() && cpu_mask("0x").is_err());
    }

    #[test]
    fn unmodelled_lists_multiply_in_llama_benchs_order_and_announce_themselves() {
        let args = UnmodelledArgs {
            load_mode: strings(&["none"]),
            mmap: strings(&["1"]),
            poll: strings(&["0", "100"]),
            ..UnmodelledArgs::default()
        };
        let lists = args.lists().unwrap();
        let v = lists.variants();
        let got: Vec<(&str, u32)> = v.iter().map(|s| (s.load_mode.as_str(), s.poll)).collect();
        assert_eq!(
            got,
            [("none", 0), ("none", 100), ("mmap", 0), ("mmap", 100)]
        );
        assert_eq!(v[0].cpu_mask, "0x0");
        assert_eq!(lists.notices.len(), 3);
        assert!(lists.notices[0].starts_with("--poll 0,100: thread-pool polling is not simulated"));
        let mut c = crate::report::MdColumns::default();
        lists.show_columns(&mut c);
        assert!(c.poll && c.load_mode && !c.cpu_mask);

        let none = UnmodelledArgs::default().lists().unwrap();
        assert_eq!(none.variants(), [UnmodelledSettings::default()]);
        assert!(none.notices.is_empty());

        let bad = UnmodelledArgs {
            poll: strings(&["101"]),
            ..UnmodelledArgs::default()
        };
        assert_eq!(
            message(bad.lists().unwrap_err()),
            "--poll: `101` is out of range; expected a polling level from 0 to 100"
        );
    }

    #[test]
    fn session_flags_are_checked_refused_or_announced() {
        let s = SessionArgs {
            output_err: Some("json".to_owned()),
            delay: Some("5".to_owned()),
            no_warmup: true,
            ..SessionArgs::default()
        }
        .session()
        .unwrap();
        assert_eq!(s.output_err, Some(OutputFormat::Json));
        assert_eq!(s.notices.len(), 2);
        let hf = SessionArgs {
            hf_repo: Some("ggml-org/x".to_owned()),
            ..SessionArgs::default()
        };
        assert!(
            message(hf.session().unwrap_err())
                .starts_with("-hf: `ggml-org/x`: tiersim does not download")
        );
        let prio = SessionArgs {
            prio: Some("9".to_owned()),
            ..SessionArgs::default()
        };
        assert!(message(prio.session().unwrap_err()).contains("`9` is not a priority"));
    }
}
