//! The replicated KV store shipped with the project: [`KvStore`] and its
//! request, response, query, limit and session types.

mod limits;
mod query;
mod request;
mod response;
mod session;
mod snapshot;
mod store;

pub use limits::KvLimits;
pub use query::{KvQuery, KvQueryResult, ScanRange};
pub use request::{KvCodecError, KvOp, KvRequest};
pub use response::{KvError, KvResponse};
pub use session::SessionConfig;
pub use snapshot::{MAX_FRAME_BYTES, SNAPSHOT_MAGIC, SNAPSHOT_VERSION};
pub use store::{KvConfig, KvStore};
