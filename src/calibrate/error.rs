//! Why a calibration or validation could not be done, and which failures are the user's input
//! (exit status 2) and which are internal or environmental (exit status 1).

use crate::calibrate::readers::ReadError;
use crate::config::error::ConfigError;
use crate::error::Error;

/// Any failure of `tiersim calibrate` or `tiersim validate`.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// A measured-results file could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The model, the base system or an override is wrong, or a test does not fit the system.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A command-line value is wrong.
    #[error("{flag}: {message}")]
    Usage {
        /// The flag as written (`--model`, `--exclude`).
        flag: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// The rows cannot be used as asked: several models mixed, no rows left after filtering,
    /// a KV type the simulator does not know.
    #[error("{0}")]
    Rows(String),
    /// Writing the profile or the report file failed; the message names it.
    #[error(transparent)]
    Write(#[from] crate::files::WriteError),
    /// Writing the report to standard output failed.
    #[error("cannot write the report: {0}")]
    Output(#[source] std::io::Error),
}

impl CalibrateError {
    /// The process exit status for this error: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Read(_) | Self::Config(_) | Self::Usage { .. } | Self::Rows(_) => 2,
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

/// Until the crate's [`Error`] has a variant of its own for calibration, input failures travel
/// as [`Error::Usage`] (status 2) with the whole message kept, so the user still reads one
/// sentence naming the file, line and what was expected.
impl From<CalibrateError> for Error {
    fn from(e: CalibrateError) -> Self {
        match e {
            CalibrateError::Config(c) => Error::Config(c),
            CalibrateError::Usage { flag, message } => Error::Usage { flag, message },
            CalibrateError::Read(r) => Error::Usage {
                flag: "FILES".to_owned(),
                message: r.to_string(),
            },
            CalibrateError::Rows(message) => Error::Usage {
                flag: "FILES".to_owned(),
                message,
            },
            CalibrateError::Write(w) => Error::Write(w),
            CalibrateError::Output(source) => Error::Output(source),
        }
    }
}
