//! `keygate completions`: a shell completion script on standard output.

use clap::CommandFactory as _;

use crate::args::Cli;

pub fn run(shell: clap_complete::Shell) {
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "keygate",
        &mut std::io::stdout(),
    );
}
