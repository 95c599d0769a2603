//! A stand-in AdminService for the `members` commands: a leader that keeps
//! a configuration in memory and changes it at once, a follower that
//! redirects to a given leader, or a leader that first refuses every change
//! as "pending" a few times. It counts the changes it was sent.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::Stream;
use raft_rpc::pb;
use raft_rpc::pb::admin_service_server::{AdminService, AdminServiceServer};
use raft_rpc::pb::membership_change_response::Result as R;
use tonic::{Request, Response, Status};

pub const CLUSTER: &str = "default";

/// How the fake answers.
#[derive(Clone, Debug)]
pub enum AdminMode {
    /// Node `id`, the leader: changes apply at once.
    Leader { id: u64 },
    /// Node `id`, a follower of `leader` at `address`.
    Follower { id: u64, leader: u64, address: String },
    /// Node `id`, a leader that refuses the first `n` changes as pending.
    PendingFirst { id: u64, n: u64 },
}

struct Config {
    voters: BTreeSet<u64>,
    learners: BTreeSet<u64>,
    index: u64,
}

#[derive(Clone)]
struct Fake {
    mode: AdminMode,
    config: Arc<Mutex<Config>>,
    changes: Arc<AtomicU64>,
}

fn refused(reason: pb::ChangeRefusal, message: &str) -> R {
    R::Refused(pb::MembershipRefused { reason: reason.into(), message: message.into() })
}

impl Fake {
    fn id(&self) -> u64 {
        match self.mode {
            AdminMode::Leader { id } | AdminMode::Follower { id, .. } | AdminMode::PendingFirst { id, .. } => id,
        }
    }

    fn membership(c: &Config) -> pb::Membership {
        let addrs = c.voters.iter().chain(&c.learners).map(|id| (*id, format!("127.0.0.1:{}", 7000 + id))).collect();
        pb::Membership {
            voters: c.voters.iter().copied().collect(),
            learners: c.learners.iter().copied().collect(),
            outgoing: vec![],
            addrs,
            incarnations: Default::default(),
        }
    }

    /// Applies `f` to the configuration, after the mode's redirect or refusal.
    fn change(
        &self,
        f: impl FnOnce(&mut Config) -> Option<R>,
    ) -> Result<Response<pb::MembershipChangeResponse>, Status> {
        let n = self.changes.fetch_add(1, Ordering::SeqCst) + 1;
        let result = match &self.mode {
            AdminMode::Follower { leader, address, .. } => {
                R::NotLeader(pb::NotLeader { leader_id: *leader, leader_address: address.clone() })
            }
            AdminMode::PendingFirst { n: first, .. } if n <= *first => {
                refused(pb::ChangeRefusal::Pending, "a change at index 3 is not yet committed")
            }
            _ => {
                let mut c = self.config.lock().unwrap();
                match f(&mut c) {
                    Some(refusal) => refusal,
                    None => {
                        c.index += 1;
                        R::Ok(pb::MembershipChanged { index: c.index, membership: Some(Self::membership(&c)) })
                    }
                }
            }
        };
        Ok(Response::new(pb::MembershipChangeResponse { result: Some(result) }))
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::NodeEvent, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl AdminService for Fake {
    async fn status(&self, _: Request<pb::StatusRequest>) -> Result<Response<pb::StatusResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn transfer_leader(
        &self,
        _: Request<pb::TransferLeaderRequest>,
    ) -> Result<Response<pb::TransferLeaderResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    type WatchStream = EventStream;

    async fn watch(&self, _: Request<pb::WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn set_partition(
        &self,
        _: Request<pb::SetPartitionRequest>,
    ) -> Result<Response<pb::SetPartitionResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn members(&self, _: Request<pb::MembersRequest>) -> Result<Response<pb::MembersResponse>, Status> {
        let c = self.config.lock().unwrap();
        let me = self.id();
        let leader = match &self.mode {
            AdminMode::Follower { leader, .. } => *leader,
            _ => me,
        };
        let address = |id: u64| match &self.mode {
            AdminMode::Follower { leader, address, .. } if *leader == id => address.clone(),
            _ => format!("127.0.0.1:{}", 7000 + id),
        };
        let member = |id: u64, role: pb::MemberRole| pb::MemberInfo {
            id,
            address: address(id),
            role: role.into(),
            leader: id == leader,
            matched: (leader == me).then_some(c.index - id.min(c.index)),
            lag: (leader == me).then_some(id.min(c.index)),
        };
        let members = c
            .voters
            .iter()
            .map(|id| member(*id, pb::MemberRole::Voter))
            .chain(c.learners.iter().map(|id| member(*id, pb::MemberRole::Learner)))
            .collect();
        Ok(Response::new(pb::MembersResponse {
            node: me,
            term: 4,
            leader,
            config_index: c.index,
            config_committed: true,
            joint: false,
            members,
        }))
    }

    async fn add_learner(
        &self,
        r: Request<pb::AddLearnerRequest>,
    ) -> Result<Response<pb::MembershipChangeResponse>, Status> {
        let id = r.into_inner().id;
        self.change(|c| {
            if c.voters.contains(&id) || c.learners.contains(&id) {
                return Some(refused(pb::ChangeRefusal::AlreadyMember, &format!("node {id} is already a member")));
            }
            c.learners.insert(id);
            None
        })
    }

    async fn promote(&self, r: Request<pb::PromoteRequest>) -> Result<Response<pb::MembershipChangeResponse>, Status> {
        let id = r.into_inner().id;
        self.change(|c| {
            if !c.learners.remove(&id) {
                return Some(refused(pb::ChangeRefusal::UnknownMember, &format!("node {id} is not a learner")));
            }
            c.voters.insert(id);
            None
        })
    }

    async fn remove_member(
        &self,
        r: Request<pb::RemoveMemberRequest>,
    ) -> Result<Response<pb::MembershipChangeResponse>, Status> {
        let id = r.into_inner().id;
        self.change(|c| {
            if !(c.voters.remove(&id) || c.learners.remove(&id)) {
                return Some(refused(pb::ChangeRefusal::UnknownMember, &format!("node {id} is not a member")));
            }
            None
        })
    }
}

/// A running fake.
pub struct FakeAdmin {
    pub endpoint: String,
    changes: Arc<AtomicU64>,
}

impl FakeAdmin {
    /// Serves on a fresh loopback port from a background thread, with
    /// voters 1, 2, 3 at index 5.
    pub fn start(mode: AdminMode) -> FakeAdmin {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let endpoint = std_listener.local_addr().unwrap().to_string();
        let config = Config { voters: [1, 2, 3].into(), learners: BTreeSet::new(), index: 5 };
        let fake = Fake { mode, config: Arc::new(Mutex::new(config)), changes: Arc::default() };
        let changes = fake.changes.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                tonic::transport::Server::builder()
                    .add_service(AdminServiceServer::new(fake))
                    .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                    .await
                    .unwrap();
            });
        });
        FakeAdmin { endpoint, changes }
    }

    /// Change requests received so far.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }
}
