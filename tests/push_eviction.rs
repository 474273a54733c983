//! A push whose upstream stalls while the publisher floods script data is evicted by the
//! stream (even essential data no longer fits its budget). It must subscribe again and keep
//! relaying: an eviction is not the end of the stream. The upstream is a real origin server
//! behind a proxy the test can pause.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_addr, http_request};
use common::{wait_until, ServerProcess, DEADLINE};
use rtmp_server::client::{PlayEvent, RtmpClient};
use rtmp_server::media::FrameKind;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Script data sent while the upstream stalls: well past the push's budget (8 MiB, which
/// essential data may overdraw twice) plus what the sockets on the way can buffer.
const FLOOD_MESSAGES: usize = 80;
const FLOOD_MESSAGE_BYTES: usize = 512 * 1024;

/// Forwards one connection to `target`; while `paused`, stops reading from the client side.
struct StallProxy {
    addr: SocketAddr,
    paused: Arc<AtomicBool>,
}

impl StallProxy {
    fn start(target: SocketAddr) -> StallProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let paused = Arc::new(AtomicBool::new(false));
        let pause = Arc::clone(&paused);
        thread::spawn(move || {
            // Only the edge's push connects, once per (re)connection.
            for client in listener.incoming().take(8) {
                let Ok(client) = client else { return };
                let Ok(upstream) = TcpStream::connect(target) else {
                    return;
                };
                let (c2, u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let pause = Arc::clone(&pause);
                thread::spawn(move || forward(client, upstream, Some(pause)));
                thread::spawn(move || forward(u2, c2, None));
            }
        });
        StallProxy { addr, paused }
    }
}

fn forward(mut from: TcpStream, mut to: TcpStream, paused: Option<Arc<AtomicBool>>) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        while paused.as_ref().is_some_and(|p| p.load(Ordering::SeqCst)) {
            thread::sleep(Duration::from_millis(10));
        }
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// The origin's live/cam: (publishing, frames).
fn origin_stream(api: SocketAddr) -> (bool, u64) {
    let reply = http_request(api, "GET", "/api/streams", &[]);
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    body["streams"]
        .as_array()
        .and_then(|list| list.iter().find(|s| s["app"] == "live" && s["stream"] == "cam"))
        .map(|s| {
            (
                s["publishing"].as_bool() == Some(true),
                s["frames"].as_u64().unwrap_or(0),
            )
        })
        .unwrap_or((false, 0))
}

/// Sends a GOP of 10 video frames from `start` ms, each carrying `marker`.
fn send_gop(client: &mut RtmpClient, start: u32, marker: u8) {
    for n in 0..10u32 {
        let key = if n == 0 { 0x17 } else { 0x27 };
        client
            .send_frame(FrameKind::Video, start + n * 40, &[key, 1, 0, 0, 0, n as u8, marker])
            .unwrap();
    }
    client.round_trip().unwrap();
}

/// Reads the player's media until a video frame carrying `marker` arrives.
fn wait_for_marker(player: &mut RtmpClient, marker: u8) {
    loop {
        if let PlayEvent::Media(m) = player.read_play_event().unwrap() {
            if m.type_id == 9 && m.payload.last() == Some(&marker) {
                return;
            }
        }
    }
}

#[test]
fn an_evicted_push_subscribes_again_and_keeps_relaying() {
    let origin = ServerProcess::start(&[]);
    let origin_api = api_addr(&origin);
    let proxy = StallProxy::start(origin.addr);
    let push = format!("rtmp://{}/live/{{stream}}", proxy.addr);
    let edge = ServerProcess::start(&["--push", &push]);

    let mut publisher = RtmpClient::connect(edge.addr, "live", DEADLINE).unwrap();
    publisher.publish("cam").unwrap();
    publisher
        .send_frame(FrameKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f])
        .unwrap();
    send_gop(&mut publisher, 0, 0xA1);
    wait_until("the origin gets the first GOP", DEADLINE, || {
        origin_stream(origin_api).1 >= 11
    });
    let mut player = RtmpClient::connect(origin.addr, "live", DEADLINE).unwrap();
    player.play("cam").unwrap();
    wait_for_marker(&mut player, 0xA1);

    // The upstream stalls; script data (never dropped) floods the push's queue.
    proxy.paused.store(true, Ordering::SeqCst);
    let mut flood = vec![0x02, 0, 10];
    flood.extend_from_slice(b"onTextData");
    flood.resize(FLOOD_MESSAGE_BYTES, 0x05);
    for n in 0..FLOOD_MESSAGES {
        publisher.send_frame(FrameKind::Data, 400 + n as u32, &flood).unwrap();
    }
    publisher.round_trip().unwrap();
    proxy.paused.store(false, Ordering::SeqCst);

    // After the stall the stream goes on; the push must still carry it to the origin, where
    // a player sees the new frames (a push that stopped for good never delivers them).
    let done = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&done);
    let feeder = thread::spawn(move || {
        let mut start = 1000;
        while !stop.load(Ordering::SeqCst) && start < 1000 + 400 * 600 {
            send_gop(&mut publisher, start, 0xB2);
            start += 400;
            thread::sleep(Duration::from_millis(100));
        }
        publisher
    });
    player.socket().set_read_timeout(Some(DEADLINE)).unwrap();
    wait_for_marker(&mut player, 0xB2);
    done.store(true, Ordering::SeqCst);
    let publisher = feeder.join().unwrap();
    assert!(origin_stream(origin_api).0, "the origin still has the pushed stream");
    drop(publisher);
    drop(edge);
}
