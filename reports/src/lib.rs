//! Rendering of a run's output folder. Whoever produced a run (the simulator's prediction, the
//! harness's load test or drill) hands its [`RunSummary`] and [`Timeline`] to [`write_run`],
//! which writes, into one folder that can be opened anywhere:
//!
//! | file | what | module |
//! | --- | --- | --- |
//! | `summary.json` | the run summary, exactly as serde gives it (SPEC.md "Outputs") | [`json`] |
//! | `timeline.json` | the timeline, so the report can be rendered again | [`json`] |
//! | `timeseries.csv` | one row per window per journey | [`csv`] |
//! | `series.csv` | the named series (replicas, queue lengths, Kafka lag ...) | [`csv`] |
//! | `report.html` | self-contained report (inline CSS, no script), charts linked relatively | [`html`] |
//! | `charts/*.svg` | plotters charts | [`charts`] |
//! | `junit.xml` | one test case per SLO, for CI (load and drill runs only) | [`junit`] |
//!
//! The folder is built beside its final place and renamed into it at the end ([`folder`]), so a
//! failure never leaves a half-written folder. [`render_again`] re-reads `summary.json` and
//! `timeline.json` and rewrites `report.html` and the charts (`twin report DIR`).
//!
//! Architecture invariant: only this crate knows HTML, SVG, CSV and JUnit XML; it reads nothing
//! but its own inputs and the folder it writes, and knows nothing of who produced a run.

pub mod charts;
mod components;
pub mod csv;
mod error;
mod folder;
pub mod frontier;
pub mod html;
pub mod json;
pub mod junit;
mod numbers;
pub mod trend;

pub use error::ReportError;
pub use junit::junit_xml;

use models::summary::{RunKind, RunSummary};
use models::timeline::Timeline;
use std::path::{Path, PathBuf};

/// File names inside a run's folder.
pub const SUMMARY_FILE: &str = "summary.json";
pub const TIMELINE_FILE: &str = "timeline.json";
pub const TIMESERIES_FILE: &str = "timeseries.csv";
pub const SERIES_FILE: &str = "series.csv";
pub const REPORT_FILE: &str = "report.html";
pub const JUNIT_FILE: &str = "junit.xml";
pub const CHARTS_DIR: &str = "charts";

/// What a call wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The run's folder.
    pub dir: PathBuf,
    /// `dir/report.html`.
    pub report: PathBuf,
    /// Every file written, relative to `dir` (`summary.json`, `charts/latency-1-call.svg` ...).
    pub files: Vec<PathBuf>,
}

/// Writes a run's whole output folder `dir` (see the crate documentation for its files),
/// replacing the folder of a previous run if there is one. The folder is built in a hidden
/// sibling and renamed into place at the end: on error, `dir` is as it was before the call.
///
/// An existing `dir` is replaced only if it is empty or holds a `summary.json` (a previous run):
/// any other folder is refused rather than deleted.
pub fn write_run(
    dir: &Path,
    summary: &RunSummary,
    timeline: &Timeline,
) -> Result<Written, ReportError> {
    let staging = folder::StagedFolder::begin(dir)?;
    let root = staging.path();
    let mut files = Vec::new();
    json::write_summary(&root.join(SUMMARY_FILE), summary)?;
    files.push(PathBuf::from(SUMMARY_FILE));
    json::write_timeline(&root.join(TIMELINE_FILE), timeline)?;
    files.push(PathBuf::from(TIMELINE_FILE));
    folder::write_file(&root.join(TIMESERIES_FILE), &csv::timeseries_csv(timeline))?;
    files.push(PathBuf::from(TIMESERIES_FILE));
    folder::write_file(&root.join(SERIES_FILE), &csv::series_csv(timeline))?;
    files.push(PathBuf::from(SERIES_FILE));
    if wants_junit(summary.kind) {
        folder::write_file(&root.join(JUNIT_FILE), &junit_xml(summary))?;
        files.push(PathBuf::from(JUNIT_FILE));
    }
    files.extend(render_into(root, summary, timeline)?);
    staging.commit()?;
    Ok(Written {
        dir: dir.to_path_buf(),
        report: dir.join(REPORT_FILE),
        files,
    })
}

/// Renders `report.html` and `charts/` again from the `summary.json` and `timeline.json` in
/// `dir` (a folder [`write_run`] wrote). Other files are left alone. A folder without
/// `timeline.json` (a summary from elsewhere) gets a report without charts. A sweep's folder
/// (with `sweep.json`) gets its Sweep section and frontier chart again.
pub fn render_again(dir: &Path) -> Result<Written, ReportError> {
    let summary = json::read_summary(&dir.join(SUMMARY_FILE))?;
    let timeline_path = dir.join(TIMELINE_FILE);
    let timeline = if timeline_path.exists() {
        json::read_timeline(&timeline_path)?
    } else {
        Timeline::default()
    };
    let sweep_path = dir.join(frontier::SWEEP_JSON);
    let sweep = if sweep_path.exists() {
        Some(frontier::read_sweep(dir)?)
    } else {
        None
    };
    let staging = folder::StagedEntries::inside(dir)?;
    let files = match &sweep {
        Some(table) => frontier::render_into(staging.path(), &summary, &timeline, table)?,
        None => render_into(staging.path(), &summary, &timeline)?,
    };
    staging.replace_entries(&[Path::new(CHARTS_DIR), Path::new(REPORT_FILE)])?;
    Ok(Written {
        dir: dir.to_path_buf(),
        report: dir.join(REPORT_FILE),
        files,
    })
}

