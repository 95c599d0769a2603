// Drives the raft-kv web view in headless Chromium through the DevTools
// protocol, for tests/tests/web_view.rs. Node 20 with --experimental-websocket
// (its built-in WebSocket); no npm packages.
//
//   node --experimental-websocket tests/web/drive.mjs --chromium /usr/bin/chromium \
//        --url http://127.0.0.1:8080/ --out DIR --bound-ms 15000
//
// Steps: open the page; wait until it shows three nodes and a leader; save
// DIR/web-view.png; click the leader's "kill -9" button with real mouse
// events; wait (at most --bound-ms) until the page shows another leader;
// save DIR/web-view-after-kill.png. Prints one JSON line with what it saw
// and exits 0, or prints why on stderr and exits 1.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function args() {
  const a = process.argv.slice(2);
  const out = {};
  for (let i = 0; i < a.length; i += 2) out[a[i].replace(/^--/, "")] = a[i + 1];
  for (const k of ["chromium", "url", "out"]) if (!out[k]) throw new Error(`--${k} is required`);
  out.boundMs = Number(out["bound-ms"] ?? 15000);
  return out;
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

async function until(what, ms, check) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

/// Starts Chromium and resolves with its browser DevTools WebSocket URL.
function launch(chromium, profile) {
  const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    `--user-data-dir=${profile}`, "--remote-debugging-port=0", "--window-size=1280,900", "about:blank"];
  const child = spawn(chromium, flags, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  const ws = new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`chromium printed no DevTools URL in 60 s: ${err}`)), 60000);
    child.stderr.on("data", d => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on("exit", code => reject(new Error(`chromium exited (${code}): ${err}`)));
  });
  return { child, ws };
}

/// A DevTools connection: send(method, params, sessionId) -> result.
async function connect(url) {
  const sock = new WebSocket(url);
  await new Promise((res, rej) => { sock.onopen = res; sock.onerror = () => rej(new Error("DevTools socket failed")); });
  let next = 1;
  const waiting = new Map();
  sock.onmessage = ev => {
    const msg = JSON.parse(ev.data);
    const w = msg.id && waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.error) w.reject(new Error(`${w.method}: ${msg.error.message}`)); else w.resolve(msg.result);
  };
  const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
    const id = next++;
    waiting.set(id, { resolve, reject, method });
    sock.send(JSON.stringify({ id, method, params, sessionId }));
    setTimeout(() => { if (waiting.delete(id)) reject(new Error(`${method}: no answer in 30 s`)); }, 30000);
  });
  return { send, close: () => sock.close() };
}

async function main() {
  const opt = args();
  const profile = mkdtempSync(join(tmpdir(), "raft-web-view-"));
  const { child, ws } = launch(opt.chromium, profile);
  try {
    const cdp = await connect(await ws);
    const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
    const page = (m, p) => cdp.send(m, p, sessionId);
    await page("Page.enable");
    await page("Emulation.setDeviceMetricsOverride", { width: 1280, height: 900, deviceScaleFactor: 1, mobile: false });
    await page("Page.navigate", { url: opt.url });
    const evaluate = async expr => (await page("Runtime.evaluate", { expression: expr, returnByValue: true })).result.value;
    const view = () => evaluate(`(() => {
      const s = document.getElementById("summary");
      return { nodes: document.querySelectorAll(".node").length, leader: s ? s.dataset.leader : "",
               leaderCards: document.querySelectorAll('.node[data-role="leader"]').length, text: s ? s.textContent : "" };
    })()`);
    const before = await until("three nodes and a leader on the page", 60000, async () => {
      const v = await view();
      return v.nodes === 3 && v.leader !== "" && v.leaderCards >= 1 ? v : null;
    });
    await sleep(1500); // let a few more polls fill the log strips and the feed
    const shot = async name => {
      const { data } = await page("Page.captureScreenshot", { format: "png" });
      writeFileSync(join(opt.out, name), Buffer.from(data, "base64"));
    };
    await shot("web-view.png");
    const leader = before.leader;
    const box = await evaluate(`(() => {
      const b = document.querySelector('button[data-action="kill"][data-node="${leader}"]');
      if (!b) return null;
      b.scrollIntoView({ block: "center" });
      const r = b.getBoundingClientRect();
      return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
    })()`);
    if (!box) throw new Error(`no kill button for leader ${leader}`);
    const clicked = Date.now();
    for (const type of ["mousePressed", "mouseReleased"]) {
      await page("Input.dispatchMouseEvent", { type, x: box.x, y: box.y, button: "left", clickCount: 1 });
    }
    const after = await until(`a leader other than node ${leader}`, opt.boundMs, async () => {
      const v = await view();
      return v.leader !== "" && v.leader !== leader && v.nodes === 3 ? v : null;
    });
    const newLeaderMs = Date.now() - clicked;
    await sleep(1000);
    await shot("web-view-after-kill.png");
    const result = await evaluate(`document.getElementById("result").textContent`);
    console.log(JSON.stringify({ nodes: before.nodes, leader_before: Number(leader), leader_after: Number(after.leader),
      new_leader_ms: newLeaderMs, click_result: result, summary_after: after.text }));
    cdp.close();
  } finally {
    try { process.kill(-child.pid, "SIGKILL"); } catch { /* already gone */ }
    rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), e => { console.error(`drive.mjs: ${e.message}`); process.exit(1); });
