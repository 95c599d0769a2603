//! Test harness for the workspace integration tests.
