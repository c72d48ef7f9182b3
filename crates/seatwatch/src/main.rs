//! `seatwatch`: the command line. Thin glue: every subcommand parses its arguments and
//! calls into the library crates.

mod backup;
mod cli;
mod demo;
mod export;
mod report;
mod serve;
mod simulate;
mod token;
mod verify;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Serve(a) => serve::run(a),
        cli::Command::Demo(a) => demo::run(a),
        cli::Command::Simulate(a) => simulate::run(a),
        cli::Command::Replay(a) => report::replay(a),
        cli::Command::Verify(a) => verify::run(a),
        cli::Command::Backup(a) => backup::run(a),
        cli::Command::Export(a) => export::run(a),
        cli::Command::Token(a) => token::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}

/// Install the `tracing` subscriber: human-readable lines on stderr, `RUST_LOG` filters.
pub(crate) fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}
