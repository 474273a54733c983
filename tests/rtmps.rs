//! RTMPS (issue 6): the test makes its own CA and a certificate for localhost/127.0.0.1
//! (rcgen), starts the server with --tls-listen, and checks that FFmpeg and the project's
//! client publish and play over TLS with exact recordings, that plain RTMP to the TLS port
//! and an untrusted certificate are refused cleanly, that bad certificate/key files stop the
//! server at start-up, and that a stalled TLS handshake is closed by --handshake-timeout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::wait_api_stream;
use common::log_contract::*;
use common::pki::{make_pki, recording_tls_server, Pki};
use common::*;
use rtmp_server::client::{ClientError, PlayEvent, RtmpClient};
use rtmp_server::flv::reader::read_all;
use rtmp_server::tls::rustls::{self, CertificateError};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A recording server (into DIR/rec) with an RTMPS listener; returns it and its TLS address.
fn tls_server(dir: &Path, pki: &Pki, extra: &[&str]) -> (ServerProcess, SocketAddr) {
    recording_tls_server(&dir.join("rec"), pki, extra)
}

fn tls_client(addr: SocketAddr, ca: &Path) -> Result<RtmpClient, ClientError> {
    let config = rtmp_server::tls::client_config_only(ca).unwrap();
    RtmpClient::connect_tls(addr, "localhost", "live", config, TIMEOUT)
}

#[test]
fn ffmpeg_publishes_over_rtmps_and_the_recording_is_packet_identical() {
    let dir = TempDir::new("rtmps-ffmpeg");
    let pki = make_pki(dir.path(), "a");
    let (server, tls_addr) = tls_server(dir.path(), &pki, &[]);
    let clip = make_clip(dir.path(), "clip.flv", 3);
    // This Debian FFmpeg's TLS is GnuTLS: it verifies only with -tls_verify 1 (the publisher
    // does, with the test CA; the player does not).
    let url = format!("rtmps://localhost:{}/live/secure", tls_addr.port());
    // An FFmpeg player over rtmps:// waits for the publisher, then gets every packet.
    let played = dir.path().join("played.framemd5");
    let mut player = Command::new("ffmpeg")
        .args([
            "-v", "error", "-nostdin", "-i", &url, "-c", "copy", "-f", "framemd5", "-y",
        ])
        .arg(&played)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ffmpeg player");
    wait_api_stream(&server, "live", "secure", |s| s["players"] == 1);
    let (status, errors) = ffmpeg_publish_verifying(&clip, &url, &pki.ca);
    assert!(status.success(), "ffmpeg rtmps publish failed: {errors}");
    let recording = wait_recording_closed(&server, "secure");
    let source = framemd5(&clip);
    assert_eq!(framemd5(&recording), source);
    let status = wait_child(&mut player, DEADLINE);
    let mut errors = String::new();
    player.stderr.take().unwrap().read_to_string(&mut errors).unwrap();
    assert!(status.success(), "ffmpeg rtmps player failed: {errors}");
    let played: Vec<String> = std::fs::read_to_string(&played)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        packet_hashes(&played),
        packet_hashes(&source),
        "the rtmps player's packets"
    );
    let opened = server.wait_for_logs("tls=true", 2, DEADLINE);
    assert!(opened.iter().all(|l| l.contains(CONNECTION_OPENED)), "{opened:?}");
    // FFmpeg trusting another CA refuses the server's certificate.
    let other = make_pki(dir.path(), "other");
    let wrong = format!("rtmps://localhost:{}/live/untrusted", tls_addr.port());
    let (status, errors) = ffmpeg_publish_verifying(&clip, &wrong, &other.ca);
    assert!(!status.success(), "ffmpeg accepted a certificate of another CA");
    assert!(errors.contains("verification"), "{errors}");
}