/// Load tests and drills are CI jobs: their SLO verdicts go to CI as JUnit XML.
fn wants_junit(kind: RunKind) -> bool {
    matches!(kind, RunKind::Load | RunKind::Drill)
}

/// Draws the charts into `root/charts/` and writes `root/report.html`; returns the files written,
/// relative to `root`.
fn render_into(
    root: &Path,
    summary: &RunSummary,
    timeline: &Timeline,
) -> Result<Vec<PathBuf>, ReportError> {
    let charts_dir = root.join(CHARTS_DIR);
    folder::create_dir(&charts_dir)?;
    let charts = charts::draw_all(&charts_dir, summary, timeline)?;
    let page = html::report_html(summary, timeline, &charts);
    folder::write_file(&root.join(REPORT_FILE), &page)?;
    let mut files: Vec<PathBuf> = charts
        .iter()
        .map(|c| Path::new(CHARTS_DIR).join(&c.file_name))
        .collect();
    files.push(PathBuf::from(REPORT_FILE));
    Ok(files)
}

#[cfg(test)]
mod test_data;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::small_run;
    use std::fs;

    #[test]
    fn writes_the_whole_folder_with_relative_chart_links() {
        let (summary, timeline) = small_run("checkout");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out/checkout-load");
        let written = write_run(&dir, &summary, &timeline).unwrap();
        for f in &written.files {
            assert!(dir.join(f).is_file(), "{} written", f.display());
        }
        for f in [
            SUMMARY_FILE,
            TIMELINE_FILE,
            TIMESERIES_FILE,
            SERIES_FILE,
            REPORT_FILE,
            JUNIT_FILE,
        ] {
            assert!(written.files.contains(&PathBuf::from(f)), "{f} listed");
        }
        let summary_text = fs::read_to_string(dir.join(SUMMARY_FILE)).unwrap();
        assert_eq!(
            summary_text,
            serde_json::to_string_pretty(&summary).unwrap() + "\n"
        );
        let page = fs::read_to_string(&written.report).unwrap();
        let charts: Vec<_> = written
            .files
            .iter()
            .filter(|f| f.starts_with(CHARTS_DIR))
            .collect();
        assert_eq!(charts.len(), 7);
        for chart in charts {
            let link = format!("src=\"{}\"", chart.display());
            assert!(page.contains(&link), "report links {link}");
        }
        let names: Vec<_> = fs::read_dir(dir.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no staging folder left: {names:?}");
    }

    #[test]
    fn junit_only_for_load_and_drill() {
        let (mut summary, timeline) = small_run("checkout");
        summary.kind = RunKind::Simulation;
        let tmp = tempfile::tempdir().unwrap();
        let written = write_run(&tmp.path().join("run"), &summary, &timeline).unwrap();
        assert!(!written.files.contains(&PathBuf::from(JUNIT_FILE)));
        assert!(!tmp.path().join("run").join(JUNIT_FILE).exists());
    }

    #[test]
    fn a_failed_write_leaves_no_folder() {
        let (summary, timeline) = small_run("checkout");
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a-file");
        fs::write(&file, "not a folder").unwrap();
        let err = write_run(&file.join("run"), &summary, &timeline).unwrap_err();
        assert!(err.to_string().contains("a-file"), "{err}");
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a-file")]);
    }

    #[test]
    fn a_previous_run_is_replaced_whole() {
        let (summary, timeline) = small_run("checkout");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        write_run(&dir, &summary, &timeline).unwrap();
        fs::write(dir.join(CHARTS_DIR).join("stale.svg"), "<svg/>").unwrap();
        let (mut summary, _) = small_run("checkout");
        summary.kind = RunKind::Simulation;
        write_run(&dir, &summary, &Timeline::default()).unwrap();
        assert!(!dir.join(CHARTS_DIR).join("stale.svg").exists());
        assert!(!dir.join(JUNIT_FILE).exists());
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn renders_again_from_the_folder() {
        let (summary, timeline) = small_run("checkout");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        let first = write_run(&dir, &summary, &timeline).unwrap();
        let page = fs::read_to_string(&first.report).unwrap();
        fs::remove_file(&first.report).unwrap();
        fs::write(dir.join(CHARTS_DIR).join("stale.svg"), "<svg/>").unwrap();
        let again = render_again(&dir).unwrap();
        assert!(
            fs::read_to_string(&again.report).unwrap() == page,
            "same page again"
        );
        assert!(!dir.join(CHARTS_DIR).join("stale.svg").exists());
        let mut left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![
                "charts",
                "junit.xml",
                "report.html",
                "series.csv",
                "summary.json",
                "timeline.json",
                "timeseries.csv"
            ]
        );
    }

    #[test]
    fn render_again_names_a_missing_or_broken_summary() {
        let tmp = tempfile::tempdir().unwrap();
        let err = render_again(tmp.path()).unwrap_err();
        assert!(err.is_bad_input());
        assert!(err.to_string().contains("summary.json"), "{err}");
        fs::write(tmp.path().join(SUMMARY_FILE), "{\"kind\": 1}").unwrap();
        let err = render_again(tmp.path()).unwrap_err();
        assert!(matches!(err, ReportError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("summary.json"), "{err}");
    }
}
