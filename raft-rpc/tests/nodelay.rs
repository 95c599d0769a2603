//! Issue #17 point 7: the server sets TCP_NODELAY on the sockets it accepts.
//!
//! `serve_with_listener` hands tonic a listener it bound itself, which
//! bypasses tonic's own `tcp_nodelay` setting; before the fix every accepted
//! socket kept Nagle's algorithm on. The test reads the option on the
//! *server's* end of a live connection: it finds, among this process's file
//! descriptors, the socket whose local address is the server's and whose peer
//! is our client, and asks the kernel (getsockopt) for TCP_NODELAY.
#![cfg(target_os = "linux")]

mod common;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::RawFd;

use common::{start, Mode, CLUSTER, DEADLINE};
use raft_rpc::{AdminClient, ClientConfig};
use tokio::time::{sleep, timeout, Duration};

/// An IPv4 address of `fd` as `getsockname` (`peer: false`) or
/// `getpeername` (`peer: true`) reports it; `None` if `fd` is no IPv4 socket.
fn inet_addr(fd: RawFd, peer: bool) -> Option<SocketAddr> {
    // SAFETY: a zeroed sockaddr_in is a valid value; the kernel writes at most
    // `len` bytes into it and we only read it when the call succeeded.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let p = &mut sa as *mut libc::sockaddr_in as *mut libc::sockaddr;
    let rc = unsafe {
        if peer {
            libc::getpeername(fd, p, &mut len)
        } else {
            libc::getsockname(fd, p, &mut len)
        }
    };
    if rc != 0 || i32::from(sa.sin_family) != libc::AF_INET {
        return None;
    }
    let ip = Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr));
    Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sa.sin_port))))
}

fn nodelay(fd: RawFd) -> bool {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for the kernel to write.
    let rc = unsafe {
        libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, &mut v as *mut libc::c_int as *mut _, &mut len)
    };
    rc == 0 && v != 0
}

/// The TCP_NODELAY setting of every server-side socket connected to `server`
/// (local address `server`, peer anything but `server`).
fn server_side_nodelay(server: SocketAddr) -> Vec<bool> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return Vec::new() };
    let fds = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<RawFd>().ok());
    fds.filter(|fd| inet_addr(*fd, false) == Some(server) && inet_addr(*fd, true).is_some()).map(nodelay).collect()
}

#[tokio::test]
async fn accepted_server_sockets_have_tcp_nodelay_set() {
    let node = start(1, Mode::Leader).await;
    let admin = AdminClient::connect(&node.endpoint(), ClientConfig::new(CLUSTER)).await.unwrap();
    timeout(DEADLINE, admin.status()).await.expect("deadline").expect("status answered");
    // The call completed, so the server has accepted the connection; wait
    // for its socket to be visible (it is, at the latest, by now).
    let seen = timeout(DEADLINE, async {
        loop {
            let seen = server_side_nodelay(node.addr);
            if !seen.is_empty() {
                return seen;
            }
            sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the server's end of the connection is found among our fds");
    assert!(seen.iter().all(|on| *on), "TCP_NODELAY on every accepted socket: {seen:?}");
}
