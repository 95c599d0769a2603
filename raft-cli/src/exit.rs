//! Exit codes and the error type that carries one.
//!
//! Scripts branch on the exit code, so it is part of the interface:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a negative answer (key not found, CAS mismatch) or a failed check (the demo lost a write) |
//! | 2 | usage error or invalid input (clap's own code for bad flags), or a TLS refusal (certificate missing, expired or of another CA; TLS files that do not load): nothing was applied |
//! | 3 | cluster unavailable or timed out, or a malformed reply to a write: the outcome is unknown |
//! | 4 | `node` refused to start on an empty data directory of an existing cluster (a wiped node must rejoin: the message says what to run) |

use std::fmt;
use std::process::ExitCode;

/// The documented process exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The command did what was asked.
    Success = 0,
    /// A definite negative answer, or a check that failed.
    Negative = 1,
    /// Bad flags or invalid input, or a TLS refusal (fix the certificates).
    Usage = 2,
    /// No answer from the cluster in time; the outcome is unknown.
    Unavailable = 3,
    /// A node refused to start: its data directory is empty but the
    /// cluster exists (it must rejoin as a learner, see the message).
    RejoinRequired = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// An error that knows which exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// The code the process exits with.
    pub code: Exit,
    /// What happened (and, ideally, what to do about it).
    pub error: anyhow::Error,
    /// Already reported to the user (e.g. a JSON error object was printed).
    pub reported: bool,
}

impl CliError {
    /// A definite negative answer (exit 1).
    pub fn negative(error: impl Into<anyhow::Error>) -> Self {
        Self::new(Exit::Negative, error.into())
    }

    /// Invalid input (exit 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self::new(Exit::Usage, error.into())
    }

    /// A node refused to bootstrap an empty data directory (exit 4).
    pub fn rejoin_required(error: impl Into<anyhow::Error>) -> Self {
        Self::new(Exit::RejoinRequired, error.into())
    }

    /// The cluster did not answer (exit 3).
    pub fn unavailable(error: impl Into<anyhow::Error>) -> Self {
        Self::new(Exit::Unavailable, error.into())
    }

    fn new(code: Exit, error: anyhow::Error) -> Self {
        CliError { code, error, reported: false }
    }

    /// Marks the error as already shown to the user in the chosen output format.
    pub fn mark_reported(mut self) -> Self {
        self.reported = true;
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

/// Any plain error without a code is a failure of the command itself (exit 1).
impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        Self::new(Exit::Negative, error)
    }
}

/// The result type of every command.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Prints the error (unless already printed) and converts to the process exit code.
pub fn finish(result: CliResult) -> ExitCode {
    match result {
        Ok(()) => Exit::Success.into(),
        Err(e) => {
            if !e.reported {
                eprintln!("error: {e}");
            }
            e.code.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_documented_table() {
        assert_eq!(Exit::Success as u8, 0);
        assert_eq!(Exit::Negative as u8, 1);
        assert_eq!(Exit::Usage as u8, 2);
        assert_eq!(Exit::Unavailable as u8, 3);
        assert_eq!(Exit::RejoinRequired as u8, 4);
    }

    #[test]
    fn plain_errors_are_failures_not_unavailability() {
        let e: CliError = anyhow::anyhow!("boom").into();
        assert_eq!(e.code, Exit::Negative);
        assert!(!e.reported);
    }

    #[test]
    fn display_includes_the_context_chain() {
        let inner = anyhow::anyhow!("connection refused").context("no leader among 127.0.0.1:1");
        let e = CliError::unavailable(inner);
        assert_eq!(e.to_string(), "no leader among 127.0.0.1:1: connection refused");
    }
}
