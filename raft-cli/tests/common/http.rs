//! A minimal HTTP/1.1 client for the tests of the metrics endpoint and the
//! web view (no HTTP client crate in the workspace): one request per
//! connection, `Connection: close`, fixed-length or chunked bodies.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A response: status code, headers (lower-cased names) and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn request(addr: &str, method: &str, path: &str, body: Option<&str>) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_lowercase(), v.trim().to_string()));
        }
    }
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let mut raw = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk)?;
            raw.extend_from_slice(&chunk[..size]);
        }
    } else {
        r.read_to_end(&mut raw)?;
    }
    Ok(Response { status, headers, body: String::from_utf8_lossy(&raw).into_owned() })
}

/// `GET path`; `None` if the server cannot be reached.
pub fn get(addr: &str, path: &str) -> Option<Response> {
    request(addr, "GET", path, None).ok()
}

/// `POST path` with a JSON body (or none).
pub fn post(addr: &str, path: &str, body: Option<&str>) -> Response {
    request(addr, "POST", path, body).unwrap_or_else(|e| panic!("POST {path} to {addr}: {e}"))
}

/// Opens `path` as a server-sent event stream and returns the first
/// `(event, data)` pairs until `done` says enough (or the read times out).
pub fn sse_events(addr: &str, path: &str, mut done: impl FnMut(&[(String, String)]) -> bool) -> Vec<(String, String)> {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    let r = BufReader::new(s);
    let mut events = Vec::new();
    let (mut name, mut data) = (String::new(), String::new());
    for line in r.lines() {
        let Ok(line) = line else { break };
        // Chunked framing lines (sizes) carry no colon-prefixed field; skip them.
        if let Some(v) = line.strip_prefix("event:") {
            name = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        } else if line.is_empty() && !name.is_empty() {
            events.push((std::mem::take(&mut name), std::mem::take(&mut data)));
            if done(&events) {
                break;
            }
        }
    }
    events
}
