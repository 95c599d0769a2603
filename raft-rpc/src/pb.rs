//! The code `tonic-prost-build` generates from `proto/raft.proto`, plus the
//! encoded file descriptor set served by reflection. Nothing outside this
//! crate's conversion layer should need these types.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

tonic::include_proto!("raft.v1");

/// The encoded `FileDescriptorSet` of `raft.v1`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/raft_descriptor.bin"));
