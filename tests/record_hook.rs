//! Integration: the `--on-record-done` hook. The program is looked up at start-up (a missing
//! or non-executable one is exit 2), its output goes to the server log prefixed with the
//! file, at most 4 run at once (the rest queue), one past `--on-record-done-timeout` is
//! killed with what it started, and at shutdown what still runs is logged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_addr, http_request, parse_prometheus};
use common::*;
use rtmp_server::client::RtmpClient;
use rtmp_server::media::FrameKind;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A server recording everything into `dir/rec`, with `hook` as --on-record-done.
fn hook_server(dir: &Path, hook: &Path, extra: &[&str]) -> ServerProcess {
    let record_dir = dir.join("rec");
    let mut args = vec![
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--on-record-done",
        hook.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ServerProcess::start(&args)
}

/// One short publish with a clean unpublish: one finished file.
fn publish_one(server: &ServerProcess, stream: &str) {
    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    client.publish(stream).unwrap();
    for i in 0..10u32 {
        let body = [if i == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0, i as u8];
        client.send_frame(FrameKind::Video, i * 40, &body).unwrap();
    }
    client.unpublish().unwrap();
}

fn metrics(api: SocketAddr) -> HashMap<String, f64> {
    parse_prometheus(&http_request(api, "GET", "/metrics", &[]).body)
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// A hook that marks itself in `dir/running` and waits for `dir/release` (at most about two
/// minutes, so a failed test leaves nothing behind), then moves its mark to `dir/done`.
fn waiting_hook(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("running")).unwrap();
    std::fs::create_dir_all(dir.join("done")).unwrap();
    let d = dir.display();
    script(
        dir,
        "wait.sh",
        &format!(
            "touch '{d}/running/'$$\nn=0\nwhile [ ! -e '{d}/release' ] && [ $n -lt 2400 ]; do sleep 0.05; n=$((n+1)); done\nmv '{d}/running/'$$ '{d}/done/'$$"
        ),
    )
}

#[test]
fn a_hook_program_that_cannot_run_stops_start_up_with_exit_2_and_one_line_naming_it() {
    let dir = TempDir::new("hook-missing");
    let rec = dir.path().join("rec");
    let not_executable = dir.path().join("notes.txt");
    std::fs::write(&not_executable, "text").unwrap();
    for program in [
        "no-such-hook-program",
        "/no/such/hook",
        not_executable.to_str().unwrap(),
    ] {
        let (status, stderr) = run_server_to_exit(&[
            "--record-all",
            "--record-dir",
            rec.to_str().unwrap(),
            "--on-record-done",
            program,
        ]);
        assert_eq!(status.code(), Some(2), "{program}: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line: {stderr}");
        assert!(lines[0].contains(program), "names the program: {}", lines[0]);
    }
    // A name without '/' is searched in PATH, as execvp does.
    let mut server = ServerProcess::start(&["--on-record-done", "true"]);
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn hook_output_goes_to_the_log_prefixed_with_the_file() {
    let dir = TempDir::new("hook-output");
    let hook = script(dir.path(), "talk.sh", "echo \"uploading $1\"\necho 'upload slow' >&2");
    let server = hook_server(dir.path(), &hook, &[]);
    publish_one(&server, "talk");
    let closed = server.wait_for_log("recorder closed app=live stream=talk ", DEADLINE);
    let file = field(&closed, "file").unwrap();
    server.wait_for_log("record hook done", DEADLINE);
    let out = server.wait_for_log("uploading", DEADLINE);
    let err = server.wait_for_log("upload slow", DEADLINE);
    assert!(
        out.contains(&format!("record hook output file={file} stdout: uploading {file}")),
        "{out}"
    );
    assert!(
        err.contains(&format!("record hook output file={file} stderr: upload slow")),
        "{err}"
    );
    let lines = server.log_lines();
    let raw: Vec<&String> = lines
        .iter()
        .filter(|l| (l.contains("uploading") || l.contains("upload slow")) && !l.contains("record hook output"))
        .collect();
    assert!(raw.is_empty(), "hook output reached the server's stderr as is: {raw:?}");
}

#[test]
fn at_most_four_hooks_run_at_once_and_the_rest_wait_their_turn() {
    let dir = TempDir::new("hook-pool");
    let hook = waiting_hook(dir.path());
    let server = hook_server(dir.path(), &hook, &[]);
    let api = api_addr(&server);
    for n in 0..6 {
        publish_one(&server, &format!("pool{n}"));
    }
    wait_until("4 hooks running and 2 queued", DEADLINE, || {
        let m = metrics(api);
        m["rtmp_record_hooks_running"] == 4.0 && m["rtmp_record_hooks_queued"] == 2.0
    });
    assert_eq!(count_files(&dir.path().join("running")), 4, "only 4 programs started");
    std::fs::write(dir.path().join("release"), b"").unwrap();
    wait_until("every hook ran", DEADLINE, || {
        count_files(&dir.path().join("done")) == 6
    });
    wait_until("none left", DEADLINE, || {
        let m = metrics(api);
        m["rtmp_record_hooks_running"] == 0.0 && m["rtmp_record_hooks_queued"] == 0.0
    });
    assert_eq!(metrics(api)["rtmp_record_hooks_dropped_total"], 0.0);
}

#[test]
fn a_hook_past_its_timeout_is_killed_with_what_it_started() {
    let dir = TempDir::new("hook-timeout");
    let pids = dir.path().join("pids");
    let hook = script(
        dir.path(),
        "hang.sh",
        &format!(
            "sleep 120 &\necho $! > '{0}.tmp'\nmv '{0}.tmp' '{0}'\nwait",
            pids.display()
        ),
    );
    let server = hook_server(dir.path(), &hook, &["--on-record-done-timeout", "1s"]);
    let api = api_addr(&server);
    publish_one(&server, "hang");
    wait_until("the hook started its child", DEADLINE, || pids.exists());
    let started = Instant::now();
    wait_until("the hook timed out", DEADLINE, || {
        metrics(api)["rtmp_record_hooks_timed_out_total"] == 1.0
    });
    let sleep_pid = std::fs::read_to_string(&pids).unwrap();
    let stat = PathBuf::from(format!("/proc/{}/stat", sleep_pid.trim()));
    // Gone, or a zombie waiting for its reaper: either way killed, not left for 120 s.
    wait_until("the hook's child was killed", DEADLINE, || {
        std::fs::read_to_string(&stat).map_or(true, |s| s.contains(") Z "))
    });
    assert!(started.elapsed() < Duration::from_secs(50));
    assert_eq!(metrics(api)["rtmp_record_hooks_running"], 0.0);
}

#[test]
fn hooks_still_running_at_shutdown_get_a_bounded_time_and_are_logged() {
    let dir = TempDir::new("hook-shutdown");
    let hook = waiting_hook(dir.path());
    let mut server = hook_server(dir.path(), &hook, &[]);
    let api = api_addr(&server);
    publish_one(&server, "late");
    wait_until("the hook runs", DEADLINE, || {
        metrics(api)["rtmp_record_hooks_running"] == 1.0
    });
    let stopping = Instant::now();
    assert_eq!(server.terminate().code(), Some(0));
    assert!(stopping.elapsed() < Duration::from_secs(30), "shutdown is bounded");
    let left = server.wait_for_log("record hook still running at shutdown", DEADLINE);
    assert!(field(&left, "file").is_some_and(|f| f.contains("live_late_")), "{left}");
    std::fs::write(dir.path().join("release"), b"").unwrap();
    wait_until("the hook ends by itself", DEADLINE, || {
        count_files(&dir.path().join("done")) == 1
    });
}
