//! The demo's event loop: one task owns the supervisor, the narrator and
//! the timers, so every decision (restart, fault, stop) sees one consistent
//! picture. Sources that block on the network (watch streams, status polls,
//! the workload) run as their own tasks and send events in.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::acklog::AckLog;
use super::chaos::{fresh_seed, ChaosPlan, Fault};
use super::event::{DemoEvent, NodeNum, ProcState, RaftStatus, StatusRow};
use super::members_tour::{self, TourReport, TourRequest, TOUR_LIMIT};
use super::narrator::Narrator;
use super::summary::{DemoSummary, FaultCounts};
use super::supervisor::{LaunchPlan, Supervisor};
use super::{cluster_io, verify, workload, DemoArgs};
use crate::output::OutputFormat;

mod web;
pub use web::WebHook;

/// Aggregated replication lines are told this often.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// The status table is printed this often.
const STATUS_EVERY: Duration = Duration::from_secs(5);
/// A fault that cannot run now (a node already down) is retried this much later.
const FAULT_RETRY: Duration = Duration::from_secs(1);
/// Grace period for children to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The partition in force (at most one at a time).
struct ActivePartition {
    /// The node cut off from the rest.
    node: NodeNum,
    /// When the schedule heals it.
    heal_at: Instant,
    /// The task still telling the nodes to cut; the heal waits for it, so a
    /// slow cut can never land after the heal.
    cut: JoinHandle<()>,
}

/// One demo run.
pub struct Session {
    args: DemoArgs,
    sup: Supervisor,
    narrator: Narrator,
    chaos: Option<ChaosPlan>,
    /// Index into the chaos plan of the next fault, and when it is due.
    next_fault: Option<(usize, Instant)>,
    restarts: BTreeMap<NodeNum, Instant>,
    resumes: BTreeMap<NodeNum, Instant>,
    partition: Option<ActivePartition>,
    faults: FaultCounts,
    events_tx: mpsc::Sender<DemoEvent>,
    events_rx: mpsc::Receiver<DemoEvent>,
    status_tx: mpsc::Sender<Vec<(NodeNum, Option<RaftStatus>)>>,
    status_rx: mpsc::Receiver<Vec<(NodeNum, Option<RaftStatus>)>>,
    stop_tx: watch::Sender<bool>,
    acks: Arc<Mutex<AckLog>>,
    start: Instant,
    /// The web view's controls and feed (`--web`).
    web: Option<WebHook>,
    /// `--members`: the tour's requests, whether it still runs, its report.
    tour_tx: mpsc::Sender<TourRequest>,
    tour_rx: mpsc::Receiver<TourRequest>,
    tour_running: bool,
    tour_report: Option<TourReport>,
}

impl Session {
    /// A session that will launch nodes as `plan` says.
    pub fn new(args: DemoArgs, plan: LaunchPlan) -> Self {
        let start = Instant::now();
        let chaos = args.chaos.then(|| ChaosPlan::new(args.seed.unwrap_or_else(fresh_seed), args.duration()));
        let next_fault = chaos.as_ref().and_then(|p| p.faults().first().map(|(at, _)| (0, start + *at)));
        let (events_tx, events_rx) = mpsc::channel(4096);
        let (status_tx, status_rx) = mpsc::channel(4);
        let (stop_tx, _) = watch::channel(false);
        let (tour_tx, tour_rx) = mpsc::channel(16);
        Session {
            args,
            sup: Supervisor::new(plan),
            narrator: Narrator::new(start.into_std()),
            chaos,
            next_fault,
            restarts: BTreeMap::new(),
            resumes: BTreeMap::new(),
            partition: None,
            faults: FaultCounts::default(),
            events_tx,
            events_rx,
            status_tx,
            status_rx,
            stop_tx,
            acks: Arc::new(Mutex::new(AckLog::default())),
            start,
            web: None,
            tour_tx,
            tour_rx,
            tour_running: false,
            tour_report: None,
        }
    }

    /// Lets the web view's buttons drive this session.
    pub fn with_web(mut self, web: WebHook) -> Self {
        self.web = Some(web);
        self
    }

    fn say(&self, line: &str) {
        match self.args.output {
            OutputFormat::Human => println!("{line}"),
            OutputFormat::Json => eprintln!("{line}"),
        }
    }

    fn tell(&mut self, event: &DemoEvent) {
        let lines = self.narrator.handle(event, std::time::Instant::now());
        for line in &lines {
            self.say(line);
        }
        self.feed_lines(event, &lines);
    }

