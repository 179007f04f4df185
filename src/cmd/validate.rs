//! `twin validate SCENARIO...`: checks scenario files without running them.

use crate::exit::{self, Failure};
use crate::scenario_file;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario files to check.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
}

pub fn run(a: Args) -> Result<u8, Failure> {
    let mut failed = Vec::new();
    for path in &a.scenarios {
        match scenario_file::load(Some(path), &[]) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    eprintln!("{w}");
                }
                println!("{}: ok ({})", path.display(), loaded.scenario.name);
            }
            Err(e) => failed.push(e.message),
        }
    }
    if failed.is_empty() {
        Ok(exit::OK)
    } else {
        Err(Failure::usage(failed.join("\n")))
    }
}
