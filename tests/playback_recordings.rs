//! The playback server's recordings (issue 15 item 4, first part): after FFmpeg publishes
//! with --record-all, GET /recordings lists the file (app, stream, format, bytes, duration)
//! and GET /recordings/PATH returns its bytes; Range (206 + Content-Range, suffix ranges,
//! 416), HEAD, ETag/If-None-Match (304) behave as RFC 9110 says; `..`, absolute paths,
//! encoded slashes and symlinks out of the record dir are refused; the API token guards it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::fetch::{fetch, header};
use common::http::{api_addr, http_request};
use common::*;

#[test]
fn recordings_are_listed_and_served_with_ranges_and_validators() {
    let dir = TempDir::new("playback");
    let clip = make_clip(dir.path(), "source.flv", 3);
    let records = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", records.to_str().unwrap()]);
    let api = api_addr(&server);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/cam"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());
    let file = wait_recording_closed(&server, "cam");
    let bytes = std::fs::read(&file).unwrap();

    let list = http_request(api, "GET", "/recordings", &[]);
    assert_eq!(list.status, 200, "{}", list.body);
    let list = list.json();
    assert_eq!(list["total"], 1);
    let entry = &list["recordings"][0];
    let name = file.file_name().unwrap().to_str().unwrap();
    assert_eq!(entry["path"], name);
    assert_eq!(entry["format"], "flv");
    assert_eq!(entry["in_progress"], false);
    assert_eq!((&entry["app"], &entry["stream"]), (&"live".into(), &"cam".into()));
    assert_eq!(entry["bytes"].as_u64(), Some(bytes.len() as u64));
    let duration = entry["duration_s"].as_f64().unwrap();
    assert!((duration - ffprobe_duration(&file)).abs() < 0.1, "{duration}");

    let url = format!("/recordings/{name}");
    let (status, head, body) = fetch(api, "GET", &url, &[]);
    assert_eq!(status, 200);
    assert_eq!(body, bytes, "the whole file");
    assert_eq!(header(&head, "Content-Type").as_deref(), Some("video/x-flv"));
    assert_eq!(header(&head, "Accept-Ranges").as_deref(), Some("bytes"));
    let etag = header(&head, "ETag").unwrap();
    assert!(header(&head, "Last-Modified").is_some());

    let (status, head, body) = fetch(api, "GET", &url, &["Range: bytes=100-199"]);
    assert_eq!(status, 206);
    assert_eq!(body, bytes[100..200]);
    let expected = format!("bytes 100-199/{}", bytes.len());
    assert_eq!(header(&head, "Content-Range"), Some(expected));
    let (status, _, body) = fetch(api, "GET", &url, &["Range: bytes=-10"]);
    assert_eq!((status, body.as_slice()), (206, &bytes[bytes.len() - 10..]));
    let beyond = format!("Range: bytes={}-", bytes.len());
    let (status, head, _) = fetch(api, "GET", &url, &[&beyond]);
    assert_eq!(status, 416);
    assert_eq!(header(&head, "Content-Range"), Some(format!("bytes */{}", bytes.len())));

    let (status, head, body) = fetch(api, "HEAD", &url, &[]);
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(header(&head, "Content-Length"), Some(bytes.len().to_string()));
    let if_none_match = format!("If-None-Match: {etag}");
    assert_eq!(fetch(api, "GET", &url, &[&if_none_match]).0, 304);

    // Nothing outside the record dir, however it is spelled.
    std::os::unix::fs::symlink("/etc/hostname", records.join("out.flv")).unwrap();
    for (target, status) in [
        ("/recordings/../source.flv", 400),
        ("/recordings/%2E%2E/source.flv", 400),
        ("/recordings//etc/hostname.flv", 400),
        ("/recordings/%2Fetc%2Fhostname.flv", 400),
        ("/recordings/out.flv", 404),
        ("/recordings/missing.flv", 404),
    ] {
        assert_eq!(fetch(api, "GET", target, &[]).0, status, "{target}");
    }
    assert_eq!(fetch(api, "POST", &url, &[]).0, 405);
}

#[test]
fn the_api_token_guards_recordings() {
    let dir = TempDir::new("playback-token");
    let token = dir.path().join("api.token");
    std::fs::write(&token, "playback-Token-1\n").unwrap();
    let server = ServerProcess::start(&["--http-token-file", token.to_str().unwrap()]);
    let api = api_addr(&server);
    assert_eq!(fetch(api, "GET", "/recordings", &[]).0, 401);
    assert_eq!(fetch(api, "GET", "/recordings/x.flv", &[]).0, 401);
    let (status, _, body) = fetch(api, "GET", "/recordings", &["Authorization: Bearer playback-Token-1"]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}
