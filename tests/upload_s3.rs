//! Upload of finished recordings to S3-compatible storage, against a real single-node
//! Garage: FFmpeg publishes, the server records and uploads; the object downloaded back has
//! the file's SHA-256; multipart, retries while the store is down, kill -9 in the middle of
//! a multipart upload, a wrong secret fixed by SIGHUP, retention keeping unsent files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::garage::{Garage, StallingProxy, SECRET};
use common::http::{api_addr, http_request, metric, wait_metric};
use common::{ffmpeg_publish, make_clip, run_ok, wait_child, wait_until, ServerProcess, TempDir, DEADLINE};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn uploads(server: &ServerProcess) -> Value {
    let reply = http_request(api_addr(server), "GET", "/api/uploads", &[]);
    assert_eq!(reply.status, 200, "GET /api/uploads: {}", reply.body);
    reply.json()
}

fn wait_uploads(server: &ServerProcess, what: &str, condition: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    wait_until(what, DEADLINE, || {
        last = uploads(server);
        condition(&last)
    });
    last
}

fn start(record_dir: &Path, upload: &[String], extra: &[&str]) -> ServerProcess {
    let mut args: Vec<&str> = vec!["--record-all", "--record-dir", record_dir.to_str().unwrap()];
    args.extend(upload.iter().map(String::as_str));
    args.extend_from_slice(extra);
    ServerProcess::start(&args)
}

/// Publishes `clip` as live/`stream` (as fast as it goes) and returns the finished file.
fn record(server: &ServerProcess, clip: &Path, stream: &str) -> PathBuf {
    let mut ffmpeg = ffmpeg_publish(clip, &server.url(&format!("live/{stream}")), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());
    common::wait_recording_closed(server, stream)
}

/// The object key of a recording under `prefix`.
fn key_of(prefix: &str, record_dir: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(record_dir).unwrap_or(file);
    format!("{prefix}/{}", relative.display())
}

/// A Garage node, a temp dir with its `rec` folder, and a credentials file for the node's key
/// with `secret` (None without Garage outside CI; in CI a missing Garage fails).
struct Fixture {
    garage: Garage,
    tmp: TempDir,
    rec: PathBuf,
    credentials: PathBuf,
}

fn fixture(name: &str, secret: &str) -> Option<Fixture> {
    let garage = Garage::start(name)?;
    let tmp = TempDir::new(&format!("upload-{name}"));
    let rec = tmp.path().join("rec");
    let credentials = garage.credentials_file(tmp.path(), secret);
    Some(Fixture {
        garage,
        tmp,
        rec,
        credentials,
    })
}

/// A 6 s 640x360 H.264 clip (GOP 25) encoded with `rate` (bitrate or quality arguments).
fn video_clip(dir: &Path, name: &str, rate: &[&str]) -> PathBuf {
    let path = dir.join(name);
    run_ok(
        Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg("testsrc2=size=640x360:rate=25:duration=6")
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "25",
                "-pix_fmt",
                "yuv420p",
            ])
            .args(rate)
            .args(["-f", "flv"])
            .arg(&path),
    );
    path
}

/// About 40 MB (noise at a low quantizer: barely compressible), made in seconds.
fn make_40mb_clip(dir: &Path) -> PathBuf {
    video_clip(dir, "forty.flv", &["-vf", "noise=alls=60:allf=t", "-qp", "16"])
}

/// Several MB (high constant bitrate), for multipart uploads.
fn make_big_clip(dir: &Path) -> PathBuf {
    video_clip(
        dir,
        "big.flv",
        &["-b:v", "6M", "-minrate", "6M", "-maxrate", "6M", "-bufsize", "2M"],
    )
}

#[test]
fn a_40_mb_recording_goes_up_in_several_parts() {
    let Some(Fixture {
        garage,
        tmp,
        rec,
        credentials,
    }) = fixture("forty", SECRET)
    else {
        return;
    };
    let clip = make_40mb_clip(tmp.path());
    let mut upload = garage.upload_args("big", &credentials);
    upload.extend(["--upload-part-size".into(), "8M".into()]);
    let server = start(&rec, &upload, &[]);
    let file = record(&server, &clip, "forty");
    let local = std::fs::read(&file).unwrap();
    // The noise is random: the clip varies by a few MB around 40 (39.46 MB was seen). Over
    // 32 MiB it takes at least five 8 MiB parts, which is what this test is about.
    assert!(local.len() > 32 << 20, "about 40 MB: {}", local.len());
    wait_metric(&server, "rtmp_uploaded_files_total", |n| n == 1);
    let key = key_of("big", &rec, &file);
    let info = garage.client().head(&key).unwrap();
    let parts: usize = info.etag.trim_matches('"').rsplit('-').next().unwrap().parse().unwrap();
    assert_eq!(parts, local.len().div_ceil(8 << 20), "ETag {}", info.etag);
    assert!(parts >= 5);
    assert_eq!(sha256(&garage.client().get(&key).unwrap()), sha256(&local));
}

