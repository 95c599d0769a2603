//! A stand-in for `raft-cli node` used by the harness's own tests: it accepts
//! the same flags, listens on `--listen` and does nothing else. `--fail` makes it
//! exit at once with an error, like a node that cannot start.

use std::net::TcpListener;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let id = flag("--id").unwrap_or_default();
    if args.iter().any(|a| a == "--fail") {
        eprintln!("fake node {id}: boom (asked to fail)");
        std::process::exit(3);
    }
    let Some(listen) = flag("--listen") else {
        eprintln!("fake node: missing --listen");
        std::process::exit(2);
    };
    let listener = match TcpListener::bind(&listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("fake node {id}: cannot listen on {listen}: {e}");
            std::process::exit(1);
        }
    };
    println!("fake node {id} listening on {listen}; peers {:?}; data {:?}", flag("--peers"), flag("--data-dir"));
    for stream in listener.incoming() {
        drop(stream);
    }
}
