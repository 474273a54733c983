//! Fault tests on real file systems (root; in CI a missing capability fails the test):
//! - the record file system turning read-only mid-stream, as ext4 does on an I/O error with
//!   errors=remount-ro (a loop-mounted image, error triggered through sysfs);
//! - the record file system filling up mid-stream (a small tmpfs).
//!
//! Each time: the failure is logged, the player gets every frame, what was written before
//! the failure is a valid packet-identical prefix, and once the disk is usable again the
//! same publish records on in a new file running to the end of the stream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::faults::*;
use common::http::{wait_api_stream, wait_metric};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
}

/// Why tmpfs mounts cannot be made here, if they cannot.
fn tmpfs_probe(dir: &Path) -> Option<String> {
    if !is_root() {
        return Some("not root".to_owned());
    }
    Mount::new(&["-t", "tmpfs", "-o", "size=64k", "tmpfs"], &dir.join("probe")).err()
}

/// Why ext4 loop images cannot be mounted here, if they cannot.
fn loop_probe(dir: &Path) -> Option<String> {
    tmpfs_probe(dir)
        .or_else(|| run_status(Command::new("losetup").arg("-f")).err())
        .or_else(|| run_status(Command::new("mkfs.ext4").arg("-V")).err())
}

/// `chattr +i` on a directory, undone on drop: nothing can be created in it, not even by
/// root, so a mount point left bare for a moment takes no files.
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: &Path) -> Immutable {
        run_status(Command::new("chattr").arg("+i").arg(path)).unwrap();
        Immutable(path.to_path_buf())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

/// A server recording every stream into `rec`, with the free-space guard off (these tests
/// fail the disk itself).
fn recording_server(rec: &Path) -> ServerProcess {
    ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        rec.to_str().unwrap(),
        "--record-min-free",
        "0",
    ])
}

#[test]
fn record_disk_turning_read_only_mid_stream_keeps_the_relay_and_recording_resumes_on_a_good_disk() {
    let dir = TempDir::new("disk-ro");
    if !capability("read-only disk fault test", loop_probe(dir.path())) {
        return;
    }
    let clip = make_clip(dir.path(), "clip.flv", 14);
    let tags = source_tags(&clip);
    let source = framemd5(&clip);
    let image = dir.path().join("disk.img");
    std::fs::File::create(&image).unwrap().set_len(32 << 20).unwrap();
    run_status(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image)).unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    let _bare_mount_point = Immutable::set(&rec);
    let image_arg = image.to_str().unwrap();
    let broken = Mount::new(&["-o", "loop,errors=remount-ro", image_arg], &rec).unwrap();
    let server = recording_server(&rec);
    let player = Player::join(server.addr, "ro");
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/ro"), true);
    let started = wait_api_stream(&server, "live", "ro", |s| s["recording_file"].is_string());
    let part = PathBuf::from(started["recording_file"].as_str().unwrap());
    wait_part_grows(&part, 100_000);

    // What reached the disk so far is committed; then the file system fails.
    run_status(Command::new("sync").arg("-f").arg(&part)).unwrap();
    let device = String::from_utf8(run_ok(Command::new("findmnt").args(["-no", "SOURCE"]).arg(&rec)).stdout).unwrap();
    let device = device.trim().trim_start_matches("/dev/").to_owned();
    std::fs::write(format!("/sys/fs/ext4/{device}/trigger_fs_error"), "fault test").unwrap();
    // The write error stops that file (counted as failed); ingest goes on.
    wait_metric(&server, "rtmp_recordings_failed_total", |n| n >= 1);

    // Swap the broken disk for a healthy one: the writer's retry records on.
    broken.unmount();
    let _healthy = Mount::new(&["-t", "tmpfs", "-o", "size=64m", "tmpfs"], &rec).unwrap();
    let resumed = wait_api_stream(&server, "live", "ro", |s| {
        s["recording_file"].is_string() && s["recording_file"] != started["recording_file"]
    });
    assert!(wait_child(&mut ffmpeg, DEADLINE).success(), "the publish went on");
    let played = player.wait_end();
    assert_same_media("player", &played.media, &av_bodies(&tags), false);
    let second = wait_recording_closed(&server, "ro");
    assert_eq!(
        second.with_extension("flv.part").to_str(),
        resumed["recording_file"].as_str()
    );
    flvmeta_check(&second);
    let later = packet_hashes(&framemd5(&second));
    let at = assert_contiguous_to_end("file on the good disk", &later, &packet_hashes(&source));

    // The file on the failed disk: check the image, repair a copy of the .part.
    let fsck = Command::new("e2fsck").args(["-f", "-y"]).arg(&image).output().unwrap();
    assert!(matches!(fsck.status.code(), Some(0 | 1)), "e2fsck: {fsck:?}");
    let inspect = Mount::new(&["-o", "ro,loop", image_arg], &dir.path().join("inspect")).unwrap();
    let parts = files_with_suffix(&inspect.path, ".flv.part");
    assert_eq!(parts.len(), 1, "the unfinished file is on the failed disk: {parts:?}");
    let salvaged = dir.path().join("salvaged.flv.part");
    std::fs::copy(&parts[0], &salvaged).unwrap();
    inspect.unmount();
    let output = run_server_command(&["repair", salvaged.to_str().unwrap()]);
    assert!(output.status.success(), "repair: {output:?}");
    let salvaged = dir.path().join("salvaged.flv");
    flvmeta_check(&salvaged);
    let before = framemd5(&salvaged);
    assert_eq!(before[..], source[..before.len()], "a prefix of the source");
    let last_ms = packet_dts(&before, "0").last().copied().unwrap_or(0);
    eprintln!(
        "read-only disk: {} packets (to {last_ms} ms) salvaged from the failed disk, packets {at}.. of {} recorded after",
        before.len(),
        source.len()
    );
    assert!(last_ms >= 1000, "the file on the failed disk holds what was synced");
}

