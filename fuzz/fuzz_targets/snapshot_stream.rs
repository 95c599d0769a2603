//! cargo-fuzz entry point; the logic is [`raft_fuzz::snapshot_stream`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    raft_fuzz::snapshot_stream(data);
});
