//! raft-rpc: filled in by its issue.
