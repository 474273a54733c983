//! The HTTP server facing untrusted viewers: a slowloris flood (200 connections trickling a
//! header byte every 2 s) at the connection cap leaves ingest, recording, RTMP players, an
//! HTTP-FLV viewer and /healthz alone (waiting connections are evicted, a streaming one never);
//! the per-address cap evicts that address's waiting connections and refuses (503) when all
//! its connections are busy; a head trickled byte by byte is dropped at the deadline counted
//! from its first byte; size limits answer 431/413; keep-alive ends after the request limit;
//! CORS for the viewer paths. Drops are counted in rtmp_http_connections_rejected_total.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_addr, http_request, parse_prometheus, wait_api_stream};
use common::players::{assert_suffix_of_source, ffmpeg_player, framemd5_lines};
use common::slowloris::{exchange, header, read_head, read_until_closed, status, Flood};
use common::*;
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The server's `MAX_REQUESTS_PER_CONNECTION` (src/http/server.rs).
const MAX_REQUESTS_PER_CONNECTION: usize = 1000;

fn rejected(reason: &str) -> String {
    format!("rtmp_http_connections_rejected_total{{reason=\"{reason}\"}}")
}

/// /metrics, retried while the server refuses the request (its connections all busy).
fn metrics_now(api: SocketAddr) -> HashMap<String, f64> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let reply = http_request(api, "GET", "/metrics", &[]);
        if reply.status == 200 {
            return parse_prometheus(&reply.body);
        }
        assert!(Instant::now() < deadline, "/metrics kept answering {}", reply.status);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the metric `name` reaches at least `least`; its value then.
