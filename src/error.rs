//! The crate's error type, and which failures are the user's input (exit status 2) and which are
//! internal or environmental (exit status 1).

use crate::config::error::ConfigError;

/// Any failure of a tiersim command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model, system or override is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A command-line value is wrong.
    #[error("{flag}: {message}")]
    Usage {
        /// The flag as written (`-ctk`).
        flag: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A request trace is unreadable or wrong.
    #[error(transparent)]
    Trace(#[from] crate::serving::trace::TraceError),
    /// A run lasts longer than the simulation clock can count.
    #[error(transparent)]
    Clock(#[from] crate::units::ClockOverflow),
    /// Reading an input file failed; the message names it.
    #[error(transparent)]
    Read(#[from] crate::files::ReadError),
    /// Writing a file failed; the message names it.
    #[error(transparent)]
    Write(#[from] crate::files::WriteError),
    /// Writing results to standard output failed.
    #[error("cannot write results: {0}")]
    Output(#[source] std::io::Error),
}

impl Error {
    /// The process exit status for this error: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Config(_)
            | Self::Usage { .. }
            | Self::Trace(_)
            | Self::Clock(_)
            | Self::Read(_) => 2,
            Self::Write(w) if w.is_users() => 2,
            Self::Write(_) | Self::Output(_) => 1,
        }
    }

    /// A usage error for `flag`.
    pub fn usage(flag: &str, message: impl Into<String>) -> Self {
        Self::Usage {
            flag: flag.to_owned(),
            message: message.into(),
        }
    }
}
