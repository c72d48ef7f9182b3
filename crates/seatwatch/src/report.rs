//! `seatwatch replay`: rebuild the projections from the log alone and print a report.

use crate::cli::ReplayArgs;
use anyhow::Result;
use std::process::ExitCode;

pub fn replay(_a: ReplayArgs) -> Result<ExitCode> {
    anyhow::bail!("replay: being written")
}
