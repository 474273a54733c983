//! Integration: SRT ingest. FFmpeg (libsrt) publishes MPEG-TS over SRT; the recordings (FLV
//! and MP4) decode to the source's pictures and samples, an RTMP player gets the stream,
//! an HLS viewer gets it too, passphrases and publish keys are enforced, 2% packet loss is repaired, and hostile
//! datagrams or a malformed transport stream at the port leave a good publish exact.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::hls::{get_text, open_session, Playlist};
use common::http::{api_addr, metric, wait_api_stream};
use common::log_contract::{PUBLISH_DENIED, PUBLISH_REFUSED};
use common::players::ffmpeg_copy_player;
use common::srt::{decoded_hashes, srt_addr, srt_publish, srt_publish_bytes, srt_url, HostileSender, Lcg, LossyRelay};
use common::{
    decode_errors, files_with_suffix, make_clip, make_clip_with, wait_child, wait_recording_closed,
    wait_recordings_closed, ServerProcess, TempDir, DEADLINE,
};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

const PASSPHRASE: &str = "srt-test-passphrase-42";
const SECRET: &str = "srt-publish-secret-7";

/// The server with SRT on an ephemeral port, recording everything to `rec`.
fn srt_server(dir: &Path, extra: &[&str]) -> (ServerProcess, PathBuf) {
    let rec = dir.join("rec");
    let mut args = vec![
        "--srt-listen",
        "127.0.0.1:0",
        "--record-all",
        "--record-dir",
        rec.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    (ServerProcess::start(&args), rec)
}

/// Asserts a recording decodes cleanly to exactly the source's pictures and samples.
fn assert_same_media(recording: &Path, source: &Path) {
    let errors = decode_errors(recording);
    assert!(errors.trim().is_empty(), "{}: {errors}", recording.display());
    for kind in ["v", "a"] {
        let want = decoded_hashes(source, kind);
        let got = decoded_hashes(recording, kind);
        assert!(!want.is_empty());
        assert_eq!(got.len(), want.len(), "{} {kind}: frame count", recording.display());
        assert!(got == want, "{} {kind}: decoded frames differ", recording.display());
    }
}

fn publish_ok(clip: &Path, url: &str) {
    let mut ffmpeg = srt_publish(clip, url);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success(), "SRT publish failed: {url}");
}

fn publish_refused(clip: &Path, url: &str) {
    let mut ffmpeg = srt_publish(clip, url);
    assert!(
        !wait_child(&mut ffmpeg, DEADLINE).success(),
        "SRT publish should fail: {url}"
    );
}

/// `ffmpeg -i URL -c copy -f flv OUT`: an RTMP player that waits for the stream, or an HLS
/// viewer.
fn rtmp_player(url: &str, out: &Path) -> Child {
    ffmpeg_copy_player(url, "flv", out)
}

#[test]
fn ffmpeg_publishes_over_srt_recorded_as_flv_and_mp4_and_played_over_rtmp() {
    let dir = TempDir::new("srt-publish");
    let clip = make_clip(dir.path(), "clip.flv", 4);
    let (server, _rec) = srt_server(dir.path(), &["--record-format", "flv", "--record-format", "mp4"]);
    let srt = srt_addr(&server);
    let watched = dir.path().join("player.flv");
    let mut player = rtmp_player(&server.url("live/s"), &watched);
    wait_api_stream(&server, "live", "s", |s| s["players"] == 1);
    let mut publisher = srt_publish(&clip, &srt_url(srt, "publish:live/s", ""));
    // The API shows the SRT publisher like an RTMP one.
    let stream = wait_api_stream(&server, "live", "s", |s| s["publishing"] == true);
    assert!(stream.to_string().contains("127.0.0.1"), "{stream}");
    assert!(wait_child(&mut publisher, DEADLINE).success(), "SRT publish failed");
    let files = wait_recordings_closed(&server, "s", 2);
    assert!(
        files.iter().any(|f| f.extension().is_some_and(|e| e == "flv")),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.extension().is_some_and(|e| e == "mp4")),
        "{files:?}"
    );
    for file in &files {
        assert_same_media(file, &clip);
    }
    assert!(wait_child(&mut player, DEADLINE).success(), "RTMP player failed");
    let source = decoded_hashes(&clip, "v");
    let played = decoded_hashes(&watched, "v");
    assert!(played.len() > 10, "player got {} frames", played.len());
    assert!(
        source.ends_with(&played),
        "the player's pictures are not the source's last ones"
    );
}

