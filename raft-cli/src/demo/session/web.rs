//! The session's side of `raft-cli demo --web`: it carries out the page's
//! buttons inside the event loop (so a click and a scheduled restart never
//! race), publishes the processes' states for the page, and copies the
//! narration of faults, exits and restarts into the page's live feed.

use std::time::Duration;

use tokio::time::Instant;

use super::Session;
use crate::demo::event::{DemoEvent, ProcState};
use crate::web::controls::{Action, Command, ControlsEnd, ProcessInfo, Processes};
use crate::web::feed::Feed;

/// A partition made from the page heals by itself after this long, unless
/// the heal button comes first (the end-of-run verification needs every
/// node reachable anyway).
const WEB_PARTITION_SPAN: Duration = Duration::from_secs(30);

/// The web server's ends, held by the session.
pub struct WebHook {
    /// Commands from the page and where process states go.
    pub end: ControlsEnd,
    /// The page's live feed.
    pub feed: Feed,
}

/// The next command from the page; never ready without a web view.
pub async fn next_command(web: &mut Option<WebHook>) -> Option<Command> {
    match web {
        Some(w) => w.end.commands.recv().await,
        None => std::future::pending().await,
    }
}

fn proc_name(state: ProcState) -> &'static str {
    match state {
        ProcState::Up => "up",
        ProcState::Paused => "paused",
        ProcState::Down => "down",
    }
}

impl Session {
    /// Runs one button press and answers it.
    pub(super) fn on_web(&mut self, cmd: Command) {
        let result = self.run_action(cmd.action);
        let _ = cmd.reply.send(result);
        self.publish_processes();
    }

    fn run_action(&mut self, action: Action) -> Result<String, String> {
        let now = Instant::now();
        match action {
            Action::Kill(node) => {
                let pid = self.sup.kill(node).map_err(|e| format!("{e:#}"))?;
                self.faults.kills += 1;
                self.tell(&DemoEvent::Chaos(format!("web: kill -9 node {node} (pid {pid})")));
                Ok(format!(
                    "killed node {node} (pid {pid}); the demo restarts it {} after it exits",
                    crate::duration::format_duration(self.args.restart_delay)
                ))
            }
            Action::Pause(node) => {
                self.sup.pause(node).map_err(|e| format!("{e:#}"))?;
                self.faults.pauses += 1;
                self.tell(&DemoEvent::Chaos(format!("web: freeze node {node} with SIGSTOP")));
                Ok(format!("froze node {node} with SIGSTOP; resume it to let it rejoin"))
            }
            Action::Resume(node) => {
                if self.sup.state(node).0 != ProcState::Paused {
                    return Err(format!("node {node} is not paused"));
                }
                self.sup.resume(node).map_err(|e| format!("{e:#}"))?;
                self.resumes.remove(&node);
                self.tell(&DemoEvent::Resumed { node });
                Ok(format!("resumed node {node} with SIGCONT"))
            }
            Action::Partition(node) => {
                if let Some(p) = &self.partition {
                    return Err(format!("node {} is already cut off: heal first", p.node));
                }
                if !self.sup.ids().contains(&node) {
                    return Err(format!("no node {node}"));
                }
                self.partition_off(node, WEB_PARTITION_SPAN, now);
                Ok(format!(
                    "cut node {node} off from the others (heals by itself after {})",
                    crate::duration::format_duration(WEB_PARTITION_SPAN)
                ))
            }
            Action::Heal => {
                let Some(p) = &self.partition else { return Err("no partition in force".into()) };
                let node = p.node;
                self.heal_partition();
                Ok(format!("healed: node {node} talks to the others again"))
            }
        }
    }

    /// Tells the page which processes run.
    pub(super) fn publish_processes(&self) {
        let Some(web) = &self.web else { return };
        let nodes = self
            .sup
            .ids()
            .into_iter()
            .map(|n| {
                let (state, pid) = self.sup.state(n);
                let pid = if state == ProcState::Down { None } else { pid };
                (n, ProcessInfo { state: proc_name(state).to_string(), pid })
            })
            .collect();
        let processes = Processes { nodes, partitioned: self.partition.as_ref().map(|p| p.node) };
        web.end.processes.send_if_modified(|old| {
            let changed = *old != processes;
            *old = processes;
            changed
        });
    }

    /// Copies the narration of what the demo itself saw or did (exits,
    /// restarts, pauses, partitions, chaos) into the page's feed; the
    /// nodes' own events reach it from their Watch streams.
    pub(super) fn feed_lines(&self, event: &DemoEvent, lines: &[String]) {
        let Some(web) = &self.web else { return };
        if matches!(event, DemoEvent::Activity { .. } | DemoEvent::Status(_)) {
            return;
        }
        for line in lines {
            let text = line.split_once("] ").map(|(_, t)| t).unwrap_or(line).trim();
            web.feed.push(0, "fault", text.to_string());
        }
    }
}
