//! A linearizability checker for KV histories (Wing & Gong 1993; Lowe 2017;
//! the Porcupine implementation).
//!
//! Why our own: the Jepsen-style tests record thousands of concurrent client
//! operations against a cluster under faults, and "every acknowledged write is
//! visible, no read goes back in time" is exactly linearizability of the KV map.
//! Checking is exponential in general, so it uses the two tricks that make it
//! practical: P-compositionality (each key is an independent register, checked
//! alone) and a DFS that memoizes (linearized set, state) pairs. The search is
//! bounded; running out of budget is reported as *unknown*, never as a pass.
//!
//! ```
//! use raft_tests::linearizability::{check, History, Op, Operation, Output};
//! let put = Op::Put { key: "k".into(), value: "1".into() };
//! let get = Op::Get { key: "k".into() };
//! let h = History::new(vec![
//!     Operation::completed(1, put, 0, 10, Output::Ok),
//!     Operation::completed(2, get, 20, 30, Output::Value(None)), // stale read
//! ]);
//! let report = check(&h).unwrap();
//! assert!(!report.is_linearizable());
//! println!("{report}");
//! ```

mod checker;
pub mod generate;
mod history;
mod key_history;
mod model;
pub mod reference;
mod report;
mod search;

pub use checker::{check, Checker, DEFAULT_MAX_STEPS_PER_KEY};
pub use history::{History, HistoryError, Operation};
pub use model::{Op, Output};
pub use report::{CheckReport, KeyReport, KeyVerdict, Verdict, Violation};
