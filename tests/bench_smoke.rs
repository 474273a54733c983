//! rtmp-bench end to end: 1 publisher and 3 players for 2 s of real-time synthetic media
//! against the real server; the JSON report says every player kept up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::ServerProcess;
use std::process::{Command, Stdio};

fn json_number(json: &str, key: &str) -> f64 {
    let start = json.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap();
    rest[..end].parse().unwrap()
}

#[test]
fn bench_players_keep_up_with_a_realtime_publisher() {
    let server = ServerProcess::start(&[]);
    let output = Command::new(env!("CARGO_BIN_EXE_rtmp-bench"))
        .args([
            "--server",
            &server.addr.to_string(),
            "--publishers",
            "1",
            "--players",
            "3",
        ])
        .args(["--realtime", "--duration", "2", "--json"])
        .args(["--server-pid", &server.pid().to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("run rtmp-bench");
    let json = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        output.status.success(),
        "{json} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
    assert!(json.contains("\"all_kept_up\":true"), "{json}");
    assert!(json.contains("\"errors\":[]"), "{json}");
    assert_eq!(json_number(&json, "players_kept_up"), 3.0, "{json}");
    let published = json_number(&json, "video_frames_published");
    assert!(published > 0.0, "{json}");
    assert_eq!(json_number(&json, "video_frames_received_min"), published, "{json}");
    assert!(json_number(&json, "frames_received_min") > 0.0, "{json}");
    assert!(json_number(&json, "latency_samples") > 0.0, "{json}");
    assert!(json_number(&json, "server_peak_rss_kb") > 0.0, "{json}");
}
