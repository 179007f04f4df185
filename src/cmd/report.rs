//! `twin report DIR`: renders the HTML report of a finished run again.

use crate::exit::Failure;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A run's output folder (holding summary.json).
    pub dir: PathBuf,
}

pub fn run(a: Args) -> Result<u8, Failure> {
    Err(Failure::usage(format!("{}: report rendering is not built yet", a.dir.display())))
}
