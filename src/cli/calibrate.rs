//! `tiersim calibrate` and `tiersim validate` (DESIGN §3.2): measured llama-bench results in,
//! a fitted system profile and its fit report out; or a profile's predictions compared with
//! other measured runs.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::calibrate::error::CalibrateError;
use crate::calibrate::fit::{self, FitOptions, LooMode, Param, Problem};
use crate::calibrate::points::{self, Exclusion, Selection};
use crate::calibrate::progress::Progress;
use crate::calibrate::report::Report;
use crate::config::load::{self, Loaded, Override, Target};
use crate::config::system::SystemSpec;
use crate::config::validate;
use crate::error::Error;
use crate::model::spec::ModelSpec;

/// `tiersim calibrate` flags.
#[derive(Debug, Clone, Args)]
pub struct CalibrateArgs {
    /// Measured results: llama-bench output in any format (md, csv, json, jsonl, sql), the
    /// harness's JSON, or a Findings table from calibration/.
    #[arg(required_unless_present = "plan", value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Print the llama-bench commands of a measurement matrix that determines every figure of
    /// the per-kernel model for these models, instead of fitting.
    #[arg(long = "plan")]
    pub plan: bool,
    /// The model the rows measured (preset name, YAML or GGUF). Give one per model when the
    /// rows are of several: each row is matched to its model by its recorded size.
    #[arg(short = 'm', long = "model", value_delimiter = ',', required = true)]
    pub model: Vec<String>,
    /// Where to write the fitted profile (a system YAML).
    #[arg(
        long = "out",
        value_name = "PROFILE.yaml",
        required_unless_present = "plan"
    )]
    pub out: Option<PathBuf>,
    /// The base system whose compute figures are fitted (preset or YAML): the machine the runs
    /// were recorded on, with its own memory figures — a calibration never borrows another
    /// machine's. Its tiers, placement and nominal rates stay as they are. Required.
    /// `calibration/xeon-2core-base.yaml` is an example of a per-kernel base.
    #[arg(long = "system", value_name = "BASE")]
    pub system: Option<String>,
    /// Keep the rows of this thread count (default: the most common one).
    #[arg(short = 't', long = "threads")]
    pub threads: Option<u32>,
    /// Override a base-system or model figure by dotted path, with its unit:
    /// `tiers.dram.read_bw=38GB/s`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Leave out rows whose field is one of the values: `n_prompt=64`, `test=pp64,tg64`,
    /// `type_k=q8_0`. A column of the source file wins over the row field of the same name.
    /// Repeatable.
    #[arg(long = "exclude", value_name = "KEY=V1[,V2]")]
    pub exclude: Vec<String>,
    /// Figures to keep at the base system's values instead of fitting them (comma list of
    /// memory_efficiency, prefill_efficiency, decode_efficiency, attention_efficiency,
    /// layer_overhead, step_overhead).
    #[arg(long = "fix", value_delimiter = ',', value_name = "FIGURES")]
    pub fix: Vec<String>,
    /// Leave-one-out: auto (per point up to 40 points, else per kind-and-depth group), point,
    /// group or off.
    #[arg(long = "loo", default_value = "auto")]
    pub loo: String,
    /// Name of the profile (default: the base system's name with `-calibrated`).
    #[arg(long = "name")]
    pub name: Option<String>,
    /// Also write the report (Markdown) to this file.
    #[arg(long = "report", value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No progress bar on stderr (it is shown only when stderr is a terminal).
    #[arg(long = "no-progress")]
    pub no_progress: bool,
}

/// `tiersim validate` flags.
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Measured results, in any format `calibrate` reads.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// The profile to validate (a system preset or YAML, e.g. one `calibrate` wrote).
    #[arg(long = "system", value_name = "PROFILE.yaml", required = true)]
    pub system: String,
    /// The model the rows measured; one per model when the rows are of several.
    #[arg(short = 'm', long = "model", value_delimiter = ',', required = true)]
    pub model: Vec<String>,
    /// Keep the rows of this thread count (default: the most common one).
    #[arg(short = 't', long = "threads")]
    pub threads: Option<u32>,
    /// Override a profile or model figure by dotted path, with its unit. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Leave out rows whose field is one of the values (as in `calibrate`). Repeatable.
    #[arg(long = "exclude", value_name = "KEY=V1[,V2]")]
    pub exclude: Vec<String>,
    /// Also write the report (Markdown) to this file.
    #[arg(long = "report", value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Runs `tiersim calibrate`: fits, writes the profile, prints the report.
