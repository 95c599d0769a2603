//! raft-storage: filled in by its issue.
