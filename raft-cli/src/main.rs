//! `raft-cli`: the command-line front end of the Raft KV project.
//!
//! One binary does everything a user needs: run a node (`node`), watch a
//! narrated cluster survive crashes (`demo`), talk to a running cluster
//! (`put`, `get`, `delete`, `cas`, `scan`, `status`, `transfer-leader`) and
//! load it (`bench`). Each command lives in its own module; this file only
//! parses arguments and turns the outcome into a process exit code
//! (see [`exit`] for the codes scripts can rely on).

mod bench;
mod cli;
mod client;
mod demo;
mod duration;
mod exit;
mod logging;
mod node;
mod output;
mod values;
mod web;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse_or_exit();
    exit::finish(cli.run())
}
