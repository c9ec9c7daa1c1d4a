//! `tiersim latency`: latency distributions from measurements, printed as the YAML a tier's
//! `read_latency` or `write_latency` takes.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::error::Error;
use crate::tier::fio::{FioError, FioLatency, FioOp};

/// `tiersim latency` subcommands.
#[derive(Debug, Subcommand)]
pub enum LatencyCommand {
    /// Print the empirical latency distribution (YAML) of one job in fio's
    /// `--output-format=json` results: fio's percentiles, with its min and max as anchors.
    FromFio(FromFioArgs),
}

/// `tiersim latency from-fio` arguments.
#[derive(Debug, Args)]
pub struct FromFioArgs {
    /// fio's JSON results (`fio --output-format=json --output=FILE.json ...`).
    #[arg(value_name = "FILE.json")]
    pub file: PathBuf,
    /// The job to read, by its name; needed when the results hold several jobs.
    #[arg(long = "job", value_name = "NAME")]
    pub job: Option<String>,
    /// Which direction's latencies to read.
    #[arg(long = "op", value_enum, default_value_t = OpArg::Read)]
    pub op: OpArg,
}

/// The `--op` values; kept apart from [`FioOp`] so that the tier module needs no clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OpArg {
    /// The job's reads.
    Read,
    /// The job's writes.
    Write,
}

impl From<OpArg> for FioOp {
    fn from(op: OpArg) -> Self {
        match op {
            OpArg::Read => Self::Read,
            OpArg::Write => Self::Write,
        }
    }
}

/// Runs a `tiersim latency` subcommand, writing its YAML to `out`.
pub fn run(command: &LatencyCommand, out: &mut dyn Write) -> Result<(), Error> {
    match command {
        LatencyCommand::FromFio(args) => run_from_fio(args, out),
    }
}

/// Prints the distribution of one job and direction of a fio results file.
///
/// # Errors
///
/// A usage error (exit status 2) when the file cannot be read or does not hold the job's
/// percentiles; [`Error::Output`] when writing fails.
pub fn run_from_fio(args: &FromFioArgs, out: &mut dyn Write) -> Result<(), Error> {
    let latency = FioLatency::from_file(&args.file, args.job.as_deref(), args.op.into())
        .map_err(|e| usage_error(&args.file, e))?;
    out.write_all(latency.to_yaml().as_bytes())
        .map_err(Error::Output)
}

/// Read and JSON errors already name the file; the others are prefixed with it.
fn usage_error(file: &std::path::Path, e: FioError) -> Error {
    match e {
        FioError::Io { .. } | FioError::Json { .. } => {
            Error::usage("latency from-fio", e.to_string())
        }
        _ => Error::usage(&file.display().to_string(), e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: LatencyCommand,
    }

    fn data(name: &str) -> String {
        format!("{}/tests/data/fio/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn run_args(args: &[&str]) -> Result<String, Error> {
        let cli = Cli::try_parse_from(std::iter::once("latency").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let mut out = Vec::new();
        run(&cli.command, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn prints_yaml_that_reads_back() {
        let yaml = run_args(&["from-fio", &data("randread-psync-qd1.json")]).unwrap();
        let d: crate::tier::latency::LatencyDist = serde_yaml::from_str(&yaml).unwrap();
        // `46.848us` parses as 46.848e-6, a bit away from the reader's 46848e-9.
        let p50 = d.quantile(0.5).0;
        assert!((p50 - 46848e-9).abs() < 1e-18, "{p50}");
    }

    #[test]
    fn job_and_op_flags() {
        let yaml = run_args(&[
            "from-fio",
            &data("two-jobs.json"),
            "--job",
            "seqread",
            "--op",
            "read",
        ])
        .unwrap();
        assert!(yaml.contains("job `seqread`"), "{yaml}");
        let yaml =
            run_args(&["from-fio", &data("randrw-libaio-qd4.json"), "--op", "write"]).unwrap();
        assert!(yaml.contains("write latency"), "{yaml}");
        assert!(
            Cli::try_parse_from(["latency", "from-fio", "f.json", "--op", "trim"]).is_err(),
            "clap refuses other directions"
        );
    }

    #[test]
    fn errors_are_usage_errors_naming_the_file() {
        let file = data("randwrite-psync-qd1.json");
        let e = run_args(&["from-fio", &file]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            format!("{file}: job `randwrite` has no read percentiles: it did no reads")
        );
        let e = run_args(&["from-fio", &data("missing.json")]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .starts_with("latency from-fio: cannot read fio results `"),
            "{e}"
        );
    }
}
