//! Client library errors turned into exit codes and advice.

use std::time::Duration;

use raft_rpc::ClientError;

use crate::duration::format_duration;
use crate::exit::CliError;

/// Maps a client error to its exit code, saying what happened and what to do.
pub fn classify(err: ClientError, endpoints: &[String], timeout: Duration) -> CliError {
    let within = format_duration(timeout);
    let list = endpoints.join(",");
    match err {
        ClientError::Unavailable(why) => CliError::unavailable(anyhow::anyhow!(
            "no leader among {list} after {within}: is a majority of nodes running? ({why})"
        )),
        ClientError::Unknown(why) => CliError::unavailable(anyhow::anyhow!(
            "no definite answer from {list} within {within}: the write may or may not have been applied; \
             read the key to find out, and is a majority of nodes running? ({why})"
        )),
        ClientError::NotLeader { leader } => CliError::unavailable(anyhow::anyhow!(
            "none of {list} is the leader (last hint: {leader:?}): is a majority of nodes running?"
        )),
        ClientError::InvalidArgument(why) | ClientError::InvalidEndpoint(why) => {
            CliError::usage(anyhow::anyhow!("invalid input: {why}"))
        }
        ClientError::Tls(why) => CliError::usage(anyhow::anyhow!(
            "TLS refused ({list}): {why}; nothing was applied. Give a certificate signed by the cluster's CA with \
             --tls-cert, --tls-key and --tls-ca (or RAFT_TLS_CERT, RAFT_TLS_KEY, RAFT_TLS_CA)"
        )),
        ClientError::ClusterMismatch(why) => {
            CliError::usage(anyhow::anyhow!("{why}: pass the cluster's id with --cluster-id (or RAFT_CLUSTER_ID)"))
        }
        ClientError::Rejected { code, message } => match code {
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::ResourceExhausted => {
                CliError::unavailable(anyhow::anyhow!("{list} could not serve the request ({code:?}): {message}"))
            }
            _ => CliError::negative(anyhow::anyhow!("the cluster refused the request ({code:?}): {message}")),
        },
        ClientError::Protocol(why) => CliError::negative(anyhow::anyhow!(
            "malformed reply from the cluster: {why} (are the nodes running the same raft-cli version?)"
        )),
        ClientError::MembershipRefused(r) if r.reason.retryable() => CliError::unavailable(anyhow::anyhow!(
            "the leader still refused the membership change after {within}: {} (retry later)",
            r.message
        )),
        ClientError::MembershipRefused(r) => CliError::negative(anyhow::anyhow!(
            "the leader refused the membership change ({:?}): {}",
            r.reason,
            r.message
        )),
    }
}

/// Like [`classify`] for a write: a malformed reply means the node did
/// handle the write, so its outcome is unknown (exit 3), not a refusal.
pub fn classify_write(err: ClientError, endpoints: &[String], timeout: Duration) -> CliError {
    match err {
        ClientError::Protocol(why) => CliError::unavailable(anyhow::anyhow!(
            "malformed reply from the cluster to a write: {why}; the write may or may not have been applied: \
             read the key to find out (are the nodes running the same raft-cli version?)"
        )),
        other => classify(other, endpoints, timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Exit;

    fn eps() -> Vec<String> {
        vec!["127.0.0.1:1".into(), "127.0.0.1:2".into()]
    }

    #[test]
    fn unavailable_names_the_endpoints_and_the_fix() {
        let e = classify(ClientError::Unavailable("connect failed".into()), &eps(), Duration::from_secs(5));
        assert_eq!(e.code, Exit::Unavailable);
        assert_eq!(
            e.to_string(),
            "no leader among 127.0.0.1:1,127.0.0.1:2 after 5.0s: is a majority of nodes running? (connect failed)"
        );
    }

    #[test]
    fn unknown_outcome_is_exit_3_and_says_so() {
        let e = classify(ClientError::Unknown("timeout".into()), &eps(), Duration::from_secs(1));
        assert_eq!(e.code, Exit::Unavailable);
        assert!(e.to_string().contains("may or may not have been applied"));
    }

    #[test]
    fn bad_input_is_exit_2() {
        let e = classify(ClientError::InvalidArgument("key too large".into()), &eps(), Duration::from_secs(1));
        assert_eq!(e.code, Exit::Usage);
        let e = classify(ClientError::ClusterMismatch("cluster `a` vs `b`".into()), &eps(), Duration::from_secs(1));
        assert_eq!(e.code, Exit::Usage);
        assert!(e.to_string().contains("--cluster-id"));
    }

    #[test]
    fn a_malformed_reply_to_a_write_is_an_unknown_outcome_but_to_a_read_a_failure() {
        let bad = || ClientError::Protocol("write_response.result missing".into());
        let e = classify_write(bad(), &eps(), Duration::from_secs(1));
        assert_eq!(e.code, Exit::Unavailable);
        assert!(e.to_string().contains("may or may not have been applied"), "{e}");
        assert_eq!(classify(bad(), &eps(), Duration::from_secs(1)).code, Exit::Negative);
    }

    #[test]
    fn a_membership_refusal_is_exit_1_unless_retrying_could_help() {
        use raft_rpc::{ChangeRefused, RefusalReason};
        let refusal = |reason| ClientError::MembershipRefused(ChangeRefused { reason, message: "m".into() });
        let e = classify(refusal(RefusalReason::AlreadyMember), &eps(), Duration::from_secs(1));
        assert_eq!(e.code, Exit::Negative);
        assert!(e.to_string().contains("AlreadyMember"), "{e}");
        let e = classify(refusal(RefusalReason::Pending), &eps(), Duration::from_secs(1));
        assert_eq!(e.code, Exit::Unavailable, "still pending at the deadline: try again later");
    }

    #[test]
    fn a_tls_refusal_is_a_usage_error_that_names_the_flags() {
        let e = classify(ClientError::Tls("bad certificate".into()), &eps(), Duration::from_secs(1));
        assert_eq!(e.code, Exit::Usage);
        let text = e.to_string();
        assert!(text.contains("bad certificate") && text.contains("--tls-cert"), "{text}");
    }

    #[test]
    fn overload_is_exit_3_but_a_definite_refusal_is_exit_1() {
        let busy = ClientError::Rejected { code: tonic::Code::ResourceExhausted, message: "queue full".into() };
        assert_eq!(classify(busy, &eps(), Duration::from_secs(1)).code, Exit::Unavailable);
        let refused = ClientError::Rejected { code: tonic::Code::Internal, message: "boom".into() };
        assert_eq!(classify(refused, &eps(), Duration::from_secs(1)).code, Exit::Negative);
    }
}
