//! raft-cluster: filled in by its issue.
