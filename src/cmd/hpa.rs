//! `twin hpa eval` and `twin hpa replay`.

use crate::exit::Failure;

#[derive(clap::Subcommand)]
pub enum Command {}

pub fn run(c: Command) -> Result<u8, Failure> {
    match c {}
}
