//! Supervised sources (`[[source]]`, issue 14 item 5) end to end: an FFmpeg source publishes
//! and is recorded, is restarted with backoff after its process is killed, an on-demand
//! source starts with its first player and stops after the idle time, and neither SIGTERM
//! nor `kill -9` of the server leaves a source process behind (nor runs one twice after a
//! restart). State comes from GET /api/sources and /metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::faults::Player;
use common::http::{api_addr, http_request, metric, wait_api_stream};
use common::{ffprobe_duration, require_tool, wait_until, ServerProcess, TempDir, DEADLINE};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The small H.264/AAC clip the FFmpeg sources loop.
fn clip() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip2s.flv")
}

/// A port that was free a moment ago (the sources' URLs need it before the server starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `command = [...]` of an FFmpeg source looping the clip to rtmp://127.0.0.1:PORT/PATH.
fn ffmpeg_source(port: u16, path: &str) -> String {
    let clip = clip();
    let argv = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-re",
        "-stream_loop",
        "-1",
        "-i",
        clip.to_str().unwrap(),
        "-c",
        "copy",
        "-f",
        "flv",
        &format!("rtmp://127.0.0.1:{port}/{path}"),
    ];
    let quoted: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    format!("command = [{}]\n", quoted.join(", "))
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("rtmp-server.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The server on 127.0.0.1:`port` with `--config CONFIG` and `extra`.
fn start_on(port: u16, config: &Path, extra: &[&str]) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rtmp-server"));
    command
        .args(["--listen", &format!("127.0.0.1:{port}"), "--http-listen", "127.0.0.1:0"])
        .args(["--log-level", "debug", "--config"])
        .arg(config)
        .args(extra)
        .stdin(Stdio::null());
    ServerProcess::start_command(command)
}

