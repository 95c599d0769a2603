//! Network namespaces for real (needs root, `ip` and `iptables`; otherwise each
//! test prints "skipped: <why>" and passes).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use common::{skipped, wait_until};
use raft_tests::netns::{cleanup_leftovers, NAME_BASE};
use raft_tests::{ClusterConfig, Netns, Network, ProcessCluster, RunDir};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);

/// Whether node `from` can open a TCP connection to `to`.
fn connects(net: &Netns, from: u64, to: SocketAddr) -> bool {
    net.run_in_node(from, move || TcpStream::connect_timeout(&to, CONNECT_TIMEOUT).is_ok()).unwrap()
}

fn listen(net: &Netns, id: u64, port: u16) -> (TcpListener, SocketAddr) {
    let addr = SocketAddr::new(net.node_addr(id).unwrap().into(), port);
    (net.run_in_node(id, move || TcpListener::bind(addr)).unwrap().unwrap(), addr)
}

fn udp(net: &Netns, id: u64, port: u16) -> (UdpSocket, SocketAddr) {
    let addr = SocketAddr::new(net.node_addr(id).unwrap().into(), port);
    let sock = net.run_in_node(id, move || UdpSocket::bind(addr)).unwrap().unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    (sock, addr)
}

/// Datagrams `to` receives out of `n` sent by `from`.
fn delivered(from: &UdpSocket, to: &UdpSocket, to_addr: SocketAddr, n: usize) -> usize {
    for i in 0..n {
        from.send_to(format!("{i}").as_bytes(), to_addr).unwrap();
    }
    let mut buf = [0u8; 64];
    let mut got = 0;
    while to.recv_from(&mut buf).is_ok() {
        got += 1;
    }
    got
}

fn namespace_names() -> String {
    String::from_utf8_lossy(&std::process::Command::new("ip").args(["netns", "list"]).output().unwrap().stdout)
        .into_owned()
}

#[test]
fn cut_blocks_a_link_and_heal_restores_it() {
    let net = Netns::create(&[1, 2, 3]);
    if skipped(&net) {
        return;
    }
    let mut net = net.unwrap();
    let (_listener, addr2) = listen(&net, 2, 9000);
    assert!(wait_until(Duration::from_secs(5), || connects(&net, 1, addr2)), "1 -> 2 never connected");
    assert!(connects(&net, 3, addr2));
    net.cut(1, 2).unwrap();
    assert!(!connects(&net, 1, addr2), "1 -> 2 still connects after the cut");
    assert!(connects(&net, 3, addr2), "the cut between 1 and 2 must not affect 3");
    assert!(net.rules_text(2).unwrap().contains("-s 10.77.0.1/32 -j DROP"));
    net.heal().unwrap();
    assert!(net.faults().is_empty());
    assert!(wait_until(Duration::from_secs(5), || connects(&net, 1, addr2)), "1 -> 2 not restored by heal");
}

#[test]
fn one_way_cut_drops_only_one_direction() {
    let net = Netns::create(&[1, 2]);
    if skipped(&net) {
        return;
    }
    let mut net = net.unwrap();
    let (s1, a1) = udp(&net, 1, 9001);
    let (s2, a2) = udp(&net, 2, 9001);
    assert!(wait_until(Duration::from_secs(5), || delivered(&s1, &s2, a2, 1) == 1));
    net.cut_one_way(1, 2).unwrap();
    assert_eq!(delivered(&s1, &s2, a2, 5), 0, "1 -> 2 should be dropped");
    assert_eq!(delivered(&s2, &s1, a1, 5), 5, "2 -> 1 should still work");
}

