//! Push relay over RTMPS (issue 6): an edge pushes to an origin's --tls-listen port,
//! verifying the origin's certificate against a test CA given with --push-ca; the origin's
//! recording is packet-identical to what FFmpeg published to the edge. An edge that does not
//! trust that CA never publishes upstream and says why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::log_contract::*;
use common::pki::{make_pki, recording_tls_server};
use common::*;

fn recording_server(dir: &std::path::Path, extra: &[&str]) -> ServerProcess {
    let mut args = vec!["--record-all", "--record-dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    ServerProcess::start(&args)
}

#[test]
fn push_to_an_rtmps_origin_verifies_the_test_ca_and_records_exactly() {
    let dir = TempDir::new("push-rtmps");
    let pki = make_pki(dir.path(), "origin");
    let clip = make_clip(dir.path(), "source.flv", 4);
    let origin_dir = dir.path().join("origin");
    let (origin, tls_addr) = recording_tls_server(&origin_dir, &pki, &[]);
    // The certificate names localhost: the push verifies that name, not the address.
    let push = format!("rtmps://localhost:{}/{{app}}/{{stream}}", tls_addr.port());

    let edge_dir = dir.path().join("edge");
    let edge = recording_server(&edge_dir, &["--push", &push, "--push-ca", pki.ca.to_str().unwrap()]);
    let mut ffmpeg = ffmpeg_publish(&clip, &edge.url("live/cam"), true);
    edge.wait_for_log(&format!("{PUSH_CONNECTED} app=live stream=cam"), DEADLINE);
    assert!(
        wait_child(&mut ffmpeg, DEADLINE).success(),
        "ffmpeg publish to the edge"
    );

    let source = framemd5(&clip);
    assert_eq!(framemd5(&wait_recording_closed(&edge, "cam")), source, "edge recording");
    let origin_file = wait_recording_closed(&origin, "cam");
    assert_eq!(framemd5(&origin_file), source, "origin recording of the rtmps push");
    let opened = origin.wait_for_log("tls=true", DEADLINE);
    assert!(opened.contains(CONNECTION_OPENED), "{opened}");

    // Without --push-ca the edge trusts only the system roots: the origin's test
    // certificate is refused, the push retries, and nothing reaches the origin.
    let untrusting = recording_server(&dir.path().join("edge2"), &["--push", &push]);
    let mut ffmpeg = ffmpeg_publish(&clip, &untrusting.url("live/other"), true);
    let api = common::http::api_addr(&untrusting);
    wait_until("the push fails and says why", DEADLINE, || {
        let pushes = common::http::http_request(api, "GET", "/api/pushes", &[]).json();
        pushes["pushes"].as_array().is_some_and(|all| {
            all.iter().any(|p| {
                p["stream"] == "other"
                    && p["connected"] == false
                    && p["retries"].as_u64().is_some_and(|n| n >= 1)
                    && p["last_error"].as_str().is_some_and(|e| !e.is_empty())
            })
        })
    });
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());
    wait_recording_closed(&untrusting, "other");
    let origin_files: Vec<String> = std::fs::read_dir(&origin_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        origin_files.iter().all(|name| !name.contains("other")),
        "an untrusted push reached the origin: {origin_files:?}"
    );
}
