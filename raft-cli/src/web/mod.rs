//! The live web view: one page (`page.html`, plain HTML and JavaScript
//! embedded with `include_str!`, nothing fetched from the internet, no build
//! step) and the small HTTP API it uses.
//!
//! Why a page at all: people learn Raft by watching it. The page shows each
//! node's role and term, its log as a strip with the commit and applied
//! marks, the leader's view of every follower's progress (§5.3 matchIndex /
//! nextIndex), and a live feed of elections and faults. Under
//! `raft-cli demo --web` it also has buttons that kill, pause, partition and
//! heal nodes and write a key; under `raft-cli node --web` it only watches.
//!
//! API (JSON unless noted):
//! - `GET /` the page;
//! - `GET /api/state` the cluster as last polled ([`view::ClusterState`]);
//! - `GET /api/events` server-sent events: `state` (a `ClusterState` after
//!   every poll) and `feed` (a [`feed::FeedItem`]; the recent history first);
//! - `POST /api/nodes/{id}/{kill|pause|resume|partition}`, `POST /api/heal`
//!   (demo only, else 403): `{"ok":true,"message":..}` or `{"error":..}`;
//! - `POST /api/write` with `{"key":..,"value":..}`: a linearizable put
//!   through the cluster: `{"ok":true,"message":..}` or `{"error":..}`.

pub mod controls;
pub mod feed;
pub mod view;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::client::client_config;
use controls::{Action, Controls, Processes};
use feed::Feed;
use view::{ClusterState, ClusterView};

/// The page, served as is.
const PAGE: &str = include_str!("page.html");
/// A write from the page that gets no answer within this time fails.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the web server watches and may control.
pub struct WebOptions {
    /// Address to listen on (`127.0.0.1:8080`).
    pub listen: String,
    /// Every member: id to gRPC address.
    pub nodes: BTreeMap<u64, String>,
    /// The cluster id the nodes run with.
    pub cluster_id: String,
    /// The demo's controls and its process states; `None` for a node's view.
    pub controls: Option<(Controls, watch::Receiver<Processes>)>,
}

/// A running web view.
pub struct WebServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// The live feed (the demo adds its own fault lines).
    pub feed: Feed,
}

#[derive(Clone)]
struct AppState {
    state: watch::Receiver<ClusterState>,
    feed: Feed,
    controls: Option<Controls>,
    endpoints: Vec<String>,
    members: Vec<u64>,
    cluster_id: String,
}

/// Binds `options.listen` and serves the page and API in background tasks
/// for as long as the runtime runs.
pub async fn start(options: WebOptions) -> anyhow::Result<WebServer> {
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .with_context(|| format!("cannot listen on {} for the web view", options.listen))?;
    let addr = listener.local_addr().context("web view listener has no address")?;
    let cluster = ClusterView::new(options.nodes.clone(), &options.cluster_id);
    let feed = Feed::default();
    feed.follow(cluster.nodes(), &options.cluster_id);
    let (mode, processes, controls) = match options.controls {
        Some((controls, processes)) => ("demo", processes, Some(controls)),
        None => ("node", watch::channel(Processes::default()).1, None),
    };
    let (state_tx, state_rx) = watch::channel(ClusterState { mode: mode.into(), ..ClusterState::default() });
    tokio::spawn(cluster.run(mode, processes, state_tx));
    let app = AppState {
        state: state_rx,
        feed: feed.clone(),
        controls,
        endpoints: options.nodes.values().cloned().collect(),
        members: options.nodes.keys().copied().collect(),
        cluster_id: options.cluster_id,
    };
    let router = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/state", get(get_state))
        .route("/api/events", get(events))
        .route("/api/nodes/{id}/{action}", post(node_action))
        .route("/api/heal", post(heal))
        .route("/api/write", post(write))
        .with_state(app);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "web view stopped serving");
        }
    });
    Ok(WebServer { addr, feed })
}

async fn get_state(State(app): State<AppState>) -> Json<ClusterState> {
    Json(app.state.borrow().clone())
}

/// The SSE stream: the feed history, then every new state and feed item.
async fn events(State(app): State<AppState>) -> impl IntoResponse {
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(64);
    let mut state = app.state.clone();
    let mut items = app.feed.subscribe();
    let history = app.feed.history();
    tokio::spawn(async move {
        let first = state.borrow_and_update().clone();
        let mut out = vec![sse("state", &first)];
        out.extend(history.iter().map(|item| sse("feed", item)));
        for e in out {
            if tx.send(Ok(e)).await.is_err() {
                return;
            }
        }
        loop {
            let e = tokio::select! {
                changed = state.changed() => match changed {
                    Ok(()) => sse("state", &*state.borrow_and_update()),
                    Err(_) => return,
                },
                item = items.recv() => match item {
                    Ok(item) => sse("feed", &item),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                },
                _ = tx.closed() => return,
            };
            if tx.send(Ok(e)).await.is_err() {
                return;
            }
        }
    });
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default())
}

fn sse<T: serde::Serialize>(name: &str, value: &T) -> Event {
    Event::default().event(name).data(serde_json::to_string(value).unwrap_or_else(|_| "null".into()))
}

fn answer(status: StatusCode, result: Result<String, String>) -> Response {
    match result {
        Ok(message) => (status, Json(json!({ "ok": true, "message": message }))).into_response(),
        Err(error) => (status, Json(json!({ "ok": false, "error": error }))).into_response(),
    }
}

async fn control(app: &AppState, node: u64, action: Action) -> Response {
    let Some(controls) = &app.controls else {
        let msg = "fault controls exist only in `raft-cli demo --web`".to_string();
        return answer(StatusCode::FORBIDDEN, Err(msg));
    };
    match controls.run(action).await {
        Ok(message) => {
            app.feed.push(node, "fault", message.clone());
            answer(StatusCode::OK, Ok(message))
        }
        Err(e) => answer(StatusCode::CONFLICT, Err(e)),
    }
}

async fn node_action(State(app): State<AppState>, Path((id, name)): Path<(u64, String)>) -> Response {
    if !app.members.contains(&id) {
        return answer(StatusCode::NOT_FOUND, Err(format!("no node {id}")));
    }
    match Action::for_node(&name, id) {
        Some(action) => control(&app, id, action).await,
        None => answer(StatusCode::NOT_FOUND, Err(format!("no action {name:?} (kill, pause, resume, partition)"))),
    }
}

async fn heal(State(app): State<AppState>) -> Response {
    control(&app, 0, Action::Heal).await
}

#[derive(Deserialize)]
struct WriteBody {
    key: String,
    value: String,
}

async fn write(State(app): State<AppState>, Json(body): Json<WriteBody>) -> Response {
    if body.key.is_empty() {
        return answer(StatusCode::BAD_REQUEST, Err("the key is empty".into()));
    }
    let config = client_config(&app.cluster_id, WRITE_TIMEOUT);
    let result = match raft_rpc::KvClient::new(&app.endpoints, config) {
        Ok(mut client) => client.put(body.key.clone(), body.value.clone()).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(_) => {
            let message = format!("wrote {} = {}", body.key, body.value);
            app.feed.push(0, "write", message.clone());
            answer(StatusCode::OK, Ok(message))
        }
        Err(e) => answer(StatusCode::SERVICE_UNAVAILABLE, Err(format!("write failed: {e}"))),
    }
}