/// What one-way means for gRPC over TCP (see `raft_tests::netns::LinkFault::no_requests`):
/// with `block_requests(2, 1)`, node 1 can still open a TCP connection to node 2
/// and exchange data over it both ways (node 1's requests and node 2's replies),
/// while node 2 can neither open a connection to node 1 nor keep sending on
/// one it opened before the fault.
#[test]
fn one_way_for_tcp_lets_one_side_connect_and_talk_but_not_the_other() {
    let net = Netns::create(&[1, 2]);
    if skipped(&net) {
        return;
    }
    let mut net = net.unwrap();
    let port = raft_tests::cluster::NAMESPACE_PORT;
    let (l1, a1) = listen(&net, 1, port);
    let (l2, a2) = listen(&net, 2, port);
    let open = |net: &Netns, from: u64, to: SocketAddr| {
        net.run_in_node(from, move || TcpStream::connect_timeout(&to, CONNECT_TIMEOUT)).unwrap()
    };
    // A connection node 2 opened before the fault (a gRPC channel already up).
    let mut before = None;
    assert!(wait_until(Duration::from_secs(5), || {
        before = open(&net, 2, a1).ok();
        before.is_some()
    }));
    let mut before = before.unwrap();
    let (mut before_at_1, _) = l1.accept().unwrap();

    net.block_requests(2, 1).unwrap();

    let mut c = open(&net, 1, a2).expect("1 -> 2 must still connect");
    let (mut s, _) = l2.accept().unwrap();
    c.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping", "1's request reaches 2");
    s.write_all(b"pong").unwrap();
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong", "2's reply reaches 1");

    assert!(open(&net, 2, a1).is_err(), "2 must not be able to open a connection to 1");
    before.write_all(b"late").unwrap();
    before_at_1.set_read_timeout(Some(Duration::from_millis(700))).unwrap();
    assert!(before_at_1.read(&mut buf).is_err(), "2's connection from before the fault carries no requests");

    net.heal().unwrap();
    assert!(wait_until(Duration::from_secs(5), || connects(&net, 2, a1)), "heal restores 2 -> 1");
}

#[test]
fn lossy_link_drops_a_fraction_of_packets() {
    let net = Netns::create(&[1, 2]);
    if skipped(&net) {
        return;
    }
    let mut net = net.unwrap();
    let (s1, _) = udp(&net, 1, 9002);
    let (s2, a2) = udp(&net, 2, 9002);
    assert!(wait_until(Duration::from_secs(5), || delivered(&s1, &s2, a2, 1) == 1));
    net.lossy(1, 2, 0.5).unwrap();
    assert!(net.rules_text(2).unwrap().contains("statistic"));
    let got = delivered(&s1, &s2, a2, 100);
    // Binomial(100, 0.5): outside 15..=85 has probability below 1e-12.
    assert!((15..=85).contains(&got), "{got} of 100 delivered at 50% loss");
}

#[test]
fn partition_and_isolate_cut_exactly_the_links_between_groups() {
    let net = Netns::create(&[1, 2, 3]);
    if skipped(&net) {
        return;
    }
    let mut net = net.unwrap();
    let (_l1, a1) = listen(&net, 1, 9003);
    let (_l3, a3) = listen(&net, 3, 9003);
    assert!(wait_until(Duration::from_secs(5), || connects(&net, 2, a1) && connects(&net, 2, a3)));
    net.partition(&[vec![1, 2], vec![3]]).unwrap();
    assert!(connects(&net, 2, a1));
    assert!(!connects(&net, 2, a3));
    net.isolate(1).unwrap();
    assert!(!connects(&net, 2, a1));
    assert!(connects(&net, 2, a3), "isolate replaces the previous partition");
    let client = net.client_namespace();
    let reach =
        raft_tests::netns::run_in_namespace(&client, move || TcpStream::connect_timeout(&a1, CONNECT_TIMEOUT).is_ok());
    assert!(reach.unwrap(), "clients are never filtered");
}

#[test]
fn dropping_removes_every_namespace_of_the_run() {
    let net = Netns::create(&[1, 2]);
    if skipped(&net) {
        return;
    }
    let net = net.unwrap();
    let prefix = format!("{}-", net.prefix());
    assert_eq!(namespace_names().matches(&prefix).count(), 4, "hub, client and two nodes");
    drop(net);
    assert!(!namespace_names().contains(&prefix), "left over: {}", namespace_names());
}