/// `ffmpeg -c copy -tls_verify 1 -ca_file CA -f flv URL`; returns its status and stderr.
fn ffmpeg_publish_verifying(source: &Path, url: &str, ca: &Path) -> (std::process::ExitStatus, String) {
    require_tool("ffmpeg");
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(source)
        .args(["-c", "copy", "-tls_verify", "1", "-ca_file"])
        .arg(ca)
        .args(["-f", "flv", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ffmpeg");
    let status = wait_child(&mut child, DEADLINE);
    let mut errors = String::new();
    child.stderr.take().unwrap().read_to_string(&mut errors).unwrap();
    (status, errors)
}

#[test]
fn plain_rtmp_to_the_tls_port_is_refused_and_the_server_goes_on() {
    let dir = TempDir::new("rtmps-plain");
    let pki = make_pki(dir.path(), "a");
    let (server, tls_addr) = tls_server(dir.path(), &pki, &[]);
    let refused = RtmpClient::connect(tls_addr, "live", TIMEOUT);
    assert!(refused.is_err(), "plain RTMP got through on the TLS port");
    let line = server.wait_for_log(TLS_HANDSHAKE_FAILED, DEADLINE);
    assert!(line.contains("remote=127.0.0.1:"), "{line}");
    assert!(line.contains(PLAIN_RTMP_ON_TLS_PORT), "{line}");
    server.wait_for_log(&closed_for(reason::TLS_ERROR), DEADLINE);
    // TLS to the plain port is refused by the RTMP version check.
    let wrong_port = tls_client(server.addr, &pki.ca);
    assert!(wrong_port.is_err(), "TLS got through on the plain port");
    server.wait_for_log(PROTOCOL_ERROR, DEADLINE);
    // Both ports still serve.
    let clip = make_clip(dir.path(), "clip.flv", 2);
    let mut client = tls_client(tls_addr, &pki.ca).unwrap();
    client.publish("after").unwrap();
    client.send_flv(&std::fs::read(&clip).unwrap()).unwrap();
    client.unpublish().unwrap();
    let recording = wait_recording_closed(&server, "after");
    assert_eq!(framemd5(&recording), framemd5(&clip));
    RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
}

/// Audio and video tag bodies of an FLV file, in order.
fn media_bodies(flv: &[u8]) -> Vec<(u8, Vec<u8>)> {
    read_all(flv)
        .unwrap()
        .1
        .into_iter()
        .filter(|tag| tag.tag_type == 8 || tag.tag_type == 9)
        .map(|tag| (tag.tag_type, tag.body.to_vec()))
        .collect()
}

#[test]
fn own_client_over_tls_publishes_and_plays_verifying_the_test_ca() {
    let dir = TempDir::new("rtmps-client");
    let pki = make_pki(dir.path(), "a");
    let (server, tls_addr) = tls_server(dir.path(), &pki, &[]);
    let clip = make_clip(dir.path(), "clip.flv", 3);
    let source = std::fs::read(&clip).unwrap();
    let expected = media_bodies(&source);
    // A player over TLS waits for the publisher: its writer thread shares the TLS session
    // with the connection thread that reads the player's acks.
    let mut player = tls_client(tls_addr, &pki.ca).unwrap();
    player.play("mine").unwrap();
    wait_api_stream(&server, "live", "mine", |s| s["players"] == 1);
    let mut publisher = tls_client(tls_addr, &pki.ca).unwrap();
    publisher.publish("mine").unwrap();
    let sent = publisher.send_flv(&source).unwrap();
    publisher.unpublish().unwrap();
    let mut received = Vec::new();
    let mut stamps = Vec::new();
    loop {
        match player.read_play_event().unwrap() {
            PlayEvent::Media(message) if message.type_id == 8 || message.type_id == 9 => {
                stamps.push((message.type_id, message.timestamp, message.payload.get(1) == Some(&0)));
                received.push((message.type_id, message.payload));
            }
            PlayEvent::Media(_) => {}
            PlayEvent::Status(code) if code == "NetStream.Play.UnpublishNotify" => break,
            PlayEvent::Status(_) => {}
        }
    }
    assert_eq!(received.len(), expected.len(), "player frames");
    assert!(received == expected, "the TLS player's frames differ from the source");
    // Every frame reaches this player through its writer thread's queue (no direct sends
    // over TLS): its timestamps are the source's, shifted by one constant.
    let source_stamps: Vec<(u8, u32, bool)> = read_all(&source)
        .unwrap()
        .1
        .into_iter()
        .filter(|tag| tag.tag_type == 8 || tag.tag_type == 9)
        .map(|tag| (tag.tag_type, tag.timestamp, tag.body.get(1) == Some(&0)))
        .collect();
    let media = |s: &[(u8, u32, bool)]| -> Vec<(u8, u32)> {
        s.iter()
            .filter(|(_, _, header)| !header)
            .map(|&(t, ts, _)| (t, ts))
            .collect()
    };
    let (played, sourced) = (media(&stamps), media(&source_stamps));
    let shift = sourced[0].1.wrapping_sub(played[0].1);
    let unshifted: Vec<(u8, u32)> = played.iter().map(|&(t, ts)| (t, ts.wrapping_add(shift))).collect();
    assert_eq!(unshifted, sourced, "the TLS player's timestamps");
    let recording = wait_recording_closed(&server, "mine");
    let recorded = std::fs::read(&recording).unwrap();
    assert_eq!(media_bodies(&recorded), expected);
    assert_eq!(framemd5(&recording), framemd5(&clip));
    assert!(sent > expected.len());

    // A client that trusts another CA refuses the server's certificate, typed.
    let other = make_pki(dir.path(), "other");
    match tls_client(tls_addr, &other.ca) {
        Err(ClientError::Tls(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer))) => {}
        other => panic!("expected an unknown-issuer TLS error, got {other:?}"),
    }
    // And a name the certificate does not cover.
    let config = rtmp_server::tls::client_config_only(&pki.ca).unwrap();
    match RtmpClient::connect_tls(tls_addr, "example.com", "live", config, TIMEOUT) {
        Err(ClientError::Tls(rustls::Error::InvalidCertificate(_))) => {}
        other => panic!("expected a certificate name error, got {other:?}"),
    }
    // System roots plus the test CA (the --push-ca path) verify it too.
    let config = rtmp_server::tls::client_config(Some(&pki.ca)).unwrap();
    RtmpClient::connect_tls(tls_addr, "localhost", "live", config, TIMEOUT).unwrap();
}

/// Runs the server to its exit with these TLS flags; returns (status code, stderr).
fn start_with(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .args(["--listen", "127.0.0.1:0", "--http-listen", "off"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rtmp-server");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_start_error(args: &[&str], code: i32, names: &str, says: &str) {
    let (status, stderr) = start_with(args);
    assert_eq!(status, Some(code), "{args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let error = lines
        .iter()
        .find(|l| l.contains(says))
        .unwrap_or_else(|| panic!("{args:?}: no line saying {says:?} in {stderr}"));
    assert!(error.contains(names), "{args:?}: {error} does not name {names}");
}

#[test]
fn bad_certificate_or_key_files_stop_the_server_at_start_up() {
    let dir = TempDir::new("rtmps-bad");
    let pki = make_pki(dir.path(), "a");
    let other = make_pki(dir.path(), "b");
    let missing = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let listen = |cert: &Path, key: &Path| {
        vec![
            "--tls-listen".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--tls-cert".to_owned(),
            s(cert),
            "--tls-key".to_owned(),
            s(key),
        ]
    };
    let cases: Vec<(Vec<String>, String, &str)> = vec![
        (listen(&missing, &pki.key), s(&missing), "cannot read"),
        (listen(&pki.cert, &missing), s(&missing), "cannot read"),
        (listen(&garbage, &pki.key), s(&garbage), "no certificate"),
        (listen(&pki.key, &pki.key), s(&pki.key), "no certificate"),
        (listen(&pki.cert, &pki.cert), s(&pki.cert), "no private key"),
        (listen(&pki.cert, &other.key), s(&other.key), "does not match"),
        (vec!["--push-ca".to_owned(), s(&garbage)], s(&garbage), "no certificate"),
    ];
    for (args, names, says) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_start_error(&args, 1, names, says);
    }
    // The three listening flags go together: a usage error (exit 2), one line.
    let (status, stderr) = start_with(&["--tls-listen", "127.0.0.1:0", "--tls-cert", &s(&pki.cert)]);
    assert_eq!(status, Some(2), "{stderr}");
    assert!(
        stderr.lines().next().unwrap_or("").contains("missing --tls-key"),
        "{stderr}"
    );
}

/// The first bytes of a real ClientHello (a TLS handshake record header and a few more).
fn partial_client_hello() -> Vec<u8> {
    let config = rtmp_server::tls::client_config_with_roots(rustls::RootCertStore::empty(), None).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    assert_eq!(hello.first(), Some(&0x16), "a handshake record");
    hello.truncate(hello.len() / 2);
    hello
}

#[test]
fn tls_client_stalling_mid_handshake_is_closed_by_the_handshake_deadline() {
    let dir = TempDir::new("rtmps-stall");
    let pki = make_pki(dir.path(), "a");
    let (server, tls_addr) = tls_server(dir.path(), &pki, &["--handshake-timeout", "2s"]);
    let mut socket = TcpStream::connect(tls_addr).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    let started = Instant::now();
    socket.write_all(&partial_client_hello()).unwrap();
    let mut sink = [0u8; 4096];
    let closed = loop {
        match socket.read(&mut sink) {
            Ok(0) | Err(_) => break started.elapsed(),
            Ok(_) => {}
        }
    };
    assert!(
        closed >= Duration::from_millis(1500),
        "closed after {closed:?}, before the deadline"
    );
    assert!(closed < Duration::from_secs(30), "closed only after {closed:?}");
    let line = server.wait_for_log(&closed_for(reason::HANDSHAKE_TIMEOUT), DEADLINE);
    assert!(line.contains("remote=127.0.0.1:"), "{line}");

    // The deadline covers TLS and RTMP handshakes together: a client that finishes TLS and
    // then sends nothing is closed by the same deadline.
    let config = rtmp_server::tls::client_config_only(&pki.ca).unwrap();
    let started = Instant::now();
    let mut tls =
        rtmp_server::client::transport::Transport::connect_tls(tls_addr, "localhost", config, TIMEOUT).unwrap();
    let mut byte = [0u8; 1];
    let ended = tls.read(&mut byte);
    assert!(matches!(ended, Ok(0) | Err(_)), "{ended:?}");
    let closed = started.elapsed();
    assert!(closed >= Duration::from_millis(1500), "closed after {closed:?}");
    assert!(closed < Duration::from_secs(30), "closed only after {closed:?}");
    server.wait_for_logs(&closed_for(reason::HANDSHAKE_TIMEOUT), 2, DEADLINE);
    // The server is still up.
    tls_client(tls_addr, &pki.ca).unwrap();
}

#[test]
fn tls_port_shares_the_connection_limits_and_shuts_down_cleanly() {
    let dir = TempDir::new("rtmps-limits");
    let pki = make_pki(dir.path(), "a");
    let (mut server, tls_addr) = tls_server(dir.path(), &pki, &["--max-connections-per-ip", "1"]);
    let first = tls_client(tls_addr, &pki.ca).unwrap();
    assert!(tls_client(tls_addr, &pki.ca).is_err(), "a second TLS connection got in");
    let line = server.wait_for_log(CONNECTION_REFUSED, DEADLINE);
    assert!(line.contains(&max_connections_per_ip_reached(1)), "{line}");
    // One count for both ports.
    assert!(RtmpClient::connect(server.addr, "live", TIMEOUT).is_err());
    server.wait_for_logs(CONNECTION_REFUSED, 2, DEADLINE);
    drop(first);
    server.wait_for_log(&closed_for(reason::PEER_CLOSED), DEADLINE);
    let mut held = tls_client(tls_addr, &pki.ca).unwrap();
    held.publish("held").unwrap();
    // SIGTERM with a TLS publisher connected: both accept loops stop, the connection closes.
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    server.wait_for_log(SERVER_STOPPED, DEADLINE);
    assert!(held.round_trip().is_err(), "the TLS connection outlived the server");
}
