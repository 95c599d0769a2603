//! Compiles `proto/raft.proto` without a system `protoc`: `protox` (pure Rust)
//! parses it into a FileDescriptorSet, which feeds `tonic-prost-build` and is
//! also written to `$OUT_DIR/raft_descriptor.bin` for server reflection.

use std::path::PathBuf;

use protox::prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("..").join("proto");
    let proto_file = proto_dir.join("raft.proto");
    println!("cargo:rerun-if-changed={}", proto_file.display());

    let fds = protox::compile([&proto_file], [&proto_dir])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("raft_descriptor.bin"), fds.encode_to_vec())?;

    // Entry payloads decode as `bytes::Bytes`, the type raft-core's log
    // holds: a follower shares (does not copy) the received buffer from the
    // decoder to its log write and apply (issue #13).
    tonic_prost_build::configure()
        .bytes(".raft.v1.Entry.normal")
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;

    // etcd's KV API subset, for `raft-cli bench --target etcd` (the server
    // side is generated for the client's tests only).
    let etcd_file = proto_dir.join("etcd").join("kv.proto");
    println!("cargo:rerun-if-changed={}", etcd_file.display());
    let etcd = protox::compile([&etcd_file], [&proto_dir])?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(etcd)?;
    Ok(())
}