#[test]
fn leftovers_of_dead_runs_are_cleaned_up() {
    if skipped(&raft_tests::netns::availability()) {
        return;
    }
    // pid 4999999 exceeds the kernel's pid_max, so this run is certainly dead.
    let name = format!("{NAME_BASE}-4999999-0-hub");
    // A concurrently starting Netns (another test, in this process or not)
    // may delete the half-made namespace under `ip netns add`, which then
    // fails its bind mount: try again a few times.
    let added =
        (0..5).any(|_| std::process::Command::new("ip").args(["netns", "add", &name]).status().unwrap().success());
    assert!(added, "ip netns add {name} failed 5 times");
    let deleted = cleanup_leftovers(NAME_BASE);
    // A concurrently starting Netns may have cleaned it up first; either way it is gone.
    assert!(!namespace_names().contains(&name), "not cleaned up; deleted {deleted:?}");
}

#[test]
fn cluster_in_namespaces_survives_faults_and_kills() {
    if skipped(&raft_tests::netns::availability()) {
        return;
    }
    let run = RunDir::create("netns_cluster").unwrap();
    let mut cfg = ClusterConfig::new(3);
    cfg.network = Network::Namespaces;
    cfg.binary = Some(PathBuf::from(env!("CARGO_BIN_EXE_fake-node")));
    let mut cluster = ProcessCluster::start(&cfg, &run).unwrap();
    let a1 = cluster.addr(1).unwrap();
    assert_eq!(a1.to_string(), "10.77.0.1:7000");
    cluster.netns_mut().unwrap().isolate(1).unwrap();
    let net = cluster.netns().unwrap();
    assert!(!connects(net, 2, a1));
    assert!(cluster.probe(a1).unwrap(), "clients still reach an isolated node");
    cluster.netns_mut().unwrap().heal().unwrap();
    assert!(wait_until(Duration::from_secs(5), || connects(cluster.netns().unwrap(), 2, a1)));
    cluster.kill(1).unwrap();
    assert!(!cluster.probe(a1).unwrap());
    cluster.start_node(1).unwrap();
    assert!(cluster.probe(a1).unwrap());
}

#[test]
fn nemesis_schedule_runs_against_a_namespaced_cluster_and_leaves_it_whole() {
    use raft_tests::process::ProcessState;
    use raft_tests::{ClusterTarget, FaultKind, Nemesis, Schedule, ScheduleConfig};
    if skipped(&raft_tests::netns::availability()) {
        return;
    }
    let seed = raft_tests::rng::seed_from_env_or("NEMESIS_SEED", 20_261_204);
    let run = RunDir::create("netns_nemesis").unwrap();
    let mut cfg = ClusterConfig::new(3);
    cfg.network = Network::Namespaces;
    cfg.binary = Some(PathBuf::from(env!("CARGO_BIN_EXE_fake-node")));
    let mut cluster = ProcessCluster::start(&cfg, &run).unwrap();
    let mut schedule_cfg = ScheduleConfig::new(cluster.node_ids(), 12, FaultKind::ALL);
    schedule_cfg.hold_ms = (10, 30);
    schedule_cfg.recover_ms = (0, 10);
    let schedule = Schedule::random(seed, &schedule_cfg);
    run.write("nemesis.json", &schedule.to_json()).unwrap();
    let mut nemesis = Nemesis::new(schedule);
    // The fake nodes elect nobody; pretend node 1 leads.
    nemesis.run(&mut ClusterTarget::new(&mut cluster, || Some(1))).unwrap();
    assert!(cluster.netns().unwrap().faults().is_empty(), "seed {seed}: network not healed");
    for id in cluster.node_ids() {
        assert_eq!(cluster.state(id).unwrap(), ProcessState::Running, "seed {seed}: node {id}");
        assert!(cluster.probe(cluster.addr(id).unwrap()).unwrap());
    }
}
