//! cargo-fuzz entry point; the logic is [`raft_fuzz::kv_snapshot`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    raft_fuzz::kv_snapshot(data);
});
