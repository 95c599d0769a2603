//! Log output for `raft-cli node`: human-readable lines by default,
//! JSON lines with `--log-format json`, filtered like `RUST_LOG`.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// `--log-format human|json`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per event (for log shippers and the demo's parsers).
    Json,
}

/// The filter: `RUST_LOG` if set and valid, else `info`.
pub fn filter() -> Result<EnvFilter, String> {
    match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => {
            EnvFilter::try_new(&spec).map_err(|e| format!("invalid RUST_LOG {spec:?}: {e}"))
        }
        _ => Ok(EnvFilter::new("info")),
    }
}

/// Installs the global subscriber, writing to stderr.
pub fn init(format: LogFormat) -> Result<(), String> {
    use std::io::IsTerminal;
    // Colours only on a terminal: the demo and the tests redirect node logs to files.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter()?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match format {
        LogFormat::Human => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|e| format!("cannot install the logger: {e}"))
}