#[test]
fn a_recording_is_uploaded_identical_then_deleted_locally_with_upload_delete() {
    let Some(Fixture {
        garage,
        tmp,
        rec,
        credentials,
    }) = fixture("recordings", SECRET)
    else {
        return;
    };
    let clip = make_clip(tmp.path(), "clip.flv", 2);
    let upload = garage.upload_args("edge-1", &credentials);
    let told = tmp.path().join("told.txt");
    let hook = common::script(
        tmp.path(),
        "uploaded.sh",
        &format!("echo \"$RTMP_EVENT $RTMP_UPLOAD_URL\" >> '{}'", told.display()),
    );
    let mut server = start(&rec, &upload, &["--on-upload-done", hook.to_str().unwrap()]);
    let file = record(&server, &clip, "cam");
    wait_metric(&server, "rtmp_uploaded_files_total", |n| n == 1);
    let key = key_of("edge-1", &rec, &file);
    wait_until("the upload_done hook ran", DEADLINE, || told.exists());
    assert_eq!(
        std::fs::read_to_string(&told).unwrap().trim(),
        format!("upload_done s3://recordings/{key}")
    );
    let local = std::fs::read(&file).unwrap();
    let stored = garage.client().get(&key).unwrap();
    assert_eq!(sha256(&stored), sha256(&local), "the object is the file");
    let state = uploads(&server);
    assert_eq!(state["queued_files"], 0);
    assert_eq!(state["recent"][0]["ok"], true);
    assert_eq!(metric(&server, "rtmp_upload_queued_files"), 0);
    server.terminate();

    // --upload-delete: the local file goes once the object is confirmed.
    let mut with_delete = upload.clone();
    with_delete.push("--upload-delete".into());
    let mut server = start(&rec, &with_delete, &[]);
    let file = record(&server, &clip, "cam2");
    wait_metric(&server, "rtmp_uploaded_files_total", |n| n == 1);
    wait_until("local file deleted after upload", DEADLINE, || !file.exists());
    let stored = garage.client().head(&key_of("edge-1", &rec, &file)).unwrap();
    assert!(stored.bytes > 1000);
    server.terminate();
}

#[test]
fn a_bigger_recording_goes_up_in_parts_and_survives_kill_9_mid_upload() {
    let Some(Fixture {
        garage,
        tmp,
        rec,
        credentials,
    }) = fixture("multipart", SECRET)
    else {
        return;
    };
    let clip = make_big_clip(tmp.path());
    let mut upload = garage.upload_args("mp", &credentials);
    upload.extend(["--upload-part-size".into(), "256K".into()]);

    // A multipart upload left behind (by an earlier crash, say) that the queue does not
    // resume is aborted at start-up.
    let stale = garage.client().create_multipart("mp/left-behind.flv").unwrap();

    // Several parts in parallel; the object's ETag is the multipart one of all parts.
    let mut server = start(&rec, &upload, &[]);
    wait_until("the stale multipart upload aborted", DEADLINE, || {
        !garage
            .client()
            .list_uploads("mp")
            .unwrap()
            .iter()
            .any(|(_, id)| *id == stale)
    });
    let file = record(&server, &clip, "big");
    let local = std::fs::read(&file).unwrap();
    assert!(local.len() > 2 << 20, "a recording of several MB: {}", local.len());
    wait_metric(&server, "rtmp_uploaded_files_total", |n| n == 1);
    let key = key_of("mp", &rec, &file);
    let info = garage.client().head(&key).unwrap();
    let parts: usize = info.etag.trim_matches('"').rsplit('-').next().unwrap().parse().unwrap();
    assert_eq!(parts, local.len().div_ceil(256 * 1024), "ETag {}", info.etag);
    assert_eq!(sha256(&garage.client().get(&key).unwrap()), sha256(&local));
    server.terminate();

    // Through a proxy that stalls after 1 MiB of requests (two parts in flight hold less
    // than 512K, so at least two of the 14 parts are confirmed): kill -9 with the upload
    // hanging; a restart straight to Garage resumes it and completes it.
    let proxy = StallingProxy::start(garage.s3_port, 1024 * 1024);
    let mut stalled = upload.clone();
    let at = stalled.iter().position(|a| a == "--upload-endpoint").unwrap();
    stalled[at + 1] = proxy.endpoint();
    let mut server = start(&rec, &stalled, &[]);
    let file = record(&server, &clip, "big2");
    wait_uploads(&server, "parts confirmed before the stall", |u| {
        u["queued"][0]["parts_done"].as_u64().is_some_and(|n| n >= 1)
    });
    let status = Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    server.wait_exit(DEADLINE);
    let mut server = start(&rec, &upload, &[]);
    wait_metric(&server, "rtmp_uploaded_files_total", |n| n == 1);
    let key = key_of("mp", &rec, &file);
    assert_eq!(
        sha256(&garage.client().get(&key).unwrap()),
        sha256(&std::fs::read(&file).unwrap()),
        "the resumed object is the file"
    );
    assert_eq!(
        garage.client().list_uploads("mp").unwrap(),
        vec![],
        "no multipart upload left"
    );
    assert_eq!(uploads(&server)["queued_files"], 0);
    server.terminate();
    drop(proxy);
}

