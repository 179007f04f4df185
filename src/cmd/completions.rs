//! `twin completions SHELL`: the shell completion script (clap_complete) on stdout, e.g.
//! `twin completions bash > /etc/bash_completion.d/twin`.

use crate::exit::{self, Failure};

#[derive(clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

pub fn run(a: Args, mut command: clap::Command) -> Result<u8, Failure> {
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut command, "twin", &mut out);
    use std::io::Write;
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| Failure::run(format!("cannot write the completion script: {e}")))?;
    Ok(exit::OK)
}
