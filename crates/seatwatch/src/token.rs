//! `seatwatch token`: make a secret, print it once with its config lines.

use crate::cli::{RoleArg, TokenArgs};
use anyhow::{Result, bail};
use rand::RngCore;
use std::process::ExitCode;

pub fn run(a: TokenArgs) -> Result<ExitCode> {
    if a.name.is_empty() || a.name.len() > 64 || a.name.contains(['"', '\\', '\n']) {
        bail!("--name must be 1 to 64 bytes without quotes, backslashes or newlines (got {:?})", a.name);
    }
    if a.name == seatwatch_config::SERVER_SOURCE {
        bail!("--name {:?} is the server's own (the source of its tick records); choose another name", a.name);
    }
    if !seatwatch_config::valid_tenant(&a.tenant) {
        bail!("--tenant {:?} must be 1 to 64 characters of letters, digits, '-', '_' or '.'", a.tenant);
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("sw_{}", hex::encode(bytes));
    let role = match a.role {
        RoleArg::Producer => "producer",
        RoleArg::Reader => "reader",
        RoleArg::Admin => "admin",
    };
    println!("secret: {secret}");
    println!(
        "# Shown once: Seatwatch stores only its SHA-256. Give the secret to the client; add these lines to the config:"
    );
    println!();
    println!("[[token]]");
    println!("name = \"{}\"", a.name);
    println!("tenant = \"{}\"", a.tenant);
    println!("role = \"{role}\"");
    println!("sha256 = \"{}\"", seatwatch_config::hash_secret(&secret));
    Ok(ExitCode::SUCCESS)
}