    /// Runs until the duration elapses or Ctrl+C, then settles, verifies and stops.
    pub async fn run(mut self) -> anyhow::Result<DemoSummary> {
        self.launch()?;
        let workload =
            workload::spawn(self.addr_list(), self.acks.clone(), self.events_tx.clone(), self.stop_tx.subscribe());
        for (node, addr) in self.sup.plan().addrs.clone() {
            tokio::spawn(cluster_io::watch_node(
                node,
                addr.to_string(),
                self.events_tx.clone(),
                self.stop_tx.subscribe(),
            ));
        }
        self.start_tour();
        self.event_loop().await;
        self.heal_before_verification().await;
        self.stop_tx.send_replace(true);
        let _ = workload.await;
        self.say(&format!(
            "[{:7.1}s] stopping: workload stopped, letting the cluster settle before verification",
            self.start.elapsed().as_secs_f64()
        ));
        self.bring_everyone_back();
        let addrs = self.member_addrs();
        let settle_note = verify::settle(&addrs).await;
        self.say(&format!("[{:7.1}s] {settle_note}", self.start.elapsed().as_secs_f64()));
        let acks = self.acks.lock().expect("ack log lock poisoned").clone();
        let problems = verify::check_all(&addrs, &acks).await;
        let summary = self.summary(&acks, problems);
        for event in self.sup.stop_all(STOP_GRACE).await {
            if let DemoEvent::Exited { node, how, .. } = event {
                self.say(&format!("  node {node} stopped ({how})"));
            }
        }
        Ok(summary)
    }

    /// Addresses of the current members (a retired node is not one).
    fn member_addrs(&self) -> Vec<(NodeNum, String)> {
        let plan = self.sup.plan();
        self.sup.ids().into_iter().filter_map(|n| plan.addrs.get(&n).map(|a| (n, a.to_string()))).collect()
    }

    /// `--members`: starts the tour task (it narrates and asks for processes).
    fn start_tour(&mut self) {
        let Some(joiner) = self.sup.plan().joiners.iter().next_back().copied() else { return };
        let addrs = self.sup.plan().addrs.iter().map(|(n, a)| (*n, a.to_string())).collect();
        self.tour_running = true;
        tokio::spawn(members_tour::run(addrs, joiner, self.events_tx.clone(), self.tour_tx.clone()));
    }

    fn on_tour(&mut self, request: TourRequest) {
        match request {
            TourRequest::Spawn(node) => match self.sup.spawn(node) {
                Ok(event) => self.tell(&event),
                Err(e) => self.say(&format!("cannot start node {node}: {e:#}")),
            },
            TourRequest::Retire(node) => {
                if let Err(e) = self.sup.retire(node) {
                    self.say(&format!("cannot stop node {node}: {e:#}"));
                }
            }
            TourRequest::Done(report) => {
                self.tour_running = false;
                self.tour_report = Some(report);
            }
        }
    }

    fn addr_list(&self) -> Vec<String> {
        self.sup.plan().addrs.values().map(|a| a.to_string()).collect()
    }

    fn launch(&mut self) -> anyhow::Result<()> {
        let plan = self.sup.plan().clone();
        self.say(&format!(
            "raft-cli demo: {} nodes for {} (Ctrl+C stops early); data and logs in {}",
            plan.addrs.len(),
            crate::duration::format_duration(self.args.duration()),
            plan.root.display()
        ));
        for node in self.sup.ids() {
            let event = self.sup.spawn(node)?;
            if let DemoEvent::Spawned { pid, addr, .. } = &event {
                self.say(&format!("  node {node}  {addr}  pid {pid}  log {}", plan.log_path(node).display()));
            }
        }
        self.say(&format!(
            "try it from another terminal: kill -9 <pid>  |  raft-cli put hello world --endpoints {}  |  raft-cli status --endpoints {}",
            self.addr_list().join(","),
            self.addr_list().join(",")
        ));
        match &self.chaos {
            Some(plan) => self.say(&format!(
                "chaos: {} faults planned, seed {} (replay with --chaos --seed {}); partitions are cut with the Admin SetPartition RPC",
                plan.faults().len(),
                plan.seed(),
                plan.seed()
            )),
            None => self.say("chaos: off (add --chaos to inject faults on a schedule)"),
        }
        Ok(())
    }

