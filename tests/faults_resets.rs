//! Fault tests: TCP resets. A publisher that sends half a chunk and resets its connection
//! (SO_LINGER 0) leaves a finalized, valid recording of every complete frame it delivered; a
//! player that stops reading, so the server's writes to it back up, and then resets, leaves
//! the publisher, another player and the recording untouched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::faults::*;
use common::http::wait_api_stream;
use common::log_contract::reason;
use common::*;
use rtmp_server::client::{RtmpClient, CLIENT_CHUNK_SIZE};
use rtmp_server::protocol::chunk::{ChunkEncoder, RawMessage};
use rtmp_server::protocol::message::{csid, type_id};
use std::time::Duration;

/// Bytes of a basic header plus a type 0 message header (csid < 64, no extended timestamp).
const FMT0_HEADER_LEN: usize = 12;

#[test]
fn publisher_reset_mid_chunk_leaves_a_finalized_recording_of_every_complete_frame() {
    let dir = TempDir::new("reset-publisher");
    let clip = make_clip(dir.path(), "clip.flv", 4);
    let tags = source_tags(&clip);
    let source = framemd5(&clip);
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--record-reconnect-gap",
        "1s",
    ]);
    let player = Player::join(server.addr, "rst");
    let mut client = RtmpClient::connect(server.addr, "live", Duration::from_secs(30)).unwrap();
    client.publish("rst").unwrap();

    // Every tag up to a large video frame two thirds in, then half of that frame's first chunk.
    let cut = (tags.len() * 2 / 3..tags.len())
        .find(|&i| tags[i].tag_type == 9 && tags[i].body.len() > 1000)
        .expect("a large video frame in the last third");
    send_tags(&mut client, &tags[..cut]);
    // Sent means delivered: the server's kernel acknowledged every byte (an RST discards
    // what still waits in our own send queue).
    let (local, remote) = (client.socket().local_addr().unwrap(), server.addr);
    wait_until("the server acknowledged every byte", DEADLINE, || {
        tcp_queues(local, remote).is_some_and(|(unacked, _)| unacked == 0)
    });
    let mut encoder = ChunkEncoder::new();
    encoder.set_chunk_size(CLIENT_CHUNK_SIZE);
    let mut torn = Vec::new();
    encoder.encode(
        &RawMessage {
            csid: csid::VIDEO,
            timestamp: tags[cut].timestamp,
            type_id: type_id::VIDEO,
            stream_id: 1,
            payload: tags[cut].body.clone(),
        },
        &mut torn,
    );
    let first_chunk = tags[cut].body.len().min(CLIENT_CHUNK_SIZE as usize);
    client.send_raw(&torn[..FMT0_HEADER_LEN + first_chunk / 2]).unwrap();
    set_linger_zero(client.socket());
    drop(client);

    assert_eq!(
        close_reason(&server, local),
        reason::IO_ERROR,
        "the publisher's connection ended by the reset"
    );
    let played = player.wait_end();
    assert_same_media("player", &played.media, &av_bodies(&tags[..cut]), false);

    let file = wait_recording_closed(&server, "rst");
    assert!(
        file.to_str().unwrap().ends_with(".flv"),
        "finalized: {}",
        file.display()
    );
    assert!(files_with_suffix(&record_dir, ".part").is_empty(), "no .part left");
    flvmeta_check(&file);
    assert_eq!(decode_errors(&file), "");
    let recorded = framemd5(&file);
    let complete = packet_count(&tags[..cut]);
    eprintln!(
        "sent {cut} of {} tags ({complete} packets) and half of tag {cut}; recorded {} packets",
        tags.len(),
        recorded.len()
    );
    assert_eq!(
        recorded[..],
        source[..complete],
        "the recording holds exactly the complete frames sent"
    );
}

#[test]
fn player_reset_while_the_server_is_blocked_writing_to_it_leaves_everyone_else_intact() {
    let dir = TempDir::new("reset-player");
    let clip = make_clip(dir.path(), "clip.flv", 8);
    let tags = source_tags(&clip);
    let source = framemd5(&clip);
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    let good = Player::join(server.addr, "pr");
    // The stalled player plays, then never reads again; a tiny receive buffer fills at once.
    let mut stalled = RtmpClient::connect(server.addr, "live", Duration::from_secs(30)).unwrap();
    stalled.play("pr").unwrap();
    rustix::net::sockopt::set_socket_recv_buffer_size(stalled.socket(), 4096).unwrap();
    let stalled_addr = stalled.socket().local_addr().unwrap();
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/pr"), true);

    // The server has bytes for the stalled player it cannot send: its window is shut.
    let mut backlog = (0, 0);
    wait_until("server writes to the stalled player back up", DEADLINE, || {
        let server_side = tcp_queues(server.addr, stalled_addr).unwrap_or((0, 0));
        let player_side = tcp_queues(stalled_addr, server.addr).unwrap_or((0, 0));
        backlog = (server_side.0, player_side.1);
        backlog.0 >= 32 * 1024 && backlog.1 > 0
    });
    eprintln!(
        "server send queue to the stalled player {} bytes, its unread receive queue {} bytes",
        backlog.0, backlog.1
    );
    set_linger_zero(stalled.socket());
    drop(stalled);

    assert_ne!(
        close_reason(&server, stalled_addr),
        reason::SERVER_SHUTDOWN,
        "the stalled player's connection closed"
    );
    // The reset came mid-stream: the stalled player is gone while the clip still plays.
    wait_api_stream(&server, "live", "pr", |s| s["players"] == 1 && s["publishing"] == true);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success(), "the publisher went on");

    let played = good.wait_end();
    assert_same_media("other player", &played.media, &av_bodies(&tags), false);
    let file = wait_recording_closed(&server, "pr");
    flvmeta_check(&file);
    assert_eq!(framemd5(&file), source, "the recording is packet-identical");
    // The server still serves newcomers.
    let late = Player::join(server.addr, "later");
    assert!(late.stop().media.is_empty());
}
