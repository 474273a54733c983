//! Idle and slow peers: 2000 idle connections (the excess over --max-connections refused,
//! the rest closed at the handshake deadline, memory bounded), connections that go silent
//! before their first media message (--first-packet-timeout) and a player that stops reading
//! (--write-timeout). Each time only the offending connections are closed, with a log line,
//! and FFmpeg records another stream packet-identical to its source.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{metric, wait_metric};
use common::log_contract::{max_connections_reached, reason, CONNECTION_CLOSED, CONNECTION_REFUSED};
use common::*;
use rtmp_server::client::RtmpClient;
use rtmp_server::media::FrameKind;
use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Idle connections opened at once.
const IDLE: usize = 2000;
/// Connections opened before waiting for the server to take them (under the backlog of 128).
const BATCH: usize = 100;
/// The server's default --max-connections.
const MAX_CONNECTIONS: usize = 1000;
/// `--handshake-timeout` of the idle-connection test: far longer than accepting or refusing
/// all of them takes (well under a second on an idle machine), so none expires meanwhile.
const HANDSHAKE_TIMEOUT: &str = "10s";

/// The soft limit on open files of this process, raised with prlimit(1) (our own PID) to
/// `needed` if the hard limit allows; panics with what to do otherwise.
fn ensure_open_files(needed: u64) {
    let soft = || {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap()
            .to_owned();
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields[3].parse::<u64>().unwrap_or(u64::MAX), fields[4].to_owned())
    };
    let (current, hard) = soft();
    if current >= needed {
        return;
    }
    let _ = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &std::process::id().to_string(),
            &format!("--nofile={needed}:{hard}"),
        ])
        .status();
    let (raised, _) = soft();
    assert!(
        raised >= needed,
        "this test needs {needed} open files (has {raised}, hard limit {hard}): run `ulimit -n {needed}` first"
    );
}

/// Log lines of connections the server refused, so far.
fn refused_lines(server: &ServerProcess) -> Vec<String> {
    server
        .log_lines()
        .into_iter()
        .filter(|l| l.contains(CONNECTION_REFUSED))
        .collect()
}

/// How many connections the server closed for `why` (a `reason=` value), so far.
fn closed_for(server: &ServerProcess, why: &str) -> usize {
    server
        .log_lines()
        .iter()
        .filter(|l| l.contains(CONNECTION_CLOSED) && field(l, "reason").as_deref() == Some(why))
        .count()
}

/// True once the server has closed `socket` (EOF or reset) within `timeout`.
fn closed_by_server(socket: &mut TcpStream, timeout: Duration) -> bool {
    socket.set_read_timeout(Some(timeout)).unwrap();
    let mut byte = [0u8; 1];
    match socket.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    }
}

#[test]
fn two_thousand_idle_connections_are_refused_past_the_limit_and_closed_at_the_handshake_deadline() {
    ensure_open_files(2 * IDLE as u64 + 512);
    let guarded = GuardedServer::start("hostile-idle", 14, &["--handshake-timeout", HANDSHAKE_TIMEOUT]);
    let server = &guarded.server;
    let handshake_timeout = Duration::from_secs(HANDSHAKE_TIMEOUT.trim_end_matches('s').parse().unwrap());
    let before = guarded.rss_kib();
    let accepted_before = metric(server, "rtmp_connections_total");
    let refused_before = refused_lines(server).len();
    let accepted = || (metric(server, "rtmp_connections_total") - accepted_before) as usize;
    let refused = || refused_lines(server).len() - refused_before;
    let started = Instant::now();
    let mut sockets: Vec<TcpStream> = Vec::with_capacity(IDLE);
    // In batches the listen backlog holds, so no SYN is dropped and retried a second later.
    while sockets.len() < IDLE {
        for _ in 0..BATCH {
            sockets.push(TcpStream::connect_timeout(&server.addr, ATTACK_TIMEOUT).expect("connect"));
        }
        wait_until("a batch of idle connections accepted or refused", DEADLINE, || {
            accepted() + refused() >= sockets.len()
        });
    }
    let open_time = started.elapsed();
    let peak = guarded.rss_kib();
    let (accepted, refused) = (accepted(), refused());
    eprintln!(
        "{IDLE} connections opened in {open_time:?}: {accepted} accepted, {refused} refused; server RSS KiB before {before}, with them {peak}"
    );
    // No slot was freed by the handshake deadline while they were opened (the first one
    // was accepted after `started`), so every slot but the good publisher's was taken, and
    // every connection beyond them refused for the limit.
    assert!(
        open_time < handshake_timeout,
        "accepting or refusing {IDLE} connections took {open_time:?}, longer than --handshake-timeout {HANDSHAKE_TIMEOUT}"
    );
    assert_eq!(accepted, MAX_CONNECTIONS - 1, "all slots but the publisher's taken");
    assert_eq!(refused, IDLE - accepted, "the rest refused");
    let limit = max_connections_reached(MAX_CONNECTIONS);
    let refusals = refused_lines(server);
    assert!(
        refusals[refused_before..]
            .iter()
            .all(|l| field(l, "error").as_deref() == Some(limit.as_str())),
        "every refusal is for the connection limit"
    );
    // At the handshake deadline the server closes them: only the good publisher (until its
    // clip ends) is left.
    wait_metric(server, "rtmp_connections", |open| open <= 1);
    for socket in &mut sockets {
        assert!(
            closed_by_server(socket, ATTACK_TIMEOUT),
            "an idle connection stayed open"
        );
    }
    drop(sockets);
    let after = guarded.rss_kib();
    eprintln!("server RSS KiB after they were closed: {after}");
    assert!(peak < 512 * 1024, "RSS {peak} KiB with {accepted} idle connections");
    assert!(
        after < before + 64 * 1024,
        "RSS {after} KiB after the idle connections closed ({before} KiB before): a leak?"
    );
    assert_eq!(
        closed_for(server, reason::HANDSHAKE_TIMEOUT),
        accepted,
        "only the idle connections closed, each at the handshake deadline"
    );
    guarded.finish();
}