    async fn event_loop(&mut self) {
        let mut end = self.start + self.args.duration();
        // The tour may outlast --duration: the run waits for it, up to its limit.
        let tour_end = self.start + TOUR_LIMIT + Duration::from_secs(5);
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        let mut status = tokio::time::interval_at(self.start + STATUS_EVERY, STATUS_EVERY);
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            self.publish_processes();
            let timer = self.next_timer().unwrap_or(end);
            tokio::select! {
                _ = &mut ctrl_c => { self.say("Ctrl+C: stopping"); break; }
                _ = tokio::time::sleep_until(end) => {
                    if !self.tour_running || end >= tour_end { break }
                    end = tour_end;
                }
                Some(request) = self.tour_rx.recv() => {
                    self.on_tour(request);
                    if !self.tour_running && Instant::now() >= self.start + self.args.duration() { break }
                }
                exit = self.sup.next_exit() => self.on_exit(exit),
                Some(event) = self.events_rx.recv() => self.tell(&event),
                Some(polled) = self.status_rx.recv() => self.on_status(polled),
                Some(cmd) = web::next_command(&mut self.web) => self.on_web(cmd),
                _ = flush.tick() => {
                    if let Some(line) = self.narrator.flush(std::time::Instant::now()) { self.say(&line); }
                }
                _ = status.tick() => {
                    let addrs: Vec<(NodeNum, String)> = self.sup.plan().addrs.iter().map(|(n, a)| (*n, a.to_string())).collect();
                    let tx = self.status_tx.clone();
                    tokio::spawn(async move { let _ = tx.send(cluster_io::poll_status(&addrs).await).await; });
                }
                _ = tokio::time::sleep_until(timer), if timer < end => self.on_timers(),
            }
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        let fault = self.next_fault.map(|(_, at)| at);
        let heal = self.partition.as_ref().map(|p| p.heal_at);
        self.restarts.values().chain(self.resumes.values()).copied().chain(fault).chain(heal).min()
    }

    fn on_exit(&mut self, exit: DemoEvent) {
        if let DemoEvent::Exited { node, by_demo, .. } = &exit {
            if self.sup.is_retired(*node) {
                self.tell(&exit);
                return;
            }
            if !by_demo {
                self.faults.external_exits += 1;
            }
            if self.sup.state(*node).0 != ProcState::Down {
                // An earlier incarnation's exit, reported late: the node already runs again.
                self.tell(&exit);
                return;
            }
            self.resumes.remove(node);
            let after = self.args.restart_delay;
            self.restarts.insert(*node, Instant::now() + after);
            let node = *node;
            self.tell(&exit);
            self.tell(&DemoEvent::RestartScheduled { node, after });
        }
    }

    fn on_status(&mut self, polled: Vec<(NodeNum, Option<RaftStatus>)>) {
        let rows = polled
            .into_iter()
            .map(|(node, raft)| {
                let (proc_state, pid) = self.sup.state(node);
                let raft = if proc_state == ProcState::Up { raft } else { None };
                StatusRow { node, pid, proc_state, raft }
            })
            .collect();
        self.tell(&DemoEvent::Status(rows));
    }

    fn on_timers(&mut self) {
        let now = Instant::now();
        let due: Vec<NodeNum> = self.restarts.iter().filter(|(_, at)| **at <= now).map(|(n, _)| *n).collect();
        for node in due {
            self.restarts.remove(&node);
            match self.sup.spawn(node) {
                Ok(event) => {
                    self.faults.restarts += 1;
                    self.tell(&event);
                }
                Err(e) => self.say(&format!("cannot restart node {node}: {e:#}")),
            }
        }
        let due: Vec<NodeNum> = self.resumes.iter().filter(|(_, at)| **at <= now).map(|(n, _)| *n).collect();
        for node in due {
            self.resumes.remove(&node);
            if self.sup.resume(node).is_ok() {
                self.tell(&DemoEvent::Resumed { node });
            }
        }
        if self.partition.as_ref().is_some_and(|p| p.heal_at <= now) {
            self.heal_partition();
        }
        if let Some((index, at)) = self.next_fault {
            if at <= now {
                self.run_fault(index, now);
            }
        }
    }

    fn run_fault(&mut self, index: usize, now: Instant) {
        let Some(plan) = self.chaos.as_mut() else { return };
        let Some((_, fault)) = plan.faults().get(index).copied() else { return };
        let leader = self.narrator.timeline().leader();
        let needs_leader = matches!(fault, Fault::KillLeader | Fault::Partition { .. });
        if !self.sup.all_up() || self.partition.is_some() || (needs_leader && leader.is_none()) {
            self.next_fault = Some((index, now + FAULT_RETRY));
            return;
        }
        let ids = self.sup.ids();
        let target = match fault {
            Fault::KillLeader | Fault::Partition { .. } => leader,
            Fault::KillFollower => plan.pick(&ids.iter().copied().filter(|n| Some(*n) != leader).collect::<Vec<_>>()),
            Fault::Pause { .. } => plan.pick(&ids),
        };
        let next = plan.faults().get(index + 1).map(|(at, _)| (index + 1, (self.start + *at).max(now + FAULT_RETRY)));
        self.next_fault = next;
        let Some(node) = target else { return };
        let role = if Some(node) == leader { "the leader" } else { "a follower" };
        match fault {
            Fault::KillLeader | Fault::KillFollower => {
                let pid = self.sup.state(node).1.unwrap_or(0);
                self.tell(&DemoEvent::Chaos(format!("kill -9 {role}, node {node} (pid {pid})")));
                match self.sup.kill(node) {
                    Ok(_) => self.faults.kills += 1,
                    Err(e) => self.say(&format!("chaos: {e:#}")),
                }
            }
            Fault::Pause { span } => {
                self.tell(&DemoEvent::Chaos(format!("freeze {role}, node {node}, with SIGSTOP")));
                match self.sup.pause(node) {
                    Ok(()) => {
                        self.faults.pauses += 1;
                        self.resumes.insert(node, now + span);
                        self.tell(&DemoEvent::Paused { node, span });
                    }
                    Err(e) => self.say(&format!("chaos: {e:#}")),
                }
            }
            Fault::Partition { span } => self.partition_off(node, span, now),
        }
    }

