//! Why a policy could not be loaded: [`PolicyError`], naming the file and, where known, the
//! line and column.

use std::path::PathBuf;

use super::load::MAX_POLICY_BYTES;

/// Why a policy could not be loaded. Every variant names the file (`origin`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy file {}", path.display())]
    Read {
        /// The path that was read.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_POLICY_BYTES`].
    #[error("policy file {origin} is {size} bytes, more than the limit of {MAX_POLICY_BYTES}")]
    TooLarge {
        /// File name or `<inline>`.
        origin: String,
        /// Its size in bytes (for a file that cannot tell its length, more than the limit).
        size: usize,
    },
    /// A field the format does not have (typo or wrong level).
    #[error("{origin}{}: unknown field `{field}`{}", fmt_location(*.location), fmt_suggestion(.suggestion.as_deref(), .expected))]
    UnknownField {
        /// File name or `<inline>`.
        origin: String,
        /// The unknown field.
        field: String,
        /// The closest known field, if one is close.
        suggestion: Option<String>,
        /// The fields allowed at that place.
        expected: Vec<String>,
        /// 1-based line and column, when known.
        location: Option<(u64, u64)>,
    },
    /// A value that is not one of the allowed words (e.g. `mode: enforced`).
    #[error("{origin}{}: unknown value `{value}`{}", fmt_location(*.location), fmt_suggestion(.suggestion.as_deref(), .expected))]
    UnknownValue {
        /// File name or `<inline>`.
        origin: String,
        /// The unknown value.
        value: String,
        /// The closest allowed value, if one is close.
        suggestion: Option<String>,
        /// The allowed values.
        expected: Vec<String>,
        /// 1-based line and column, when known.
        location: Option<(u64, u64)>,
    },
    /// YAML syntax or shape error (missing field, wrong type, duplicate key).
    #[error("{origin}{}: {message}", fmt_location(*.location))]
    Syntax {
        /// File name or `<inline>`.
        origin: String,
        /// The parser's message.
        message: String,
        /// 1-based line and column, when known.
        location: Option<(u64, u64)>,
    },
    /// The file parsed but a value is invalid (bad reference, regex, glob, threshold, ...).
    #[error("{origin}{}: {field}: {message}", fmt_location(*.location))]
    Invalid {
        /// File name or `<inline>`.
        origin: String,
        /// Dotted path to the field, e.g. `spec.rules[0].signatures`.
        field: String,
        /// What is wrong.
        message: String,
        /// 1-based line and column of the field (or its nearest ancestor), when known.
        location: Option<(u64, u64)>,
    },
}

fn fmt_location(location: Option<(u64, u64)>) -> String {
    match location {
        Some((line, column)) => format!(":{line}:{column}"),
        None => String::new(),
    }
}

fn fmt_suggestion(suggestion: Option<&str>, expected: &[String]) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None if !expected.is_empty() => format!(" (expected one of: {})", expected.join(", ")),
        None => String::new(),
    }
}
