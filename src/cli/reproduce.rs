//! `tiersim reproduce [NAME]`: published HBF results beside tiersim's figures.

use std::io::Write;

use crate::error::Error;
use crate::published::{self, Scenario};

/// Runs one scenario (a name or a file) or every embedded one and prints their tables.
pub fn run(name: Option<&str>, out: &mut dyn Write) -> Result<(), Error> {
    let scenarios: Vec<(Scenario, String)> = match name {
        Some(n) => vec![published::find(n)?],
        None => published::SCENARIOS
            .iter()
            .map(|f| published::find(f.name))
            .collect::<Result<_, _>>()?,
    };
    let mut text = String::new();
    for (scenario, origin) in scenarios {
        text.push_str(&scenario.run(&origin)?.markdown());
        text.push('\n');
    }
    out.write_all(text.as_bytes()).map_err(Error::Output)
}