    /// `(node, addr, blocked)` for every member, blocked as `blocked_of` says.
    fn cuts(&self, blocked_of: impl Fn(NodeNum) -> Vec<NodeNum>) -> Vec<(NodeNum, String, Vec<NodeNum>)> {
        self.sup.plan().addrs.iter().map(|(n, a)| (*n, a.to_string(), blocked_of(*n))).collect()
    }

    /// Cuts `node` off from every other member, both ways: it blocks them
    /// all and each of them blocks it (Admin `SetPartition` on every node).
    fn partition_off(&mut self, node: NodeNum, span: Duration, now: Instant) {
        let others: Vec<NodeNum> = self.sup.ids().into_iter().filter(|n| *n != node).collect();
        let cuts = self.cuts(|n| if n == node { others.clone() } else { vec![node] });
        self.tell(&DemoEvent::Partitioned { node, others, span });
        self.faults.partitions += 1;
        let tx = self.events_tx.clone();
        let cut = tokio::spawn(async move {
            for (n, e) in cluster_io::set_partitions(cuts).await {
                let _ = tx.send(DemoEvent::Chaos(format!("partition: node {n} did not take it: {e}"))).await;
            }
        });
        self.partition = Some(ActivePartition { node, heal_at: now + span, cut });
    }

    /// Tells every member to heal, in the background. A member that misses
    /// it stays cut, but the heal before verification reaches it.
    fn heal_partition(&mut self) {
        let Some(p) = self.partition.take() else { return };
        let heal = self.cuts(|_| Vec::new());
        self.tell(&DemoEvent::PartitionHealed { node: p.node });
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            let _ = p.cut.await;
            for (n, e) in cluster_io::set_partitions(heal).await {
                let _ = tx.send(DemoEvent::Chaos(format!("heal: node {n} did not take it: {e}"))).await;
            }
        });
    }

    /// Verification reads every node, so none may stay cut off: after any
    /// partition, every member is told to heal again and waited for (a
    /// member that is down restarts healed, the blocked set is not stored).
    async fn heal_before_verification(&mut self) {
        if self.faults.partitions == 0 {
            return;
        }
        if let Some(p) = self.partition.take() {
            let _ = p.cut.await;
            self.tell(&DemoEvent::PartitionHealed { node: p.node });
        }
        for (n, e) in cluster_io::set_partitions(self.cuts(|_| Vec::new())).await {
            if self.sup.state(n).0 == ProcState::Up {
                self.say(&format!("heal: node {n} did not take it: {e}"));
            }
        }
    }

    /// Before verification every node must run: restart the dead, thaw the frozen.
    fn bring_everyone_back(&mut self) {
        for exit in self.sup.drain_exits() {
            self.tell(&exit);
        }
        for node in self.sup.ids() {
            match self.sup.state(node).0 {
                ProcState::Down => {
                    if let Ok(event) = self.sup.spawn(node) {
                        self.faults.restarts += 1;
                        self.tell(&event);
                    }
                }
                ProcState::Paused => {
                    if self.sup.resume(node).is_ok() {
                        self.tell(&DemoEvent::Resumed { node });
                    }
                }
                ProcState::Up => {}
            }
        }
        self.restarts.clear();
        self.resumes.clear();
    }

    fn summary(&self, acks: &AckLog, problems: Vec<super::summary::Problem>) -> DemoSummary {
        let now = std::time::Instant::now();
        let t = self.narrator.timeline();
        DemoSummary {
            nodes: self.sup.ids().len(),
            ran_for: self.start.elapsed(),
            seed: self.chaos.as_ref().map(|c| c.seed()),
            elections: t.elections(),
            leader_changes: t.leader_changes(),
            max_term: t.max_term(),
            longest_leaderless: t.longest_leaderless(now),
            faults: self.faults,
            writes_acked: acks.acked_writes(),
            writes_unknown: acks.unknown_writes(),
            keys_checked: acks.acked_keys().count(),
            nodes_checked: self.sup.ids().len(),
            problems,
            kept_data: None,
            members: self.tour_report.clone(),
        }
    }
}