#[test]
fn passphrase_right_records_wrong_or_missing_is_refused() {
    let dir = TempDir::new("srt-passphrase");
    let clip = make_clip(dir.path(), "clip.flv", 2);
    let pass_file = dir.path().join("srt.pass");
    std::fs::write(&pass_file, format!("{PASSPHRASE}\n")).unwrap();
    let (server, rec) = srt_server(dir.path(), &["--srt-passphrase-file", pass_file.to_str().unwrap()]);
    let srt = srt_addr(&server);

    let wrong = srt_url(srt, "publish:live/bad", "&passphrase=not-the-passphrase&pbkeylen=16");
    publish_refused(&clip, &wrong);
    server.wait_for_log(PUBLISH_REFUSED, DEADLINE);
    publish_refused(&clip, &srt_url(srt, "publish:live/plain", ""));

    let right = srt_url(
        srt,
        "publish:live/good",
        &format!("&passphrase={PASSPHRASE}&pbkeylen=16"),
    );
    publish_ok(&clip, &right);
    let file = wait_recording_closed(&server, "good");
    assert_same_media(&file, &clip);
    // AES-256 works as well.
    let aes256 = srt_url(
        srt,
        "publish:live/good256",
        &format!("&passphrase={PASSPHRASE}&pbkeylen=32"),
    );
    publish_ok(&clip, &aes256);
    wait_recording_closed(&server, "good256");

    let recorded: Vec<PathBuf> = files_with_suffix(&rec, ".flv");
    assert!(
        !recorded.iter().any(|f| f.to_string_lossy().contains("bad")),
        "{recorded:?}"
    );
    assert!(
        !recorded.iter().any(|f| f.to_string_lossy().contains("plain")),
        "{recorded:?}"
    );
    assert!(
        !server.log_lines().iter().any(|l| l.contains(PASSPHRASE)),
        "passphrase logged"
    );
}

#[test]
fn publish_keys_apply_over_srt_in_each_stream_id_form() {
    let dir = TempDir::new("srt-keys");
    let clip = make_clip(dir.path(), "clip.flv", 2);
    let keys = dir.path().join("publish.keys");
    std::fs::write(&keys, format!("live/cam {SECRET}\nlive/cam2 {SECRET}\n")).unwrap();
    let (server, rec) = srt_server(dir.path(), &["--publish-keys", keys.to_str().unwrap()]);
    let srt = srt_addr(&server);

    publish_refused(&clip, &srt_url(srt, "publish:live/cam", ""));
    let denied = server.wait_for_log(PUBLISH_DENIED, DEADLINE);
    assert!(denied.contains("transport=srt") && !denied.contains(SECRET), "{denied}");
    publish_refused(&clip, &srt_url(srt, "live/cam?key=wrong", ""));
    assert!(files_with_suffix(&rec, ".flv").is_empty());

    publish_ok(&clip, &srt_url(srt, &format!("live/cam?key={SECRET}"), ""));
    wait_recording_closed(&server, "cam");
    // The access-control form, the key in s=, as written and URL-encoded.
    let access = format!("#!::r=live/cam2,m=publish,s={SECRET}");
    publish_ok(&clip, &srt_url(srt, &access, ""));
    wait_recording_closed(&server, "cam2");
    let encoded = format!("%23!::r%3Dlive/cam,m%3Dpublish,u%3D{SECRET}");
    publish_ok(&clip, &srt_url(srt, &encoded, ""));
    wait_recordings_closed(&server, "cam", 2);
    assert!(!server.log_lines().iter().any(|l| l.contains(SECRET)), "key logged");
}

#[test]
fn two_percent_packet_loss_is_repaired() {
    let dir = TempDir::new("srt-loss");
    let clip = make_clip(dir.path(), "clip.flv", 4);
    let (server, _rec) = srt_server(dir.path(), &[]);
    let relay = LossyRelay::start(srt_addr(&server), 2, 0x5eed);
    publish_ok(&clip, &srt_url(relay.addr, "publish:live/lossy", ""));
    let file = wait_recording_closed(&server, "lossy");
    let dropped = relay.dropped.load(std::sync::atomic::Ordering::Relaxed);
    assert!(dropped > 5, "the relay dropped only {dropped} datagrams");
    assert_same_media(&file, &clip);
}

#[test]
fn hostile_datagrams_and_malformed_ts_leave_a_good_publish_exact() {
    let dir = TempDir::new("srt-hostile");
    let clip = make_clip(dir.path(), "clip.flv", 4);
    let (server, _rec) = srt_server(dir.path(), &[]);
    let srt = srt_addr(&server);
    let junk = dir.path().join("junk.bin");
    let mut rng = Lcg(7);
    let mut bytes: Vec<u8> = (0..400_000).map(|_| rng.next() as u8).collect();
    // Sync bytes every 188 bytes in places, so the demuxer parses garbage packets too.
    for i in (0..bytes.len()).step_by(188).take(1000) {
        bytes[i] = 0x47;
    }
    std::fs::write(&junk, &bytes).unwrap();

    let hostile = HostileSender::start(srt, 42);
    let mut bad = srt_publish_bytes(&junk, &srt_url(srt, "publish:live/junk", ""));
    publish_ok(&clip, &srt_url(srt, "publish:live/good", ""));
    let sent = hostile.stop();
    assert!(sent > 100, "only {sent} hostile datagrams");
    let _ = wait_child(&mut bad, DEADLINE);
    // The junk publish got in (and its transport stream went through the demuxer).
    assert!(metric(&server, "rtmp_publishes_total") >= 2);
    let file = wait_recording_closed(&server, "good");
    assert_same_media(&file, &clip);
    // Still serving: another publish works.
    publish_ok(&clip, &srt_url(srt, "publish:live/after", ""));
    wait_recording_closed(&server, "after");
}

