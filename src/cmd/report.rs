//! `twin report DIR`: renders the HTML report of a finished run again, from the
//! `summary.json` and `timeline.json` in its folder.

use crate::exit::{self, Failure};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A run's output folder (holding summary.json).
    pub dir: PathBuf,
}

/// Exit status 0 once the report is rewritten (whatever the run's verdicts were: this command
/// renders, it does not judge); 2 when the folder's summary.json is missing or unreadable, or
/// timeline.json is invalid; 3 when writing fails.
pub fn run(a: Args) -> Result<u8, Failure> {
    match reports::render_again(&a.dir) {
        Ok(written) => {
            println!("{}", written.report.display());
            Ok(exit::OK)
        }
        Err(e) if e.is_bad_input() => Err(Failure::usage(e.to_string())),
        Err(e) => Err(Failure::run(e.to_string())),
    }
}
