//! Issue #15 end to end with the real binary: a `raft-cli node` serving
//! mutual TLS, client commands with and without certificates (flags and
//! `RAFT_TLS_*` variables), and `raft-cli demo --tls`. The CA and the
//! certificates are made in the test (raft-rpc's `certgen`).

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{bin, text, wait_for, Nodes};
use raft_rpc::certgen::TestCa;
use raft_rpc::TlsFiles;

/// Generous: the node process starts, elects itself and opens RocksDB on a
/// loaded machine.
const STARTUP: Duration = Duration::from_secs(60);

/// `raft-cli args...` against `endpoint` with `envs`, nothing inherited
/// from the caller's RAFT_* variables.
fn cli(endpoint: &str, args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(bin());
    for var in ["RAFT_ENDPOINTS", "RAFT_OUTPUT", "RAFT_TIMEOUT", "RAFT_CLUSTER_ID", "RAFT_VALUE_ENCODING"] {
        cmd.env_remove(var);
    }
    for var in ["RAFT_TLS_CERT", "RAFT_TLS_KEY", "RAFT_TLS_CA"] {
        cmd.env_remove(var);
    }
    cmd.args(["--endpoints", endpoint, "--timeout", "5s"]).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run raft-cli")
}

fn flags(files: &TlsFiles) -> Vec<String> {
    let p = |p: &Path| p.display().to_string();
    vec!["--tls-cert".into(), p(&files.cert), "--tls-key".into(), p(&files.key), "--tls-ca".into(), p(&files.ca)]
}

fn with(args: &[&str], extra: &[String]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).chain(extra.iter().cloned()).collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_tls_node_serves_clients_with_certificates_and_refuses_the_rest_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("cli test CA").unwrap();
    let node_dir = dir.path().join("node-certs");
    let client_dir = dir.path().join("client-certs");
    let other_dir = dir.path().join("other-certs");
    for d in [&node_dir, &client_dir, &other_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    let node_files = ca.issue("node-1").unwrap().write(&node_dir, "node-1").unwrap();
    let client = ca.issue("cli-client").unwrap().write(&client_dir, "client").unwrap();
    let foreign = TestCa::new("other CA").unwrap().issue("intruder").unwrap();
    // Trusts the cluster's CA but holds a certificate of another one.
    let mut intruder = foreign.write(&other_dir, "intruder").unwrap();
    intruder.ca = client.ca.clone();

    let node_flags = flags(&node_files);
    let nodes = Nodes::start_with(1, 17621, dir.path(), &refs(&node_flags));
    let endpoint = nodes.endpoints.clone();
    let good = flags(&client);

    let put = with(&["put", "greeting", "hello"], &good);
    wait_for("a put over mTLS to succeed", STARTUP, || {
        let out = cli(&endpoint, &refs(&put), &[]);
        (out.status.code() == Some(0)).then_some(())
    });
    let out = cli(&endpoint, &refs(&with(&["get", "greeting"], &good)), &[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "hello");

    // The same through RAFT_TLS_* variables.
    let envs = [("RAFT_TLS_CERT", client.cert.as_path()), ("RAFT_TLS_KEY", &client.key), ("RAFT_TLS_CA", &client.ca)];
    let out = cli(&endpoint, &["get", "greeting"], &envs);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));

    // `bench` against the TLS node with the same flags.
    let out = cli(&endpoint, &refs(&with(&["bench", "--total", "20", "--clients", "2"], &good)), &[]);
    assert_eq!(out.status.code(), Some(0), "bench over mTLS: {}", text(&out.stderr));

    // No certificates: a plaintext client, refused with exit 2 and a clear message.
    let out = cli(&endpoint, &["put", "greeting", "plain"], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("requires TLS") && err.contains("--tls-cert"), "{err}");

    // A certificate of another CA: refused by the node.
    let out = cli(&endpoint, &refs(&with(&["put", "greeting", "forged"], &flags(&intruder))), &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("rejected our certificate"), "{err}");

    // `status` (the Admin service) is held to the same rule.
    let out = cli(&endpoint, &["status"], &[]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));
    let out = cli(&endpoint, &refs(&with(&["status"], &good)), &[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));

    // Nothing the refused clients sent was applied.
    let out = cli(&endpoint, &refs(&with(&["get", "greeting"], &good)), &[]);
    assert_eq!(text(&out.stdout).trim(), "hello");

    // Half the flags, or a missing file: usage errors naming the problem.
    let out = cli(&endpoint, &["--tls-cert", &client.cert.display().to_string(), "get", "greeting"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("needs all of --tls-cert, --tls-key and --tls-ca"), "{}", text(&out.stderr));
    let mut missing = client.clone();
    missing.key = dir.path().join("no-such.key");
    let out = cli(&endpoint, &refs(&with(&["get", "greeting"], &flags(&missing))), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no-such.key"), "{}", text(&out.stderr));
    drop(nodes);
}

#[test]
fn a_node_with_an_unusable_tls_file_refuses_to_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("cli test CA").unwrap();
    let files = ca.issue("node-1").unwrap().write(dir.path(), "node-1").unwrap();
    let out = Command::new(bin())
        .args(["node", "--id", "1", "--listen", "127.0.0.1:17631", "--peers", "1=127.0.0.1:17631", "--in-memory"])
        .args(["--tls-cert", &files.key.display().to_string()])
        .args(["--tls-key", &files.key.display().to_string()])
        .args(["--tls-ca", &files.ca.display().to_string()])
        .output()
        .expect("run raft-cli node");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("node-1.key") && err.contains("certificate"), "{err}");
}

#[test]
fn demo_runs_entirely_over_mtls() {
    let out = Command::new(bin())
        .args(["demo", "--tls", "--duration", "12s", "--base-port", "17721", "--output", "json"])
        .output()
        .expect("run raft-cli demo");
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("last stdout line is the JSON summary ({e}):\n{stdout}"));
    assert_eq!(v["verified"], true, "{v}");
    assert!(v["writes_acked"].as_u64().unwrap() > 0, "writes were acknowledged over mTLS: {v}");
    assert!(stderr.contains("mTLS on"), "the demo says how to reach it: {stderr}");
    assert!(stderr.contains("is LEADER for term"), "the narration (over mTLS Watch streams) names the leader");
}
