//! cargo-fuzz entry point; the logic is [`raft_fuzz::peer_message`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    raft_fuzz::peer_message(data);
});
