//! Exit statuses of SPEC.md and the error that carries one.

use std::fmt;

/// Every SLO met.
pub const OK: u8 = 0;
/// The run finished and an SLO was missed.
pub const SLO_MISSED: u8 = 1;
/// Bad input or usage; nothing half-written is left behind.
pub const USAGE: u8 = 2;
/// The run itself failed (target unreachable, fault hook failed).
pub const RUN_FAILED: u8 = 3;

/// A failure with the exit status it maps to; its message is printed as is.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: USAGE,
            message: message.into(),
        }
    }
    pub fn run(message: impl Into<String>) -> Failure {
        Failure {
            code: RUN_FAILED,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The status of a finished run from its SLO verdicts.
pub fn from_verdicts(all_met: bool) -> u8 {
    if all_met {
        OK
    } else {
        SLO_MISSED
    }
}