#[test]
fn record_disk_filling_up_mid_stream_keeps_the_relay_and_recording_resumes_when_space_returns() {
    let dir = TempDir::new("disk-full-mid");
    if !capability("disk full fault test", tmpfs_probe(dir.path())) {
        return;
    }
    let clip = make_clip(dir.path(), "clip.flv", 12);
    let tags = source_tags(&clip);
    let source = framemd5(&clip);
    let rec = dir.path().join("rec");
    let _tmpfs = Mount::new(&["-t", "tmpfs", "-o", "size=8m", "tmpfs"], &rec).unwrap();
    // Room for the reserved onMetaData and about a second and a half of this clip.
    let filler = rec.join("filler.bin");
    let free = rtmp_server::record::disk::free_bytes(&rec).unwrap();
    std::fs::write(&filler, vec![1u8; (free - 150 * 1024) as usize]).unwrap();
    let server = recording_server(&rec);
    let player = Player::join(server.addr, "full");
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/full"), true);
    // The write error (no space left) stops that file, counted as failed; ingest goes on.
    wait_metric(&server, "rtmp_recordings_failed_total", |n| n >= 1);
    let first = wait_recording_closed(&server, "full");
    std::fs::remove_file(&filler).unwrap();
    let first_part = format!("{}.part", first.display());
    wait_api_stream(&server, "live", "full", |s| {
        s["recording_file"].as_str().is_some_and(|f| f != first_part)
    });
    assert!(wait_child(&mut ffmpeg, DEADLINE).success(), "the publish went on");
    let played = player.wait_end();
    assert_same_media("player", &played.media, &av_bodies(&tags), false);

    let files = wait_recordings_closed(&server, "full", 2);
    assert_eq!(files[0], first);
    for file in &files {
        flvmeta_check(file);
    }
    let before = framemd5(&files[0]);
    assert!(!before.is_empty());
    assert_eq!(before[..], source[..before.len()], "what fit is a prefix of the source");
    let after = packet_hashes(&framemd5(&files[1]));
    let at = assert_contiguous_to_end("file after space returned", &after, &packet_hashes(&source));
    assert!(at >= before.len(), "resumed later in the stream");
    eprintln!(
        "disk full: {} packets before ENOSPC, packets {at}..{} after space returned",
        before.len(),
        source.len()
    );
}