fn wait_at_least(api: SocketAddr, name: &str, least: f64) -> f64 {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let value = metrics_now(api).get(name).copied().unwrap_or(0.0);
        if value >= least {
            return value;
        }
        assert!(Instant::now() < deadline, "{name} stayed at {value} (< {least})");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// GET /healthz over HTTP/1.0; the whole reply.
fn healthz(api: SocketAddr) -> String {
    exchange(api, b"GET /healthz HTTP/1.0\r\nHost: t\r\n\r\n", DEADLINE)
}

/// True while the server has neither answered nor closed `socket` (checked without waiting).
fn still_open(socket: &mut TcpStream) -> bool {
    socket.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let open = matches!(socket.peek(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock);
    socket.set_nonblocking(false).unwrap();
    open
}

#[test]
fn a_slowloris_flood_at_the_cap_leaves_ingest_recording_players_and_healthz_alone() {
    let dir = TempDir::new("http-slowloris");
    let clip = make_clip(dir.path(), "clip.flv", 10);
    let record_dir = dir.path().join("rec");
    // All clients are 127.0.0.1: the per-address cap is raised so the total cap (100, below
    // the flood's 200) is the one met, and the flood keeps evicting itself.
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--http-max-connections",
        "100",
        "--http-max-connections-per-ip",
        "1000",
    ]);
    let api = api_addr(&server);
    let flood = Flood::start(api, 200, Duration::from_secs(2));
    // 200 connections into 100 places: the waiting ones are being evicted.
    wait_at_least(api, &rejected("evicted"), 100.0);

    let mut publisher = ffmpeg_publish(&clip, &server.url("live/show"), true);
    wait_api_stream(&server, "live", "show", |s| s["publishing"] == true);
    let mut players = Vec::new();
    for (i, url) in [
        server.url("live/show"),
        server.url("live/show"),
        format!("http://{api}/live/live/show.flv"),
    ]
    .iter()
    .enumerate()
    {
        let out = dir.path().join(format!("player{i}.framemd5"));
        players.push((ffmpeg_player(url, &out), out));
    }
    wait_api_stream(&server, "live", "show", |s| s["players"] == 3);
    let evicted_before = metrics_now(api)[&rejected("evicted")];

    // Health checks keep answering at once while the flood goes on.
    let mut slowest = Duration::ZERO;
    let mut checks = 0;
    while publisher.try_wait().unwrap().is_none() {
        let started = Instant::now();
        let reply = healthz(api);
        assert_eq!(status(&reply), 200, "{reply}");
        slowest = slowest.max(started.elapsed());
        checks += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(wait_child(&mut publisher, DEADLINE).success());
    assert!(checks >= 5, "{checks} health checks during the publish");
    assert!(slowest < Duration::from_secs(5), "a health check took {slowest:?}");
    for (child, _) in players.iter_mut() {
        assert!(wait_child(child, DEADLINE).success(), "a player failed");
    }
    // The flood was still being evicted during the publish: it never got a busy place.
    let evicted_after = metrics_now(api)[&rejected("evicted")];
    let dropped = flood.stop();
    assert!(evicted_after > evicted_before, "{evicted_before} -> {evicted_after}");
    assert!(dropped >= 100, "the flood saw {dropped} drops");

    let source = framemd5(&clip);
    for (i, (_, out)) in players.iter().enumerate() {
        // The HTTP-FLV viewer (busy streaming) was never evicted: it got every packet.
        assert_suffix_of_source(&format!("player {i}"), &source, &framemd5_lines(out));
    }
    let recording = wait_recording_closed(&server, "show");
    assert_eq!(
        packet_hashes(&framemd5(&recording)),
        packet_hashes(&source),
        "recording packet-identical under the flood"
    );
}

/// A connection with part of a request sent.
fn waiting_connection(api: SocketAddr) -> TcpStream {
    let mut socket = TcpStream::connect(api).unwrap();
    socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n").unwrap();
    socket
}

#[test]
fn the_per_address_cap_evicts_that_address_waiting_connections_and_refuses_when_all_are_busy() {
    let dir = TempDir::new("http-per-ip");
    let clip = make_clip(dir.path(), "clip.flv", 8);
    let server = ServerProcess::start(&["--http-max-connections-per-ip", "3"]);
    let api = api_addr(&server);
    let mut publisher = ffmpeg_publish(&clip, &server.url("live/cam"), true);
    wait_api_stream(&server, "live", "cam", |s| s["publishing"] == true);

    // Three connections that have not finished a request fill 127.0.0.1's places (loopback
    // is not exempt).
    let mut waiting: Vec<TcpStream> = (0..3).map(|_| waiting_connection(api)).collect();
    // A fourth is served by evicting the longest-waiting one.
    assert_eq!(status(&healthz(api)), 200);
    assert_eq!(
        read_until_closed(&mut waiting[0], DEADLINE),
        Some(Vec::new()),
        "the oldest waiting connection is closed without an answer"
    );
    assert!(still_open(&mut waiting[1]) && still_open(&mut waiting[2]));
    // Full again (the health check's own place may not be free yet, then this evicts): the
    // next newcomers evict the oldest again, never the newest.
    let mut newest = waiting_connection(api);
    assert_eq!(status(&healthz(api)), 200);
    assert_eq!(read_until_closed(&mut waiting[1], DEADLINE), Some(Vec::new()));
    assert!(still_open(&mut newest), "the newest waiting connection stays");
    drop(waiting);
    drop(newest);

    // Three HTTP-FLV viewers are busy streaming: a newcomer does not evict them, it gets 503.
    let mut viewers: Vec<TcpStream> = Vec::new();
    for _ in 0..3 {
        let mut socket = TcpStream::connect(api).unwrap();
        socket
            .write_all(b"GET /live/live/cam.flv HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let head = read_head(&mut socket, DEADLINE).expect("viewer answered");
        assert_eq!(status(&head), 200, "{head}");
        viewers.push(socket);
    }
    let refused = healthz(api);
    assert_eq!(status(&refused), 503, "{refused}");
    for viewer in viewers.iter_mut() {
        let mut signature = [0u8; 3];
        viewer.read_exact(&mut signature).unwrap();
        assert_eq!(&signature, b"FLV", "the viewer kept its stream");
    }
    drop(viewers);
    assert!(wait_child(&mut publisher, DEADLINE).success());
    wait_at_least(api, &rejected("max_connections_per_ip"), 1.0);
    wait_at_least(api, &rejected("evicted"), 2.0);
}

#[test]
fn a_trickled_head_is_dropped_at_the_deadline_counted_from_its_first_byte() {
    let server = ServerProcess::start(&["--http-timeout", "2s"]);
    let api = api_addr(&server);
    let mut socket = TcpStream::connect(api).unwrap();
    // Silent for less than the timeout: idle time before a request is not part of its deadline.
    std::thread::sleep(Duration::from_millis(1500));
    let first_byte = Instant::now();
    let head = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ";
    let mut sent = 0usize;
    let reply = loop {
        let byte = head.get(sent).copied().unwrap_or(b'a');
        if socket.write_all(&[byte]).is_err() {
            break String::new();
        }
        sent += 1;
        if !still_open(&mut socket) {
            let rest = read_until_closed(&mut socket, DEADLINE).unwrap_or_default();
            break String::from_utf8_lossy(&rest).into_owned();
        }
        assert!(
            first_byte.elapsed() < Duration::from_secs(20),
            "a head trickled a byte every 250 ms kept the connection for 20 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let elapsed = first_byte.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1800) && elapsed < Duration::from_secs(8),
        "dropped {elapsed:?} after the first byte (timeout 2 s)"
    );
    assert!(reply.is_empty() || reply.starts_with("HTTP/1.1 408 "), "{reply}");
    wait_at_least(api, &rejected("request_timeout"), 1.0);
}

#[test]
fn a_client_that_stops_reading_a_download_is_dropped_after_the_timeout() {
    let dir = TempDir::new("http-slow-reader");
    let record_dir = dir.path().join("rec");
    std::fs::create_dir_all(&record_dir).unwrap();
    // Sparse: far more than the socket buffers hold, no disk used.
    let size: u64 = 512 * 1024 * 1024;
    std::fs::File::create(record_dir.join("big.flv"))
        .unwrap()
        .set_len(size)
        .unwrap();
    let server = ServerProcess::start(&["--record-dir", record_dir.to_str().unwrap(), "--http-timeout", "2s"]);
    let api = api_addr(&server);
    let mut socket = TcpStream::connect(api).unwrap();
    socket
        .write_all(b"GET /recordings/big.flv HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let head = read_head(&mut socket, DEADLINE).expect("download started");
    assert_eq!(status(&head), 200, "{head}");
    // Reads nothing more: once the buffers are full no write progresses, and the server drops it.
    wait_at_least(api, &rejected("slow_reader"), 1.0);
    let got = read_until_closed(&mut socket, DEADLINE).expect("closed by the server");
    assert!((got.len() as u64) < size, "the whole file went out");
}

#[test]
fn oversized_heads_get_431_and_oversized_bodies_413() {
    let server = ServerProcess::start(&[]);
    let api = api_addr(&server);
    // A head over 16 KiB.
    let big = format!("GET /healthz HTTP/1.1\r\nX-Filler: {}\r\n\r\n", "x".repeat(17 * 1024));
    let reply = exchange(api, big.as_bytes(), DEADLINE);
    assert_eq!(status(&reply), 431, "{reply}");
    // More than 64 header lines.
    let many: String = (0..80).map(|i| format!("X-H{i}: v\r\n")).collect();
    let reply = exchange(api, format!("GET /healthz HTTP/1.1\r\n{many}\r\n").as_bytes(), DEADLINE);
    assert_eq!(status(&reply), 431, "{reply}");
    // A body over 64 KiB is refused from its Content-Length, before it is sent.
    let reply = exchange(
        api,
        b"POST /api/session HTTP/1.1\r\nHost: t\r\nContent-Length: 65537\r\n\r\n",
        DEADLINE,
    );
    assert_eq!(status(&reply), 413, "{reply}");
    // At the limit the request is read and routed.
    let body = "x".repeat(64 * 1024);
    let request = format!(
        "POST /api/nothing HTTP/1.0\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let reply = exchange(api, request.as_bytes(), DEADLINE);
    assert_eq!(status(&reply), 404, "{reply}");
    wait_at_least(api, &rejected("head_too_large"), 2.0);
    wait_at_least(api, &rejected("body_too_large"), 1.0);
}

#[test]
fn keep_alive_ends_after_the_request_limit() {
    let server = ServerProcess::start(&[]);
    let api = api_addr(&server);
    let mut socket = TcpStream::connect(api).unwrap();
    for i in 1..=MAX_REQUESTS_PER_CONNECTION {
        socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let head = read_head(&mut socket, DEADLINE).unwrap_or_else(|| panic!("request {i} unanswered"));
        let length: usize = header(&head, "Content-Length").unwrap().parse().unwrap();
        let mut body = vec![0u8; length];
        socket.read_exact(&mut body).unwrap();
        let last = i == MAX_REQUESTS_PER_CONNECTION;
        let connection = header(&head, "Connection").unwrap();
        assert_eq!(connection, if last { "close" } else { "keep-alive" }, "request {i}");
    }
    assert_eq!(read_until_closed(&mut socket, DEADLINE), Some(Vec::new()));
}

/// The head of `METHOD PATH` with `headers` (HTTP/1.0, so the server closes after it).
fn ask(api: SocketAddr, method: &str, path: &str, headers: &[&str]) -> String {
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: t\r\n");
    for line in headers {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let reply = exchange(api, request.as_bytes(), DEADLINE);
    reply.split("\r\n\r\n").next().unwrap().to_owned()
}

#[test]
fn cors_answers_preflights_and_marks_viewer_responses_for_the_listed_origins() {
    let dir = TempDir::new("http-cors");
    let record_dir = dir.path().join("rec");
    std::fs::create_dir_all(&record_dir).unwrap();
    let server = ServerProcess::start(&[
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--http-cors-origin",
        "https://a.example, https://b.example",
    ]);
    let api = api_addr(&server);
    let preflight = [
        "Origin: https://a.example",
        "Access-Control-Request-Method: GET",
        "Access-Control-Request-Headers: range",
    ];
    // Viewer paths, /hls included whether or not a route serves it.
    for path in ["/live/live/cam.flv", "/hls/live/cam/index.m3u8", "/recordings/x.mp4"] {
        let head = ask(api, "OPTIONS", path, &preflight);
        assert_eq!(status(&head), 204, "{path}: {head}");
        assert_eq!(
            header(&head, "Access-Control-Allow-Origin").as_deref(),
            Some("https://a.example")
        );
        assert_eq!(
            header(&head, "Access-Control-Allow-Methods").as_deref(),
            Some("GET, HEAD, OPTIONS")
        );
        assert_eq!(header(&head, "Access-Control-Allow-Headers").as_deref(), Some("Range"));
        assert_eq!(header(&head, "Vary").as_deref(), Some("Origin"));
        assert_eq!(header(&head, "Content-Length"), None, "204 has no length: {head}");
    }
    // An origin not listed gets no permission.
    let head = ask(
        api,
        "OPTIONS",
        "/live/live/cam.flv",
        &["Origin: https://evil.example", "Access-Control-Request-Method: GET"],
    );
    assert_eq!(header(&head, "Access-Control-Allow-Origin"), None, "{head}");

    // Simple requests: the listed origin is echoed, with the headers a player reads.
    let head = ask(api, "GET", "/recordings", &["Origin: https://b.example"]);
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(
        header(&head, "Access-Control-Allow-Origin").as_deref(),
        Some("https://b.example")
    );
    assert_eq!(
        header(&head, "Access-Control-Expose-Headers").as_deref(),
        Some("Content-Length, Content-Range")
    );
    assert_eq!(header(&head, "Vary").as_deref(), Some("Origin"));
    let head = ask(api, "GET", "/live/live/cam.flv", &["Origin: https://evil.example"]);
    assert_eq!(status(&head), 404, "{head}");
    assert_eq!(header(&head, "Access-Control-Allow-Origin"), None, "{head}");
    // Not a viewer path: no CORS, and OPTIONS goes to the routes.
    let head = ask(api, "GET", "/healthz", &["Origin: https://a.example"]);
    assert_eq!(header(&head, "Access-Control-Allow-Origin"), None, "{head}");
    let head = ask(api, "OPTIONS", "/api/streams", &preflight);
    assert_eq!(status(&head), 405, "{head}");
    assert_eq!(header(&head, "Access-Control-Allow-Origin"), None, "{head}");

    // `*`: any origin.
    let any = ServerProcess::start(&["--http-cors-origin", "*"]);
    let head = ask(
        api_addr(&any),
        "GET",
        "/live/live/cam.flv",
        &["Origin: https://x.example"],
    );
    assert_eq!(
        header(&head, "Access-Control-Allow-Origin").as_deref(),
        Some("*"),
        "{head}"
    );
    // By default: no CORS headers at all, and OPTIONS is not answered for viewers.
    let off = ServerProcess::start(&[]);
    let head = ask(
        api_addr(&off),
        "GET",
        "/live/live/cam.flv",
        &["Origin: https://a.example"],
    );
    assert_eq!(header(&head, "Access-Control-Allow-Origin"), None, "{head}");
    let head = ask(api_addr(&off), "OPTIONS", "/live/live/cam.flv", &preflight);
    assert_ne!(status(&head), 204, "{head}");
}