#[test]
fn store_down_retries_keeps_unsent_files_from_retention_and_survives_a_restart() {
    let Some(Fixture {
        mut garage,
        tmp,
        rec,
        credentials,
    }) = fixture("outage", SECRET)
    else {
        return;
    };
    let clip = make_clip(tmp.path(), "clip.flv", 2);
    let upload = garage.upload_args("out", &credentials);
    garage.pause();
    let retention = ["--record-retention-max", "1K"];
    let mut server = start(&rec, &upload, &retention);
    let first = record(&server, &clip, "a");
    let second = record(&server, &clip, "b");
    wait_metric(&server, "rtmp_upload_failures_total{kind=\"network\"}", |n| n >= 1);
    server.wait_for_log(
        &format!(
            "{} file={}",
            common::log_contract::RETENTION_KEPT_UNSENT,
            second.display()
        ),
        DEADLINE,
    );
    assert!(
        first.exists() && second.exists(),
        "retention keeps files not uploaded yet"
    );
    assert_eq!(uploads(&server)["queued_files"], 2);

    // A restart keeps the queue; the store back: both go up.
    server.terminate();
    garage.resume();
    let mut server = start(&rec, &upload, &[]);
    wait_metric(&server, "rtmp_uploaded_files_total", |n| n == 2);
    for file in [&first, &second] {
        let stored = garage.client().get(&key_of("out", &rec, file)).unwrap();
        assert_eq!(sha256(&stored), sha256(&std::fs::read(file).unwrap()));
    }
    server.terminate();

    // The store goes down while the server runs: retries, then completes once it is back.
    garage.pause();
    let mut server = start(&rec, &upload, &[]);
    let third = record(&server, &clip, "c");
    wait_metric(&server, "rtmp_upload_failures_total{kind=\"network\"}", |n| n >= 2);
    garage.resume();
    wait_metric(&server, "rtmp_uploaded_files_total", |n| n == 1);
    assert!(garage.client().head(&key_of("out", &rec, &third)).is_ok());
    server.terminate();
}

#[test]
fn a_wrong_secret_is_a_clear_error_and_a_fixed_key_file_with_sighup_uploads() {
    let Some(Fixture {
        garage,
        tmp,
        rec,
        credentials,
    }) = fixture("secrets", &"f".repeat(64))
    else {
        return;
    };
    let clip = make_clip(tmp.path(), "clip.flv", 2);
    let upload = garage.upload_args("sec", &credentials);
    let mut server = start(&rec, &upload, &[]);
    let file = record(&server, &clip, "cam");
    wait_metric(&server, "rtmp_upload_failures_total{kind=\"auth\"}", |n| n >= 1);
    let state = uploads(&server);
    assert_eq!(state["queued_files"], 1, "{state}");
    assert!(state["last_error"].as_str().unwrap().starts_with("auth:"), "{state}");
    assert!(file.exists());
    let log = server.log_lines().join("\n");
    assert!(
        !log.contains(&"f".repeat(64)) && !log.contains(SECRET),
        "secrets never logged"
    );

    garage.credentials_file(tmp.path(), SECRET);
    server.signal("HUP");
    wait_metric(&server, "rtmp_uploaded_files_total", |n| n == 1);
    let stored = garage.client().get(&key_of("sec", &rec, &file)).unwrap();
    assert_eq!(sha256(&stored), sha256(&std::fs::read(&file).unwrap()));
    server.terminate();
}

