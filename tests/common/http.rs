//! HTTP API helpers for integration tests: one HTTP/1.0 request with headers, a small
//! Prometheus text parser, and the API address the server logged.

use super::log_contract::HTTP_API_LISTENING;
use super::{field, ServerProcess, DEADLINE};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;

/// One HTTP/1.0 reply: status, raw header block and body.
pub struct HttpReply {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl HttpReply {
    /// The value of a header (name compared without regard to case).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.0 request with extra header lines (`Name: value`) to the API.
pub fn http_request(addr: SocketAddr, method: &str, path: &str, headers: &[&str]) -> HttpReply {
    http_request_body(addr, method, path, headers, "")
}

/// One HTTP/1.0 request with extra header lines and a body to the API.
pub fn http_request_body(addr: SocketAddr, method: &str, path: &str, headers: &[&str], body: &str) -> HttpReply {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    let length = body.len();
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: test\r\nContent-Length: {length}\r\n");
    for line in headers {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    socket.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    HttpReply {
        status: status_line.split(' ').nth(1).unwrap().parse().unwrap(),
        headers: headers.to_owned(),
        body: body.to_owned(),
    }
}

/// Parses Prometheus text: every non-comment line is `name{labels} value`.
pub fn parse_prometheus(text: &str) -> std::collections::HashMap<String, f64> {
    let mut samples = std::collections::HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            let kind = comment.split_whitespace().next().unwrap();
            assert!(kind == "HELP" || kind == "TYPE", "bad comment line {line:?}");
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad sample line {line:?}"));
        let metric = name.split('{').next().unwrap();
        assert!(
            metric.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad name {name:?}"
        );
        if name.contains('{') {
            assert!(name.ends_with('}'), "bad labels {name:?}");
        }
        samples.insert(
            name.to_owned(),
            value.parse::<f64>().unwrap_or_else(|_| panic!("bad value {line:?}")),
        );
    }
    samples
}

/// The HTTP API address the server logged.
pub fn api_addr(server: &ServerProcess) -> SocketAddr {
    field(&server.wait_for_log(HTTP_API_LISTENING, DEADLINE), "addr")
        .unwrap()
        .parse()
        .unwrap()
}

/// Every /metrics sample of the server now (name with labels -> value).
pub fn metrics(server: &ServerProcess) -> HashMap<String, f64> {
    let reply = http_request(api_addr(server), "GET", "/metrics", &[]);
    assert_eq!(reply.status, 200, "GET /metrics: {}", reply.body);
    parse_prometheus(&reply.body)
}

/// The counter or gauge `name` (with its labels, if any) in `samples`, if present.
fn count(samples: &HashMap<String, f64>, name: &str) -> Option<u64> {
    let value = *samples.get(name)?;
    assert!(value >= 0.0 && value.fract() == 0.0, "{name} is not a count: {value}");
    Some(value as u64)
}

/// One /metrics count now (`name` with its labels, if any); panics if it is missing.
pub fn metric(server: &ServerProcess, name: &str) -> u64 {
    let samples = metrics(server);
    count(&samples, name).unwrap_or_else(|| panic!("no metric {name} in {samples:?}"))
}

/// Waits until the /metrics count `name` satisfies `condition`; returns its value then.
pub fn wait_metric(server: &ServerProcess, name: &str, condition: impl Fn(u64) -> bool) -> u64 {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let value = count(&metrics(server), name);
        if let Some(value) = value.filter(|v| condition(*v)) {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "metric {name} did not reach the expected value within {DEADLINE:?} (last {value:?})"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The streams /api/streams lists now.
pub fn api_streams(server: &ServerProcess) -> Vec<Value> {
    let reply = http_request(api_addr(server), "GET", "/api/streams", &[]);
    assert_eq!(reply.status, 200, "GET /api/streams: {}", reply.body);
    reply.json()["streams"].as_array().cloned().unwrap_or_default()
}

/// The /api/streams entry of app/stream now, if it is listed.
pub fn api_stream(server: &ServerProcess, app: &str, stream: &str) -> Option<Value> {
    api_streams(server)
        .into_iter()
        .find(|s| s["app"] == app && s["stream"] == stream)
}

/// Waits until app/stream is listed by /api/streams and its entry satisfies `condition`;
/// returns the entry then.
pub fn wait_api_stream(server: &ServerProcess, app: &str, stream: &str, condition: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let entry = api_stream(server, app, stream);
        if let Some(entry) = entry.as_ref().filter(|s| condition(s)) {
            return entry.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/api/streams {app}/{stream} did not reach the expected state within {DEADLINE:?} (last {entry:?})"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
