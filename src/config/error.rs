//! Configuration errors: each reads as one sentence naming the origin, the field and what is
//! expected.

use std::path::PathBuf;

/// Why a model, system or override could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The text is not YAML, or does not match the schema.
    #[error("{origin}: {message}")]
    Parse {
        /// File path or `preset <name>`.
        origin: String,
        /// The parser's message, with the field path when known.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{origin}: `{field}` {message}")]
    Invalid {
        /// File path or `preset <name>`.
        origin: String,
        /// Dotted path of the field.
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A name is neither a file nor a preset.
    #[error("`{name}` is neither a file nor a {kind} preset; {kind} presets are: {known}")]
    UnknownPreset {
        /// `model` or `system`.
        kind: &'static str,
        /// What was asked for.
        name: String,
        /// The presets that exist.
        known: String,
    },
    /// A `--set` override could not be applied.
    #[error("--set {text}: {message}")]
    Override {
        /// The override as given.
        text: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// The configured run lasts longer than the simulation clock can count.
    #[error(transparent)]
    Clock(#[from] crate::units::ClockOverflow),
    /// Weights or KV cache do not fit in the tiers.
    #[error("{what} does not fit: tier `{tier}` holds {capacity} but needs {needed} ({over} over)")]
    Capacity {
        /// What overflowed (`weights`, `KV cache at 32768 tokens`).
        what: String,
        /// The tier.
        tier: String,
        /// Its usable capacity.
        capacity: String,
        /// What it would have to hold.
        needed: String,
        /// By how much it overflows.
        over: String,
    },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] for `field` of `origin`.
    pub fn invalid(origin: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            origin: origin.to_owned(),
            field: field.into(),
            message: message.into(),
        }
    }
}
