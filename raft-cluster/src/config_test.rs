use super::*;

fn three_nodes() -> NodeConfig {
    let peers = (1..=3).map(|i| PeerConfig { id: i, addr: format!("127.0.0.1:{}", 7000 + i) }).collect();
    NodeConfig::new(1, "127.0.0.1:7001", peers, PathBuf::from("/tmp/unused"))
}

#[test]
fn a_full_toml_file_loads_and_validates() {
    let text = r#"
        node_id = 2
        listen_addr = "127.0.0.1:7002"
        data_dir = "/var/lib/raft/n2"
        cluster_id = "prod"
        tick_interval_ms = 50
        election_ticks = 20
        heartbeat_ticks = 2
        snapshot_threshold = 500
        peers = [
            { id = 1, addr = "127.0.0.1:7001" },
            { id = 2, addr = "127.0.0.1:7002" },
            { id = 3, addr = "127.0.0.1:7003" },
        ]
        [limits]
        max_entry_bytes = 4096
        request_timeout_ms = 1000
    "#;
    let c = NodeConfig::from_toml_str(text).unwrap();
    c.validate().unwrap();
    assert_eq!(c.id(), NodeId(2));
    assert_eq!(c.limits.max_entry_bytes, 4096);
    assert_eq!(c.limits.max_batch_requests, Limits::default().max_batch_requests);
    assert_eq!(c.addr_of(NodeId(3)), Some("127.0.0.1:7003"));
    assert_eq!(c.core_config().election_ticks, 20);
}

#[test]
fn max_promote_lag_reaches_the_core_and_zero_is_refused() {
    let c = three_nodes();
    assert_eq!(c.max_promote_lag, raft_core::Config::new(NodeId(1)).max_promote_lag, "the core's default");
    let text = c.to_toml_string().unwrap().replace("max_promote_lag = 1000", "max_promote_lag = 7");
    let c = NodeConfig::from_toml_str(&text).unwrap();
    assert_eq!(c.core_config().max_promote_lag, 7);
    let zero = NodeConfig { max_promote_lag: 0, ..c };
    assert!(matches!(zero.validate(), Err(ConfigError::Invalid(why)) if why.contains("max_promote_lag")));
}

#[test]
fn toml_round_trips() {
    let c = three_nodes();
    let back = NodeConfig::from_toml_str(&c.to_toml_string().unwrap()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn unknown_keys_are_rejected() {
    let mut text = three_nodes().to_toml_string().unwrap();
    text.insert_str(0, "bogus_key = 1\n");
    assert!(matches!(NodeConfig::from_toml_str(&text), Err(ConfigError::Parse(_))));
}

#[test]
fn duplicate_peer_ids_are_rejected() {
    let mut c = three_nodes();
    c.peers[2].id = 2;
    assert_eq!(c.validate(), Err(ConfigError::DuplicatePeerId(2)));
}

#[test]
fn duplicate_addresses_are_rejected() {
    let mut c = three_nodes();
    c.peers[2].addr = c.peers[1].addr.clone();
    assert_eq!(c.validate(), Err(ConfigError::DuplicateAddress("127.0.0.1:7002".into())));
}

#[test]
fn self_missing_from_peers_is_rejected() {
    let mut c = three_nodes();
    c.node_id = 9;
    assert_eq!(c.validate(), Err(ConfigError::SelfNotInPeers(9)));
}

#[test]
fn heartbeat_not_shorter_than_election_is_rejected() {
    let mut c = three_nodes();
    c.heartbeat_ticks = 10;
    c.election_ticks = 10;
    assert!(matches!(c.validate(), Err(ConfigError::HeartbeatNotShorter { .. })));
}

#[test]
fn zero_limits_and_bad_addresses_are_rejected() {
    let mut c = three_nodes();
    c.limits.max_pending_requests = 0;
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("max_pending_requests"), "{err}");
    let mut c = three_nodes();
    c.peers[1].addr = "not-an-address".into();
    assert!(matches!(c.validate(), Err(ConfigError::BadAddress { .. })));
}

#[test]
fn peer_flags_parse() {
    assert_eq!(PeerConfig::parse("3=127.0.0.1:9000").unwrap(), PeerConfig { id: 3, addr: "127.0.0.1:9000".into() });
    assert!(PeerConfig::parse("x=127.0.0.1:9000").is_err());
    assert!(PeerConfig::parse("127.0.0.1:9000").is_err());
}

#[test]
fn unwritable_data_dir_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let mut c = three_nodes();
    // A path below a regular file can never be created.
    c.data_dir = file.join("sub");
    assert!(matches!(c.check_data_dir(), Err(ConfigError::DataDir { .. })));
    c.data_dir = dir.path().join("fresh");
    c.check_data_dir().unwrap();
}
