//! cargo-fuzz entry point; the logic is [`raft_fuzz::storage_codec`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    raft_fuzz::storage_codec(data);
});
