//! The `tiersim` binary: parses the command line, runs the command, maps errors to exit codes
//! (2: bad input, 1: internal failure).

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use tiersim::cli::{self, Cli};

fn main() -> ExitCode {
    let args = cli::normalize_args(std::env::args_os());
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // clap prints usage errors with exit status 2, help and version with 0.
        Err(e) => e.exit(),
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = cli::run(cli, &mut out);
    let flushed = out.flush();
    match (result, flushed) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(e), _) => {
            eprintln!("tiersim: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
        (Ok(()), Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        (Ok(()), Err(e)) => {
            eprintln!("tiersim: cannot write results: {e}");
            ExitCode::from(1)
        }
    }
}
