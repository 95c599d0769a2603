//! cargo-fuzz entry point; the logic is [`raft_fuzz::client_request`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    raft_fuzz::client_request(data);
});
