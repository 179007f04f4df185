//! `summary.json` and `timeline.json`: the run's two values as serde gives them (pretty JSON,
//! field names from `models`, which are the contract), and reading them back.

use crate::error::ReportError;
use crate::folder::write_file;
use models::summary::RunSummary;
use models::timeline::Timeline;
use std::fs;
use std::path::Path;

/// `summary.json` text: pretty JSON exactly as serde gives it, with a final newline.
pub fn summary_json(summary: &RunSummary) -> String {
    let mut text = serde_json::to_string_pretty(summary)
        .unwrap_or_else(|e| unreachable!("a RunSummary always serializes: {e}"));
    text.push('\n');
    text
}

/// `timeline.json` text.
pub fn timeline_json(timeline: &Timeline) -> String {
    let mut text = serde_json::to_string_pretty(timeline)
        .unwrap_or_else(|e| unreachable!("a Timeline always serializes: {e}"));
    text.push('\n');
    text
}

pub(crate) fn write_summary(path: &Path, summary: &RunSummary) -> Result<(), ReportError> {
    write_file(path, &summary_json(summary))
}

pub(crate) fn write_timeline(path: &Path, timeline: &Timeline) -> Result<(), ReportError> {
    write_file(path, &timeline_json(timeline))
}

/// Reads a `summary.json`; the error names the file.
pub fn read_summary(path: &Path) -> Result<RunSummary, ReportError> {
    let text = read(path)?;
    serde_json::from_str(&text).map_err(|source| ReportError::Parse {
        path: path.to_path_buf(),
        what: "run summary",
        source,
    })
}

/// Reads a `timeline.json`; the error names the file.
pub fn read_timeline(path: &Path) -> Result<Timeline, ReportError> {
    let text = read(path)?;
    serde_json::from_str(&text).map_err(|source| ReportError::Parse {
        path: path.to_path_buf(),
        what: "timeline",
        source,
    })
}

fn read(path: &Path) -> Result<String, ReportError> {
    fs::read_to_string(path).map_err(|source| ReportError::Read {
        path: path.to_path_buf(),
        source,
    })
}