#[test]
fn silence_before_the_first_media_message_hits_the_first_packet_timeout() {
    let guarded = GuardedServer::start(
        "hostile-first-packet",
        8,
        &["--first-packet-timeout", "2s", "--idle-timeout", "60s"],
    );
    let server = &guarded.server;
    // Handshake and connect, then nothing.
    let silent = RtmpClient::connect(server.addr, "live", ATTACK_TIMEOUT).unwrap();
    let silent_addr = silent.socket().local_addr().unwrap();
    // publish, then no media.
    let mut mute = RtmpClient::connect(server.addr, "live", ATTACK_TIMEOUT).unwrap();
    mute.publish("mute").unwrap();
    let mute_addr = mute.socket().local_addr().unwrap();
    for addr in [silent_addr, mute_addr] {
        let line = closed_line(server, addr);
        assert_eq!(
            field(&line, "reason").as_deref(),
            Some(reason::FIRST_PACKET_TIMEOUT),
            "{line}"
        );
    }
    // Once media has flowed the idle timeout (60s) applies: a 3 s pause is fine.
    let mut steady = RtmpClient::connect(server.addr, "live", ATTACK_TIMEOUT).unwrap();
    steady.publish("steady").unwrap();
    steady
        .send_frame(FrameKind::Audio, 0, &[0xAF, 0x00, 0x12, 0x10])
        .unwrap();
    steady.round_trip().unwrap();
    std::thread::sleep(Duration::from_secs(3)); // the pause under test, not a synchronisation
    steady.send_frame(FrameKind::Audio, 3000, &[0xAF, 0x01, 0x21]).unwrap();
    steady
        .round_trip()
        .expect("a publisher that sent media was closed by the first-packet timeout");
    guarded.finish();
}

#[test]
fn a_player_that_stops_reading_is_closed_by_the_write_timeout() {
    let guarded = GuardedServer::start(
        "hostile-write",
        8,
        &[
            "--write-timeout",
            "2s",
            "--play-max-lag",
            "60s",
            "--no-record",
            "live/flood",
        ],
    );
    let server = &guarded.server;
    let mut stuck = RtmpClient::connect(server.addr, "live", ATTACK_TIMEOUT).unwrap();
    stuck.play("flood").unwrap();
    let stuck_addr = stuck.socket().local_addr().unwrap();
    let mut publisher = RtmpClient::connect(server.addr, "live", ATTACK_TIMEOUT).unwrap();
    publisher.publish("flood").unwrap();
    publisher
        .send_frame(FrameKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1F])
        .unwrap();
    // 40 MB of keyframes, far more than the socket buffers and the player queue hold.
    let mut frame = vec![0x17, 1, 0, 0, 0];
    frame.resize(100_000, 0x55);
    for i in 0..400u32 {
        publisher.send_frame(FrameKind::Video, i * 40, &frame).unwrap();
    }
    publisher.flush().unwrap();
    let line = closed_line(server, stuck_addr);
    assert_eq!(
        field(&line, "reason").as_deref(),
        Some(reason::WRITE_TIMEOUT),
        "the close names the write timeout: {line}"
    );
    // The publisher goes on.
    publisher.round_trip().expect("the publisher was disturbed");
    publisher.unpublish().unwrap();
    drop(stuck);
    guarded.finish();
}
