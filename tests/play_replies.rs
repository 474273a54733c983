//! A player that does not read while it sends commands: the server never drops a session
//! reply (a lost reply would desynchronise the peer's chunk decoder, since later headers are
//! compressed against it). Every reply arrives, in order, once the player reads again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_addr, http_request};
use common::{wait_until, ServerProcess, DEADLINE};
use rtmp_server::client::RtmpClient;
use rtmp_server::media::FrameKind;
use rtmp_server::protocol::chunk::ChunkEncoder;
use rtmp_server::protocol::message::{self, ControlMessage, UserControl};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);
/// Far more pings than the reply queue holds (64), each written on its own so the server
/// reads them in many batches.
const PINGS: u32 = 2000;
/// A chunk stream of the test's own, so its encoder's header compression never mixes with
/// the client's own control messages on csid 2.
const PING_CSID: u32 = 40;

fn players_dropped_frames(api: std::net::SocketAddr) -> u64 {
    let reply = http_request(api, "GET", "/api/streams", &[]);
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    json["streams"]
        .as_array()
        .and_then(|s| s.first())
        .and_then(|s| s["player_dropped_frames"].as_u64())
        .unwrap_or(0)
}

#[test]
fn replies_to_a_player_that_does_not_read_are_never_dropped() {
    let server = ServerProcess::start(&["--play-max-lag", "300s"]);
    let api = api_addr(&server);
    let mut publisher = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    publisher.publish("flood").unwrap();
    publisher
        .send_frame(FrameKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64])
        .unwrap();
    publisher.flush().unwrap();
    let mut player = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    player.play("flood").unwrap();

    // Flood the player (which does not read) until it drops frames: its socket is full and
    // its writer thread blocked, so replies can only wait in the queue.
    let mut frame = vec![0x27u8; 256 * 1024];
    let mut timestamp = 0;
    wait_until("the player falls behind", DEADLINE, || {
        for n in 0..8 {
            timestamp += 40;
            frame[0] = if n == 0 { 0x17 } else { 0x27 };
            publisher.send_frame(FrameKind::Video, timestamp, &frame).unwrap();
        }
        publisher.flush().unwrap();
        publisher.round_trip().unwrap();
        players_dropped_frames(api) > 0
    });

    let mut encoder = ChunkEncoder::new();
    for n in 1..=PINGS {
        let mut ping = message::build_control(&ControlMessage::UserControl(UserControl::PingRequest(n)));
        ping.csid = PING_CSID;
        let mut bytes = Vec::new();
        encoder.encode(&ping, &mut bytes);
        player.send_raw(&bytes).unwrap();
        player.flush().unwrap();
    }

    // Now read everything: media, then every ping's response, in order, and nothing torn.
    let mut next = 1;
    while next <= PINGS {
        let message = player.read_message().unwrap();
        if !message::is_control(message.type_id) {
            continue;
        }
        if let Ok(ControlMessage::UserControl(UserControl::PingResponse(n))) =
            message::parse_control(message.type_id, &message.payload)
        {
            assert_eq!(n, next, "ping responses in order, none missing");
            next += 1;
        }
    }
}