/// An HEVC + AAC transport stream made with libx265 (320x240, 15 fps, GOP 15, B-frames).
fn make_hevc_clip(dir: &Path, seconds: u32) -> PathBuf {
    make_clip_with(
        dir,
        "hevc.ts",
        seconds,
        &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=none:keyint=15",
        ],
        "mpegts",
    )
}

#[test]
fn hevc_over_srt_records_to_mp4_with_the_source_pictures() {
    let dir = TempDir::new("srt-hevc");
    let clip = make_hevc_clip(dir.path(), 3);
    let (server, _rec) = srt_server(dir.path(), &["--record-format", "mp4"]);
    publish_ok(&clip, &srt_url(srt_addr(&server), "publish:live/hevc", ""));
    let file = wait_recording_closed(&server, "hevc");
    assert!(file.extension().is_some_and(|e| e == "mp4"), "{}", file.display());
    assert_same_media(&file, &clip);
}

#[test]
fn an_app_table_sets_its_own_passphrase() {
    let dir = TempDir::new("srt-app-passphrase");
    let clip = make_clip(dir.path(), "clip.flv", 2);
    let pass_file = dir.path().join("secure.pass");
    std::fs::write(&pass_file, format!("{PASSPHRASE}\n")).unwrap();
    let config = dir.path().join("server.toml");
    let text = format!(
        "[[app]]\nmatch = \"secure/*\"\nsrt_passphrase_file = {:?}\n",
        pass_file.to_str().unwrap()
    );
    std::fs::write(&config, text).unwrap();
    let (server, rec) = srt_server(dir.path(), &["--config", config.to_str().unwrap()]);
    let srt = srt_addr(&server);
    // The top level has no passphrase: plain callers publish there.
    publish_ok(&clip, &srt_url(srt, "publish:live/open", ""));
    wait_recording_closed(&server, "open");
    // The table's streams need it.
    publish_refused(&clip, &srt_url(srt, "publish:secure/cam", ""));
    let with = format!("&passphrase={PASSPHRASE}&pbkeylen=24");
    publish_ok(&clip, &srt_url(srt, "publish:secure/cam", &with));
    let closed = server.wait_for_log(
        &format!("{} app=secure stream=cam ", common::log_contract::RECORDER_CLOSED),
        DEADLINE,
    );
    assert!(closed.contains("file="), "{closed}");
    assert_eq!(files_with_suffix(&rec, ".flv").len(), 2);
}

#[test]
fn an_srt_publish_is_served_over_hls() {
    let dir = TempDir::new("srt-hls");
    let clip = make_clip(dir.path(), "clip.flv", 8);
    let (server, _rec) = srt_server(dir.path(), &["--hls", "--hls-segment", "1s"]);
    let api = api_addr(&server);
    let mut publisher = srt_publish(&clip, &srt_url(srt_addr(&server), "publish:live/h", ""));
    wait_api_stream(&server, "live", "h", |s| s["publishing"] == true);
    // Two finished segments before the viewer starts (FFmpeg starts near the live edge).
    let (uri, _) = open_session(api, "live", "h", "");
    let deadline = Instant::now() + DEADLINE;
    while Playlist::parse(&get_text(api, &format!("/hls/live/h/{uri}")))
        .segments
        .len()
        < 2
    {
        assert!(Instant::now() < deadline, "no HLS segments from the SRT publish");
        std::thread::sleep(Duration::from_millis(100));
    }
    let watched = dir.path().join("hls.flv");
    let mut viewer = rtmp_player(&format!("http://{api}/hls/live/h/index.m3u8"), &watched);
    assert!(wait_child(&mut publisher, DEADLINE).success(), "SRT publish failed");
    assert!(
        wait_child(&mut viewer, DEADLINE).success(),
        "the HLS viewer reads to the end"
    );
    let source = decoded_hashes(&clip, "v");
    let viewed = decoded_hashes(&watched, "v");
    assert!(viewed.len() > 10, "HLS viewer got {} frames", viewed.len());
    assert!(
        source.ends_with(&viewed),
        "the HLS viewer's pictures are not the source's last ones"
    );
}