fn api_source(server: &ServerProcess, name: &str) -> Option<Value> {
    let reply = http_request(api_addr(server), "GET", "/api/sources", &[]);
    assert_eq!(reply.status, 200, "GET /api/sources: {}", reply.body);
    reply.json()["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
}

/// Waits until /api/sources lists `name` in a state satisfying `condition`; returns it.
fn wait_source(server: &ServerProcess, name: &str, condition: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let source = api_source(server, name);
        if let Some(source) = source.as_ref().filter(|s| condition(s)) {
            return source.clone();
        }
        assert!(Instant::now() < deadline, "source {name} never got there: {source:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn running_pid(server: &ServerProcess, name: &str) -> u32 {
    let source = wait_source(server, name, |s| s["state"] == "running" && s["pid"].is_u64());
    source["pid"].as_u64().unwrap() as u32
}

/// Whether `pid` is a live process (not gone, not a zombie waiting to be reaped).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

fn wait_gone(pid: u32) {
    let deadline = Instant::now() + DEADLINE;
    while alive(pid) {
        assert!(Instant::now() < deadline, "source process {pid} is still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(signal: &str, pid: u32) {
    let status = Command::new("kill").args([signal, &pid.to_string()]).status().unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// Live processes with `arg` in their command line.
fn processes_with_arg(arg: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes()) && alive(pid) {
            found.push(pid);
        }
    }
    found
}

/// Finished recordings (`.flv`) under `dir`.
fn recordings(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(recordings(&path));
        } else if path.extension().is_some_and(|e| e == "flv") {
            found.push(path);
        }
    }
    found
}

#[test]
fn an_ffmpeg_source_publishes_is_recorded_and_is_restarted_after_a_kill() {
    require_tool("ffmpeg");
    let dir = TempDir::new("sources-ffmpeg");
    let port = free_port();
    let config = write_config(
        dir.path(),
        &format!("[[source]]\nname = \"cam\"\n{}", ffmpeg_source(port, "live/cam")),
    );
    let record_dir = dir.path().join("rec");
    let mut server = start_on(
        port,
        &config,
        &["--record-all", "--record-dir", record_dir.to_str().unwrap()],
    );
    let first = running_pid(&server, "cam");
    let publishing = |s: &Value| s["publishing"] == true && s["recording"] == true && s["frames"].as_u64() > Some(30);
    let live = wait_api_stream(&server, "live", "cam", publishing);
    assert_eq!(metric(&server, "rtmp_source_up{source=\"cam\"}"), 1);

    let killed = Instant::now();
    kill("-KILL", first);
    let again = wait_source(&server, "cam", |s| {
        s["restarts"] == 1 && s["state"] == "running" && s["pid"].is_u64()
    });
    assert!(
        killed.elapsed() >= Duration::from_secs(1),
        "restarted only after the 1 s backoff"
    );
    let second = again["pid"].as_u64().unwrap() as u32;
    assert_ne!(second, first);
    assert_eq!(again["last_exit"]["signal"], 9, "{again}");
    wait_gone(first);
    wait_api_stream(&server, "live", "cam", |s| {
        publishing(s) && s["publisher_conn_id"] != live["publisher_conn_id"]
    });
    assert_eq!(metric(&server, "rtmp_source_restarts_total{source=\"cam\"}"), 1);

    assert!(server.terminate().success());
    wait_gone(second);
    let files = recordings(&record_dir);
    assert!(!files.is_empty(), "no recording in {}", record_dir.display());
    assert!(files.iter().any(|f| ffprobe_duration(f) >= 1.0), "{files:?}");
}

#[test]
fn an_on_demand_source_starts_with_its_first_player_and_stops_when_idle() {
    require_tool("ffmpeg");
    let dir = TempDir::new("sources-on-demand");
    let port = free_port();
    let config = write_config(
        dir.path(),
        &format!(
            "[[source]]\nname = \"door\"\n{}on_demand = \"live/door\"\non_demand_idle = \"1s\"\n",
            ffmpeg_source(port, "live/door")
        ),
    );
    let mut server = start_on(port, &config, &[]);
    let idle = wait_source(&server, "door", |s| s["state"] == "idle");
    assert!(idle["pid"].is_null() && idle["on_demand"] == "live/door", "{idle}");

    let player = Player::join(server.addr, "door");
    let pid = running_pid(&server, "door");
    let deadline = Instant::now() + DEADLINE;
    while player.received() < 20 {
        assert!(Instant::now() < deadline, "the player got no media from the source");
        std::thread::sleep(Duration::from_millis(20));
    }
    let played = player.stop();
    let left = Instant::now();
    drop(played);
    let stopped = wait_source(&server, "door", |s| s["state"] == "idle" && s["pid"].is_null());
    assert!(left.elapsed() >= Duration::from_secs(1), "stopped before the idle time");
    assert_eq!(stopped["restarts"], 0, "an idle stop is no restart: {stopped}");
    wait_gone(pid);

    let player = Player::join(server.addr, "door");
    let pid = running_pid(&server, "door");
    assert!(server.terminate().success());
    drop(player);
    wait_gone(pid);
}

#[test]
fn kill_9_of_the_server_leaves_no_source_and_a_restart_runs_it_once() {
    let dir = TempDir::new("sources-kill9");
    // A unique argument finds this test's source processes (sleep takes fractions).
    let marker = format!("3600.{}", std::process::id());
    let config = write_config(
        dir.path(),
        &format!("[[source]]\nname = \"sleeper\"\ncommand = [\"sleep\", \"{marker}\"]\n"),
    );
    let config_arg = config.to_str().unwrap();
    let mut server = ServerProcess::start(&["--config", config_arg]);
    let pid = running_pid(&server, "sleeper");
    // The API shows the child's PID from fork on; its command line is sleep's once it exec'd.
    wait_until("the source runs sleep", DEADLINE, || {
        processes_with_arg(&marker) == vec![pid]
    });
    server.signal("KILL");
    server.wait_exit(DEADLINE);
    wait_gone(pid);

    let mut again = ServerProcess::start(&["--config", config_arg]);
    let second = running_pid(&again, "sleeper");
    wait_until("one source process, the new one", DEADLINE, || {
        processes_with_arg(&marker) == vec![second]
    });
    assert!(again.terminate().success());
    wait_gone(second);
    assert!(processes_with_arg(&marker).is_empty());
}
