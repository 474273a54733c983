//! Fault test: SIGTERM under load. Three real-time FFmpeg publishers, three real-time
//! own-client publishers and two players on each of the six streams; SIGTERM mid-stream must
//! exit 0 within a bound, finalize every recording (`.part` renamed, valid) as a
//! packet-identical prefix of what was sent, and leave every player a clean prefix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::faults::*;
use common::log_contract::*;
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FFMPEG_PUBLISHERS: usize = 3;
const CLIENT_PUBLISHERS: usize = 3;
const PLAYERS_PER_STREAM: usize = 2;
/// Longest a loaded shutdown may take.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(10);

#[test]
fn sigterm_under_load_finalizes_every_recording_and_exits_0() {
    let dir = TempDir::new("sigterm-load");
    let clip = make_clip(dir.path(), "clip.flv", 10);
    let tags = Arc::new(source_tags(&clip));
    let source = framemd5(&clip);
    let source_av = av_bodies(&tags);
    let record_dir = dir.path().join("rec");
    let mut server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);

    let ffmpeg_names: Vec<String> = (0..FFMPEG_PUBLISHERS).map(|i| format!("ff{i}")).collect();
    let client_names: Vec<String> = (0..CLIENT_PUBLISHERS).map(|i| format!("cl{i}")).collect();
    let names: Vec<&String> = ffmpeg_names.iter().chain(&client_names).collect();
    let players: Vec<(String, Player)> = names
        .iter()
        .flat_map(|name| (0..PLAYERS_PER_STREAM).map(move |_| name))
        .map(|name| (name.to_string(), Player::join(server.addr, name)))
        .collect();
    let mut ffmpegs: Vec<_> = ffmpeg_names
        .iter()
        .map(|name| ffmpeg_publish(&clip, &server.url(&format!("live/{name}")), true))
        .collect();
    let clients: Vec<_> = client_names
        .iter()
        .map(|name| publish_realtime(server.addr, name, Arc::clone(&tags)))
        .collect();

    let started = server.wait_for_logs(&format!("{RECORDING_STARTED} app=live stream="), names.len(), DEADLINE);
    for line in &started {
        wait_part_grows(std::path::Path::new(&field(line, "file").unwrap()), 120_000);
    }
    let terminated_at = Instant::now();
    let status = server.terminate();
    let took = terminated_at.elapsed();
    eprintln!(
        "SIGTERM with {} publishers and {} players: {status} after {took:?}",
        names.len(),
        players.len()
    );
    assert_eq!(status.code(), Some(0), "exit status");
    assert!(took < SHUTDOWN_BOUND, "shutdown took {took:?}");

    for ffmpeg in &mut ffmpegs {
        let _ = wait_child(ffmpeg, DEADLINE);
    }
    let sent: Vec<Published> = clients.into_iter().map(|h| h.join().unwrap()).collect();
    for (name, player) in players {
        let played = player.wait_end();
        assert_same_media(&format!("player of {name}"), &played.media, &source_av, true);
    }

    assert!(files_with_suffix(&record_dir, ".part").is_empty(), "no .part left");
    for (i, name) in names.iter().enumerate() {
        let file = wait_recording_closed(&server, name);
        assert!(
            file.exists() && file.to_str().unwrap().ends_with(".flv"),
            "{name}: {}",
            file.display()
        );
        flvmeta_check(&file);
        let recorded = framemd5(&file);
        eprintln!("{name}: {} of {} packets recorded", recorded.len(), source.len());
        assert!(recorded.len() > 10, "{name}: {} packets", recorded.len());
        assert!(recorded.len() < source.len(), "{name}: the publish was cut short");
        assert_eq!(recorded[..], source[..recorded.len()], "{name}: a prefix of the source");
        if let Some(published) = i.checked_sub(FFMPEG_PUBLISHERS).map(|k| &sent[k]) {
            assert!(published.error.is_some(), "{name}: the shutdown ended the publish");
            assert!(
                recorded.len() <= packet_count(&tags[..published.tags]),
                "{name}: no more than was sent"
            );
        }
    }
}
