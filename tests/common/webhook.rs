//! A webhook receiver for hook tests: a std TcpListener on loopback that records every POST
//! (headers, body) and answers with the status a script picks per JSON body, or never
//! answers (holds the connection) when the script says None.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a request the script leaves unanswered is held open.
const HOLD: Duration = Duration::from_secs(120);

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

/// The status to answer a body with; None never answers (holds the connection).
pub type Script = Arc<dyn Fn(&Value) -> Option<u16> + Send + Sync>;

pub struct Receiver {
    pub addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(script: Script) -> Receiver {
        Receiver::on(TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    /// A receiver answering every request with `status`.
    pub fn answering(status: u16) -> Receiver {
        Receiver::start(Arc::new(move |_: &Value| Some(status)))
    }

    pub fn on(listener: TcpListener, script: Script) -> Receiver {
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

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far.
    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The requests so far whose body's `event` is `event`.
    pub fn of(&self, event: &str) -> Vec<Received> {
        self.all().into_iter().filter(|r| r.json()["event"] == event).collect()
    }

    /// Waits for a request whose body's `event` is `event` (and stream `stream`).
    pub fn wait(&self, event: &str, stream: &str) -> Received {
        let deadline = Instant::now() + super::DEADLINE;
        loop {
            let found = self.all().into_iter().find(|r| {
                let v = r.json();
                v["event"] == event && v["stream"] == stream
            });
            if let Some(found) = found {
                return found;
            }
            assert!(Instant::now() < deadline, "no {event} for {stream}: {:?}", self.all());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(socket: TcpStream, sink: &Mutex<Vec<Received>>, script: &Script) {
    let mut reader = BufReader::new(socket.try_clone().unwrap());
    let mut headers = Vec::new();
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
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
        std::thread::sleep(HOLD);
        return;
    };
    let mut socket = socket;
    let _ = write!(
        socket,
        "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

/// Checks the fields every hook body has: `event`, `app`, `stream`, `query`, a loopback
/// `client_addr`, a numeric `conn_id` and an RFC 3339 `time`.
pub fn assert_common_fields(v: &Value, event: &str, app: &str, stream: &str, query: &str) {
    assert_eq!(v["event"], event, "{v}");
    assert_eq!(v["app"], app, "{v}");
    assert_eq!(v["stream"], stream, "{v}");
    assert_eq!(v["query"], query, "{v}");
    let addr = v["client_addr"]
        .as_str()
        .unwrap_or_else(|| panic!("client_addr in {v}"));
    assert!(addr.parse::<SocketAddr>().unwrap().ip().is_loopback(), "{v}");
    assert!(v["conn_id"].as_u64().is_some(), "conn_id in {v}");
    let time = v["time"].as_str().unwrap_or_else(|| panic!("time in {v}"));
    let b = time.as_bytes();
    assert!(
        b.len() >= 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && (time.ends_with('Z') || time.contains('+')),
        "time is RFC 3339: {v}"
    );
}
