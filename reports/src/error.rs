//! The one error type of the crate: what went wrong, always with the path it concerns.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An input file (`summary.json`, `timeline.json`) is missing or unreadable.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// An input file is not the JSON it should be.
    #[error("{} is not a valid {what}: {source}", path.display())]
    Parse {
        path: PathBuf,
        what: &'static str,
        source: serde_json::Error,
    },
    /// Writing the output failed (disk full, permissions, a file where a folder should be).
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// The output folder is there but must not be replaced (not a run's folder).
    #[error("{}: {reason}", path.display())]
    Refused { path: PathBuf, reason: String },
    /// plotters failed to draw a chart.
    #[error("cannot draw {}: {message}", path.display())]
    Chart { path: PathBuf, message: String },
}

impl ReportError {
    /// The file or folder the error concerns.
    pub fn path(&self) -> &Path {
        match self {
            ReportError::Read { path, .. }
            | ReportError::Parse { path, .. }
            | ReportError::Write { path, .. }
            | ReportError::Refused { path, .. }
            | ReportError::Chart { path, .. } => path,
        }
    }

    /// True when the caller's input is at fault (a missing or invalid file, a folder that must
    /// not be replaced) rather than the machine (exit status 2 rather than 3 for a command).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ReportError::Read { .. } | ReportError::Parse { .. } | ReportError::Refused { .. }
        )
    }

    pub(crate) fn write(path: &Path, source: io::Error) -> ReportError {
        ReportError::Write {
            path: path.to_path_buf(),
            source,
        }
    }
}
