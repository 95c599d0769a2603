//! [`Controls`]: the demo's fault buttons, as commands the web server sends
//! to the demo session, which owns the node processes.
//!
//! Why a channel and not shared state: the session's event loop is the one
//! owner of the supervisor, its restart timers and the partition in force;
//! routing a click through that loop keeps a web kill and a scheduled
//! restart from racing. Only `raft-cli demo --web` has controls; a node's
//! own web view (`raft-cli node --web`) only watches.

use std::collections::BTreeMap;

use tokio::sync::{mpsc, oneshot, watch};

/// What a button asks the demo to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `kill -9` the node (the demo restarts it after its restart delay).
    Kill(u64),
    /// Freeze the node with SIGSTOP until [`Action::Resume`].
    Pause(u64),
    /// SIGCONT a frozen node.
    Resume(u64),
    /// Cut the node off from every other member, both ways (Admin
    /// SetPartition), until [`Action::Heal`].
    Partition(u64),
    /// Heal any partition.
    Heal,
}

impl Action {
    /// Parses the action name of `POST /api/nodes/{id}/{name}`.
    pub fn for_node(name: &str, id: u64) -> Option<Self> {
        Some(match name {
            "kill" => Action::Kill(id),
            "pause" => Action::Pause(id),
            "resume" => Action::Resume(id),
            "partition" => Action::Partition(id),
            "heal" => Action::Heal,
            _ => return None,
        })
    }
}

/// One command: the action and where the session's answer goes (what it
/// did, or why it could not).
pub struct Command {
    /// What to do.
    pub action: Action,
    /// The answer.
    pub reply: oneshot::Sender<Result<String, String>>,
}

/// A node process as the demo supervisor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// `up`, `paused` or `down`.
    pub state: String,
    /// Its pid while it has one.
    pub pid: Option<u32>,
}

/// What the session publishes about its processes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Processes {
    /// Each node's process.
    pub nodes: BTreeMap<u64, ProcessInfo>,
    /// The node cut off by a partition, if any.
    pub partitioned: Option<u64>,
}

/// The web server's end: send commands, read process states.
#[derive(Clone)]
pub struct Controls {
    commands: mpsc::Sender<Command>,
}

/// The session's end.
pub struct ControlsEnd {
    /// Commands from the page.
    pub commands: mpsc::Receiver<Command>,
    /// Where the session publishes its processes.
    pub processes: watch::Sender<Processes>,
}

/// A connected pair, and a receiver of the process states for the view.
pub fn channel() -> (Controls, ControlsEnd, watch::Receiver<Processes>) {
    let (tx, rx) = mpsc::channel(16);
    let (ptx, prx) = watch::channel(Processes::default());
    (Controls { commands: tx }, ControlsEnd { commands: rx, processes: ptx }, prx)
}

impl Controls {
    /// Asks the session to do `action`; `Err` says why it was not done.
    pub async fn run(&self, action: Action) -> Result<String, String> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command { action, reply }).await.map_err(|_| "the demo is stopping".to_string())?;
        answer.await.map_err(|_| "the demo is stopping".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_parse_and_unknown_ones_do_not() {
        assert_eq!(Action::for_node("kill", 2), Some(Action::Kill(2)));
        assert_eq!(Action::for_node("pause", 1), Some(Action::Pause(1)));
        assert_eq!(Action::for_node("resume", 1), Some(Action::Resume(1)));
        assert_eq!(Action::for_node("partition", 3), Some(Action::Partition(3)));
        assert_eq!(Action::for_node("heal", 3), Some(Action::Heal));
        assert_eq!(Action::for_node("explode", 3), None);
    }

    #[tokio::test]
    async fn a_command_gets_the_sessions_answer() {
        let (controls, mut end, _) = channel();
        let session = tokio::spawn(async move {
            let cmd = end.commands.recv().await.unwrap();
            assert_eq!(cmd.action, Action::Kill(2));
            cmd.reply.send(Ok("killed node 2".into())).unwrap();
        });
        assert_eq!(controls.run(Action::Kill(2)).await, Ok("killed node 2".into()));
        session.await.unwrap();
        assert_eq!(controls.run(Action::Heal).await, Err("the demo is stopping".into()));
    }
}