#[test]
fn a_recording_repaired_at_start_up_joins_the_queue_and_a_missing_bucket_is_named() {
    let Some(Fixture {
        garage,
        tmp,
        rec,
        credentials,
    }) = fixture("repaired", SECRET)
    else {
        return;
    };
    let clip = make_clip(tmp.path(), "clip.flv", 6);
    let upload = garage.upload_args("rep", &credentials);
    let mut server = start(&rec, &upload, &[]);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/cam"), true);
    let line = server.wait_for_log(common::log_contract::RECORDING_STARTED, DEADLINE);
    let part = PathBuf::from(common::field(&line, "file").unwrap());
    wait_until("media in the part file", DEADLINE, || {
        std::fs::metadata(&part).is_ok_and(|m| m.len() > 50_000)
    });
    let status = Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    server.wait_exit(DEADLINE);
    let _ = ffmpeg.kill();
    let _ = ffmpeg.wait();

    // Start-up repair finalizes the .part; the file is uploaded.
    let mut server = start(&rec, &upload, &[]);
    wait_metric(&server, "rtmp_uploaded_files_total", |n| n == 1);
    let file = PathBuf::from(part.to_str().unwrap().trim_end_matches(".part"));
    let stored = garage.client().get(&key_of("rep", &rec, &file)).unwrap();
    assert_eq!(sha256(&stored), sha256(&std::fs::read(&file).unwrap()));
    server.terminate();

    // A bucket that does not exist: the failure says so, the file stays queued.
    let mut missing = upload.clone();
    missing[1] = "s3://no-such-bucket/rep".into();
    let mut server = start(&rec, &missing, &[]);
    let short = make_clip(tmp.path(), "short.flv", 1);
    let file = record(&server, &short, "other");
    wait_metric(&server, "rtmp_upload_failures_total{kind=\"no_bucket\"}", |n| n >= 1);
    assert_eq!(uploads(&server)["queued_files"], 1);
    assert!(file.exists());
    server.terminate();
}

#[test]
fn an_app_table_uploads_only_its_streams_under_its_own_prefix() {
    let Some(Fixture {
        garage,
        tmp,
        rec,
        credentials,
    }) = fixture("per-app", SECRET)
    else {
        return;
    };
    let clip = make_clip(tmp.path(), "clip.flv", 1);
    let config = tmp.path().join("rtmp.toml");
    std::fs::write(
        &config,
        format!(
            "record_all = true\nrecord_dir = \"{}\"\n\n[[app]]\nmatch = \"cams/*\"\nupload = \"s3://per-app/cams\"\n\
             upload_endpoint = \"{}\"\nupload_region = \"{}\"\nupload_credentials_file = \"{}\"\n",
            rec.display(),
            garage.endpoint(),
            common::garage::REGION,
            credentials.display()
        ),
    )
    .unwrap();
    let mut server = ServerProcess::start(&["--config", config.to_str().unwrap()]);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/plain"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());
    let plain = common::wait_recording_closed(&server, "plain");
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("cams/door"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());
    let line = server.wait_for_log(
        &format!("{} app=cams stream=door ", common::log_contract::RECORDER_CLOSED),
        DEADLINE,
    );
    let door = PathBuf::from(common::field(&line, "file").unwrap());
    wait_metric(&server, "rtmp_uploaded_files_total", |n| n == 1);
    let stored = garage.client().get(&key_of("cams", &rec, &door)).unwrap();
    assert_eq!(sha256(&stored), sha256(&std::fs::read(&door).unwrap()));
    assert!(plain.exists());
    assert!(
        garage.client().head(&key_of("cams", &rec, &plain)).is_err(),
        "live/* is not uploaded"
    );
    assert_eq!(uploads(&server)["queued_files"], 0);
    server.terminate();
}
