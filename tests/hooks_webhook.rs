//! Integration: webhooks. A receiver started here (std TcpListener, scripted status per
//! request) sees on_publish with the key in `query` and decides (403 refuses, 200 allows, no
//! answer refuses at --hook-timeout while another stream publishes); publish_done and
//! record_done arrive signed with their fields; a receiver down then up gets the notification
//! by retry; the key never reaches the log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::*;
use hmac::{Hmac, Mac};
use rtmp_server::client::RtmpClient;
use rtmp_server::media::FrameKind;
use serde_json::Value;
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);
const KEY: &str = "s3cr3t-KEY-4242";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

/// The status to answer a body with; None never answers (holds the connection).
type Script = Arc<dyn Fn(&Value) -> Option<u16> + Send + Sync>;

struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(script: Script) -> Receiver {
        Receiver::on(TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    fn on(listener: TcpListener, script: Script) -> Receiver {
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&got);
        std::thread::spawn(move || {
            for socket in listener.incoming().map_while(Result::ok) {
                let (sink, script) = (Arc::clone(&sink), Arc::clone(&script));
                std::thread::spawn(move || serve(socket, &sink, &script));
            }
        });
        Receiver { addr, got }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits for a request whose body's `event` is `event` (and stream `stream`).
    fn wait(&self, event: &str, stream: &str) -> Received {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let found = self
                .got
                .lock()
                .unwrap()
                .iter()
                .find(|r| {
                    let v = r.json();
                    v["event"] == event && v["stream"] == stream
                })
                .cloned();
            if let Some(found) = found {
                return found;
            }
            assert!(Instant::now() < deadline, "no {event} for {stream}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(socket: TcpStream, sink: &Mutex<Vec<Received>>, script: &Script) {
    let mut reader = BufReader::new(socket.try_clone().unwrap());
    let mut headers = Vec::new();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("POST "), "{line}");
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        if let Some((n, v)) = line.trim_end().split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .expect("bodies are sent with Content-Length");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let value: Value = serde_json::from_slice(&body).unwrap();
    sink.lock().unwrap().push(Received { headers, body });
    let Some(status) = script(&value) else {
        std::thread::sleep(Duration::from_secs(60));
        return;
    };
    let mut socket = socket;
    let _ = write!(
        socket,
        "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

fn publish(server: &ServerProcess, name: &str) -> Result<RtmpClient, String> {
    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).map_err(|e| e.to_string())?;
    client.publish(name).map_err(|e| e.to_string())?;
    Ok(client)
}

fn send_some(client: &mut RtmpClient) {
    for i in 0..10u32 {
        let body = [if i == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0, i as u8];
        client.send_frame(FrameKind::Video, i * 40, &body).unwrap();
    }
}

fn assert_key_never_logged(server: &ServerProcess) {
    for line in server.log_lines() {
        assert!(!line.contains(KEY), "the key is in the log: {line}");
    }
}

#[test]
fn on_publish_sees_the_key_and_its_status_decides_and_a_silent_receiver_refuses_at_the_timeout() {
    let receiver = Receiver::start(Arc::new(|v: &Value| match v["stream"].as_str() {
        Some("denied") => Some(403),
        Some("silent") => None,
        _ => Some(200),
    }));
    let url = receiver.url("/publish");
    let server = ServerProcess::start(&["--on-publish", &url, "--hook-timeout", "1s"]);

    let mut allowed = publish(&server, &format!("cam?key={KEY}")).expect("200 allows");
    let got = receiver.wait("publish", "cam").json();
    assert_eq!(got["query"], format!("key={KEY}"));
    assert_eq!(got["app"], "live");
    assert!(got["conn_id"].as_u64().is_some() && got["client_addr"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(got["time"].as_str().unwrap().contains('T'));

    let denied = publish(&server, &format!("denied?key={KEY}"));
    assert!(denied.is_err(), "403 refuses");
    server.wait_for_log("publish denied", TIMEOUT);

    // The silent receiver holds one decision; the allowed stream keeps publishing meanwhile.
    let started = Instant::now();
    let silent = std::thread::spawn({
        let addr = server.addr;
        move || {
            let mut client = RtmpClient::connect(addr, "live", TIMEOUT).unwrap();
            client.publish("silent").is_err()
        }
    });
    receiver.wait("publish", "silent");
    send_some(&mut allowed);
    assert!(silent.join().unwrap(), "no answer refuses");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(15),
        "{took:?}"
    );
    send_some(&mut allowed);
    allowed.unpublish().unwrap();
    assert_key_never_logged(&server);
}

#[test]
fn publish_done_and_record_done_arrive_signed_with_their_fields() {
    let dir = TempDir::new("hooks-signed");
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, "topsecret\n").unwrap();
    let receiver = Receiver::start(Arc::new(|_: &Value| Some(200)));
    let url = receiver.url("/done");
    let rec = dir.path().join("rec");
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        rec.to_str().unwrap(),
        "--on-publish-done",
        &url,
        "--on-record-done",
        &url,
        "--hook-secret-file",
        secret_file.to_str().unwrap(),
    ]);
    let mut client = publish(&server, &format!("cam?key={KEY}")).unwrap();
    send_some(&mut client);
    client.unpublish().unwrap();
    for (event, fields) in [
        ("publish_done", &["duration_ms", "bytes"][..]),
        ("record_done", &["path", "duration_ms", "bytes"][..]),
    ] {
        let got = receiver.wait(event, "cam");
        assert_eq!(got.header("content-type").as_deref(), Some("application/json"));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"topsecret").unwrap();
        mac.update(&got.body);
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got.header("x-rtmp-signature"), Some(format!("sha256={hex}")), "{event}");
        let v = got.json();
        for field in fields {
            assert!(!v[field].is_null(), "{event} has {field}: {v}");
        }
        assert_eq!(v["app"], "live");
        if event == "publish_done" {
            assert_eq!(v["query"], format!("key={KEY}"));
            assert!(v["bytes"].as_u64().unwrap() > 0);
        }
    }
    assert_key_never_logged(&server);
}

#[test]
fn a_receiver_that_is_down_then_up_gets_the_notification_by_retry() {
    // Reserve a port, close it (down), and start listening on it after the first failure.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/done");
    let server = ServerProcess::start(&["--on-publish-done", &url, "--hook-retries", "5"]);
    let mut client = publish(&server, "cam").unwrap();
    send_some(&mut client);
    client.unpublish().unwrap();
    server.wait_for_log("hook failed, retrying", TIMEOUT);
    let receiver = Receiver::on(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        Arc::new(|_: &Value| Some(204)),
    );
    let got = receiver.wait("publish_done", "cam").json();
    assert_eq!(got["event"], "publish_done");
    server.wait_for_log("hook done", TIMEOUT);
}