pub fn run_calibrate(args: &CalibrateArgs, out: &mut dyn Write) -> Result<(), Error> {
    calibrate(args, out).map_err(Error::from)
}

/// Runs `tiersim validate`: predicts every row with the profile and prints the report.
pub fn run_validate(args: &ValidateArgs, out: &mut dyn Write) -> Result<(), Error> {
    validate_profile(args, out).map_err(Error::from)
}

/// What both commands load: overrides, models, rows.
struct Inputs {
    sets: Vec<Override>,
    models: Vec<Loaded<ModelSpec>>,
    selection: Selection,
}

/// The `--set` overrides and the `--model` models they apply to.
fn load_models(
    model: &[String],
    set: &[String],
) -> Result<(Vec<Override>, Vec<Loaded<ModelSpec>>), CalibrateError> {
    let sets = set
        .iter()
        .map(|s| Override::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let models = model
        .iter()
        .map(|m| m.trim())
        .filter(|m| !m.is_empty())
        .map(|m| load::model(Some(m), &sets))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((sets, models))
}

fn load_inputs(
    files: &[PathBuf],
    model: &[String],
    set: &[String],
    exclude: &[String],
    threads: Option<u32>,
) -> Result<Inputs, CalibrateError> {
    let (sets, models) = load_models(model, set)?;
    let exclude = exclude
        .iter()
        .map(|e| Exclusion::parse(e))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = points::read_files(files)?;
    let specs: Vec<ModelSpec> = models.iter().map(|m| m.spec.clone()).collect();
    let selection = points::select(rows, &specs, threads, &exclude)?;
    Ok(Inputs {
        sets,
        models,
        selection,
    })
}

fn file_list(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn context(inputs: &Inputs, files: &[PathBuf], system: &Loaded<SystemSpec>) -> Vec<String> {
    let s = &system.spec;
    let mut c = vec![
        format!("files: {}", file_list(files)),
        format!(
            "model{}: {}",
            if inputs.models.len() > 1 { "s" } else { "" },
            inputs
                .models
                .iter()
                .map(|m| format!("{} ({})", m.spec.name, m.origin))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!(
            "system: {} ({}): {}, peak {}, local tier `{}` read {}",
            s.name,
            system.origin,
            s.compute.device,
            s.compute.peak_flops,
            s.tiers[0].name,
            s.tiers[0].read_bw
        ),
    ];
    c.extend(inputs.selection.notes.iter().cloned());
    c.push(format!(
        "{} points: {}",
        inputs.selection.points.len(),
        points::Kind::ALL
            .iter()
            .map(|k| {
                let n = inputs
                    .selection
                    .points
                    .iter()
                    .filter(|p| p.kind == *k)
                    .count();
                format!("{n} {k}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    ));
    c
}

/// `calibrate --plan`: the runs that determine every figure for the given models.
fn plan(args: &CalibrateArgs, out: &mut dyn Write) -> Result<(), CalibrateError> {
    let (sets, models) = load_models(&args.model, &args.set)?;
    let specs: Vec<ModelSpec> = models.iter().map(|m| m.spec.clone()).collect();
    let base = match &args.system {
        Some(s) => Some(load::system(Some(s), &sets)?.spec),
        None => None,
    };
    let threads = args
        .threads
        .or_else(|| base.as_ref().and_then(|b| b.compute.threads))
        .unwrap_or(1);
    // Weight types the base has an operator-profile rate for but no model runs: a quantised
    // copy of the first model pins them.
    let extra: Vec<crate::model::quant::QuantType> = base.as_ref().map_or(Vec::new(), |b| {
        let used = fit::kernel_types(&specs, &b.compute);
        b.compute
            .kernels
            .keys()
            .filter(|t| !used.contains(&Some(**t)))
            .copied()
            .collect()
    });
    let names: Vec<String> = args.model.iter().map(|m| m.trim().to_owned()).collect();
    let text = crate::calibrate::plan::commands(&names, threads, &extra).join("\n");
    writeln!(out, "{text}").map_err(CalibrateError::Output)
}

fn calibrate(args: &CalibrateArgs, out: &mut dyn Write) -> Result<(), CalibrateError> {
    if args.plan {
        return plan(args, out);
    }
    let Some(out_path) = args.out.as_ref() else {
        return Err(CalibrateError::usage(
            "--out",
            "is missing; expected the profile to write, e.g. --out my-machine.yaml",
        ));
    };
    // Output paths are checked before the fit, not after it.
    crate::files::check_writable(out_path)?;
    if let Some(report) = &args.report {
        crate::files::check_writable(report)?;
    }
    let loo = LooMode::parse(&args.loo).ok_or_else(|| {
        CalibrateError::usage(
            "--loo",
            format!(
                "`{}` is not a mode; expected auto, point, group, model or off",
                args.loo
            ),
        )
    })?;
    let mut fixed = Vec::new();
    for f in args.fix.iter().filter(|f| !f.trim().is_empty()) {
        fixed.push(Param::from_name(f).ok_or_else(|| {
            CalibrateError::usage(
                "--fix",
                format!(
                    "`{f}` is not a fitted figure; expected {} (or, on a per-kernel base, \
                     prompt_attention_efficiency, node_overhead, token_overhead, batch_half, \
                     quantized_kv_attention, repacked.vec, repacked.mat, kernels.TYPE.vec, \
                     kernels.TYPE.mat)",
                    Param::ALL.map(Param::name).join(", ")
                ),
            )
        })?);
    }
    let inputs = load_inputs(
        &args.files,
        &args.model,
        &args.set,
        &args.exclude,
        args.threads,
    )?;
    let Some(base_name) = args.system.as_deref() else {
        return Err(CalibrateError::usage(
            "--system",
            "is missing; expected the base system of the machine the runs were recorded on \
             (its memory capacity, bandwidth or measured read_bw_curve, its thread count), \
             e.g. --system calibration/xeon-2core-base.yaml: another machine's figures would be \
             borrowed silently",
        ));
    };
    let base = load::system(Some(base_name), &inputs.sets)?;
    let problem = Problem {
        models: inputs.models.iter().map(|m| m.spec.clone()).collect(),
        base: base.spec.clone(),
        points: inputs.selection.points.clone(),
    };
    let per_kernel = base.spec.compute.per_kernel();
    let candidates: Vec<Param> = if per_kernel {
        let quantized = problem
            .points
            .iter()
            .any(|p| !(p.case.type_k.is_float() && p.case.type_v.is_float()));
        let no_flash = problem
            .points
            .iter()
            .any(|p| p.case.flash_attn == Some(false));
        Param::per_kernel(&problem.models, &base.spec.compute, quantized, no_flash)
    } else {
        Param::ALL.to_vec()
    };
    let opts = FitOptions {
        params: candidates
            .into_iter()
            .filter(|p| !fixed.contains(p))
            .collect(),
        loo,
        prior_weight: if per_kernel {
            fit::KERNEL_PRIOR_WEIGHT
        } else {
            fit::PRIOR_WEIGHT
        },
        ..FitOptions::default()
    };
    let fit = match ProgressBar::on_terminal(!args.no_progress) {
        Some(bar) => {
            let fit = fit::fit_reporting(&problem, &opts, &bar);
            bar.0.finish_and_clear();
            fit?
        }
        None => fit::fit(&problem, &opts)?,
    };
    let threads = inputs
        .selection
        .threads
        .map_or_else(|| "not recorded".to_owned(), |t| t.to_string());
    let files = file_list(&args.files);
    let n = problem.points.len();
    let mut ctx = context(&inputs, &args.files, &base);
    ctx.push(format!(
        "fit: {} simulator runs; rms log error {:.4}; the profile's figures are rounded to {} \
         significant digits and the predictions below are the rounded profile's",
        fit.evals,
        fit.rms_log_error,
        fit::SIGNIFICANT_DIGITS
    ));
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-calibrated", base.spec.name));
    let report = Report::for_fit(
        format!("tiersim calibrate: {name}"),
        ctx,
        &problem.points,
        &fit,
        &problem.models,
    );

    let mut profile = fit.system.clone();
    profile.name = name;
    if per_kernel && profile.compute.threads.is_none() {
        profile.compute.threads = inputs.selection.threads;
    }
    let model_names: Vec<&str> = problem.models.iter().map(|m| m.name.as_str()).collect();
    profile.description = format!(
        "{} calibrated by tiersim calibrate to {n} llama-bench points of {} at {threads} \
         threads ({files}). Base: {}",
        base.spec.name,
        model_names.join(", "),
        base.spec.description.trim()
    );
    let provenance =
        format!("fitted by tiersim calibrate on {files}, {n} points, threads {threads}");
    for (p, line) in fit.params.iter().zip(&report.params) {
        if !p.free {
            continue;
        }
        let mut text = format!(
            "{provenance}: {} ({}; a ±20 % change moves the predictions by {:.2} %)",
            line.fitted, line.effective, p.sensitivity_pct
        );
        if fit.carried.contains(&p.param) {
            let text = format!(
                "{provenance}: no fitted model runs this kernel, so it is carried: the base's \
                 {} (base evidence: {}) times the median fitted/base ratio of the kernels the \
                 rows determine = {}",
                line.base,
                base.spec
                    .evidence
                    .get("compute.kernels")
                    .or_else(|| base.spec.evidence.get(&p.param.path()))
                    .map_or("none", String::as_str),
                line.fitted
            );
            profile.evidence.insert(p.param.path(), text);
            continue;
        }
        if !p.constrained() {
            let was = base
                .spec
                .evidence
                .get(&p.param.path())
                .map_or(String::new(), |e| format!("; base evidence: {e}"));
            text.push_str(&format!(
                "; not constrained by these rows, so it stays near the base value {}{was}",
                line.base
            ));
        }
        if p.at_bound {
            text.push_str("; at the bound of the search range");
        }
        profile.evidence.insert(p.param.path(), text);
    }
    let stats = report.stats();
    let summary: Vec<String> = stats
        .iter()
        .map(|s| {
            let loo = s.loo_median_abs.map_or(String::new(), |l| {
                format!(", leave-one-out median {l:.1} %")
            });
            format!(
                "{} MAPE {:.1} %, median {:.1} %{loo}",
                s.name(),
                s.mape,
                s.median_abs
            )
        })
        .collect();
    profile.evidence.insert(
        "compute.fit_error".to_owned(),
        format!("{provenance}: {}", summary.join("; ")),
    );
    profile.evidence.insert(
        "compute.run_to_run_jitter".to_owned(),
        format!(
            "measured in {files} (threads {threads}): {}",
            report.jitter.summary()
        ),
    );
    for set in &inputs.sets {
        let (target, path) = set.target();
        if target == Target::System {
            profile.evidence.insert(
                path.join("."),
                format!(
                    "set on the tiersim calibrate command line (--set {}) before fitting",
                    set.text
                ),
            );
        }
    }
    validate::system(&profile, &out_path.display().to_string())?;
    let yaml = profile_yaml(&profile, args, out_path)?;
    crate::files::write_atomic(out_path, yaml.as_bytes())?;
    emit(&report, args.report.as_deref(), out)
}

fn validate_profile(args: &ValidateArgs, out: &mut dyn Write) -> Result<(), CalibrateError> {
    if let Some(report) = &args.report {
        crate::files::check_writable(report)?;
    }
    let inputs = load_inputs(
        &args.files,
        &args.model,
        &args.set,
        &args.exclude,
        args.threads,
    )?;
    let system = load::system(Some(&args.system), &inputs.sets)?;
    let problem = Problem {
        models: inputs.models.iter().map(|m| m.spec.clone()).collect(),
        base: system.spec.clone(),
        points: inputs.selection.points.clone(),
    };
    problem.check()?;
    let predicted = problem.predict(&system.spec)?;
    let report = Report::for_validation(
        format!("tiersim validate: {}", system.spec.name),
        context(&inputs, &args.files, &system),
        &problem.points,
        &predicted,
    );
    emit(&report, args.report.as_deref(), out)
}

fn emit(report: &Report, file: Option<&Path>, out: &mut dyn Write) -> Result<(), CalibrateError> {
    let md = report.to_markdown();
    if let Some(path) = file {
        crate::files::write_atomic(path, md.as_bytes())?;
    }
    out.write_all(md.as_bytes()).map_err(CalibrateError::Output)
}

/// The profile as YAML, headed by the command that regenerates it.
fn profile_yaml(
    profile: &SystemSpec,
    args: &CalibrateArgs,
    out_path: &Path,
) -> Result<String, CalibrateError> {
    let yaml = serde_yaml::to_string(profile).map_err(|e| crate::files::WriteError {
        path: out_path.to_owned(),
        source: std::io::Error::other(e),
    })?;
    // Absent optional figures (a local tier's latencies) read back as absent either way; the
    // profile is easier to read without them.
    let body: String = yaml
        .lines()
        .filter(|l| !l.trim_end().ends_with(": null"))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut cmd = vec!["tiersim calibrate".to_owned()];
    cmd.extend(args.files.iter().map(|f| f.display().to_string()));
    cmd.push(format!("--model {}", args.model.join(",")));
    if let Some(s) = &args.system {
        cmd.push(format!("--system {s}"));
    }
    if let Some(t) = args.threads {
        cmd.push(format!("--threads {t}"));
    }
    for s in &args.set {
        cmd.push(format!("--set '{s}'"));
    }
    for e in &args.exclude {
        cmd.push(format!("--exclude {e}"));
    }
    if !args.fix.is_empty() {
        cmd.push(format!("--fix {}", args.fix.join(",")));
    }
    if let Some(n) = &args.name {
        cmd.push(format!("--name {n}"));
    }
    cmd.push(format!("--out {}", out_path.display()));
    Ok(format!(
        "# A system profile fitted by tiersim {}; regenerate with:\n#   {}\n{body}",
        env!("CARGO_PKG_VERSION"),
        cmd.join(" ")
    ))
}

/// The fit's stages as a bar on stderr, as `sweep` shows its points.
struct ProgressBar(indicatif::ProgressBar);

impl ProgressBar {
    /// A bar when `wanted` and stderr is a terminal; a pipe or a log gets nothing.
    fn on_terminal(wanted: bool) -> Option<Self> {
        use std::io::IsTerminal;
        if !wanted || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = indicatif::ProgressBar::new(1);
        bar.set_message("checking the points");
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} calibrate: {msg} {pos}/{len} [{elapsed_precise}] {wide_bar}",
            )
            .expect("a valid template"),
        );
        // A stage of one long step (the per-kernel fit) would otherwise look stalled.
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Some(Self(bar))
    }
}

impl Progress for ProgressBar {
    fn stage(&self, name: &'static str, steps: usize) {
        self.0.set_message(name);
        self.0.set_length(steps as u64);
        self.0.set_position(0);
    }

    fn step(&self) {
        self.0.inc(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/llama-bench/runs")
            .join(name)
    }

    #[test]
    fn validate_reports_every_point_with_its_error() {
        let args = ValidateArgs {
            files: vec![data("smollm2-135m-q4_1__pg128-64__t2.json")],
            system: "laptop-ryzen3-5300u".into(),
            model: vec!["smollm2-135m-instruct-q4_1".into()],
            threads: None,
            set: Vec::new(),
            exclude: Vec::new(),
            report: None,
        };
        let mut out = Vec::new();
        run_validate(&args, &mut out).unwrap();
        let md = String::from_utf8(out).unwrap();
        assert!(md.contains("| pg | 1 |"), "{md}");
        assert!(md.contains("pp128+tg64"), "{md}");
        assert!(md.contains("threads 2"), "{md}");
    }

    #[test]
    fn calibrate_writes_a_profile_that_loads_and_reproduces_the_report() {
        let dir = std::env::temp_dir().join(format!("tiersim-cal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out_path = dir.join("profile.yaml");
        let args = CalibrateArgs {
            files: vec![data("smollm2-135m-q4_1__pg128-64__t2.json")],
            model: vec!["smollm2-135m-instruct-q4_1".into()],
            out: Some(out_path.clone()),
            plan: false,
            system: Some("laptop-ryzen3-5300u".into()),
            threads: Some(2),
            set: Vec::new(),
            exclude: Vec::new(),
            // One point and one figure: a quick fit in a debug build.
            fix: Param::ALL
                .iter()
                .filter(|p| **p != Param::PrefillEfficiency)
                .map(|p| p.name().to_owned())
                .collect(),
            loo: "off".into(),
            name: Some("zen4-test".into()),
            report: None,
            no_progress: true,
        };
        let mut out = Vec::new();
        run_calibrate(&args, &mut out).unwrap();
        let md = String::from_utf8(out).unwrap();
        let yaml = std::fs::read_to_string(&out_path).unwrap();
        assert!(
            yaml.starts_with("# A system profile fitted by tiersim"),
            "{yaml}"
        );
        let loaded = load::system(Some(out_path.to_str().unwrap()), &[]).unwrap();
        assert_eq!(loaded.spec.name, "zen4-test");
        let ev = &loaded.spec.evidence["compute.prefill_efficiency"];
        assert!(
            ev.starts_with("fitted by tiersim calibrate on ") && ev.contains("1 points, threads 2"),
            "{ev}"
        );
        assert!(
            loaded
                .spec
                .evidence
                .contains_key("compute.run_to_run_jitter")
        );
        // A pg point fitted by one figure is matched closely; validate then agrees with the fit.
        assert!(md.contains("| pg | 1 |"), "{md}");
        let mut vout = Vec::new();
        run_validate(
            &ValidateArgs {
                files: args.files.clone(),
                system: out_path.to_str().unwrap().to_owned(),
                model: args.model.clone(),
                threads: None,
                set: Vec::new(),
                exclude: Vec::new(),
                report: None,
            },
            &mut vout,
        )
        .unwrap();
        let v = String::from_utf8(vout).unwrap();
        let row = |s: &str| {
            s.lines()
                .find(|l| l.starts_with("| 1 |"))
                .map(|l| l.split('|').take(8).collect::<Vec<_>>().join("|"))
        };
        assert_eq!(row(&md), row(&v));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_input_is_an_input_error() {
        let base = CalibrateArgs {
            files: vec![data("smollm2-135m-q4_1__pg128-64__t2.json")],
            model: vec!["qwen2.5-3b-instruct-q4_k_m".into()],
            out: Some(std::env::temp_dir().join("never-written.yaml")),
            plan: false,
            system: Some("laptop-ryzen3-5300u".into()),
            threads: None,
            set: Vec::new(),
            exclude: Vec::new(),
            fix: Vec::new(),
            loo: "off".into(),
            name: None,
            report: None,
            no_progress: true,
        };
        let e = run_calibrate(&base, &mut Vec::new()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("another model"), "{e}");
        let e = run_calibrate(
            &CalibrateArgs {
                loo: "sometimes".into(),
                ..base.clone()
            },
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("--loo:"), "{e}");
        let e = run_calibrate(
            &CalibrateArgs {
                fix: vec!["speed".into()],
                ..base.clone()
            },
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("--fix:"), "{e}");
        let e = run_calibrate(
            &CalibrateArgs {
                files: vec![data("no-such-file.json")],
                ..base
            },
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
