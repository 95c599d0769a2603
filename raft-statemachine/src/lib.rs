//! raft-statemachine: filled in by its issue.
