//! Shared integration-test harness: starts the real server binary on 127.0.0.1 with an
//! ephemeral port, follows its log, runs FFmpeg tools, and cleans up what it started.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Generous deadline for anything a loaded 2-core machine must do.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("rtmp-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

type LogLines = Arc<(Mutex<Vec<String>>, Condvar)>;

/// Pushed to the log when the server's stderr closes (the process ended).
const STDERR_CLOSED: &str = "<<server stderr closed>>";

/// Collects the server's stderr lines (echoed with RTMP_TEST_ECHO set) on a thread.
fn follow_stderr(stderr: std::process::ChildStderr, sink: LogLines) {
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if std::env::var_os("RTMP_TEST_ECHO").is_some() {
                eprintln!("server: {line}");
            }
            let (lines, changed) = &*sink;
            lines.lock().unwrap().push(line);
            changed.notify_all();
        }
        let (lines, changed) = &*sink;
        lines.lock().unwrap().push(STDERR_CLOSED.to_owned());
        changed.notify_all();
    });
}

/// The server binary running as a child process.
pub struct ServerProcess {
    child: Option<Child>,
    pub addr: SocketAddr,
    log: LogLines,
}

impl ServerProcess {
    /// Starts `rtmp-server --listen 127.0.0.1:0 --log-level debug EXTRA...` and waits until
    /// it logs the address it listens on.
    pub fn start(extra: &[&str]) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rtmp-server"));
        command
            .args([
                "--listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
                "--log-level",
                "debug",
            ])
            .args(extra)
            .stdin(Stdio::null());
        ServerProcess::start_command(command)
    }

    pub fn url(&self, path: &str) -> String {
        format!("rtmp://{}/{}", self.addr, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// All log lines so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.0.lock().unwrap().clone()
    }

    /// Waits for the first log line containing `needle`; panics with the log on timeout.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for_logs(needle, 1, timeout).pop().unwrap()
    }

    /// Waits until `count` log lines contain `needle`; returns them.
    pub fn wait_for_logs(&self, needle: &str, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let (lines, changed) = &*self.log;
        let mut guard = lines.lock().unwrap();
        loop {
            let found: Vec<String> = guard.iter().filter(|l| l.contains(needle)).cloned().collect();
            if found.len() >= count {
                return found;
            }
            let now = Instant::now();
            if now >= deadline || guard.last().map(String::as_str) == Some(STDERR_CLOSED) {
                panic!(
                    "log line {needle:?} x{count} not seen within {timeout:?} (or the server exited); log:\n{}",
                    guard.join("\n")
                );
            }
            guard = changed.wait_timeout(guard, deadline - now).unwrap().0;
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.pid().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        self.wait_exit(DEADLINE)
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit within {timeout:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// The value of `key=value` in a log line (values end at a space; quotes are stripped).
pub fn field(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.split('"').next().map(str::to_owned);
    }
    rest.split(' ').next().map(str::to_owned)
}

/// Fails (never skips) when an external tool is missing: scripts/test.sh installs them.
pub fn require_tool(tool: &str) {
    let found = Command::new(tool)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    // Only whether it runs at all: some tools (rtmpdump) exit non-zero on any version flag.
    assert!(
        found.is_ok(),
        "{tool} is required for this test (scripts/test.sh installs it with apt-get)"
    );
}

/// Runs a command to completion; panics with its stderr unless it succeeds.
pub fn run_ok(command: &mut Command) -> std::process::Output {
    let output = command.stdin(Stdio::null()).output().expect("spawn tool");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Makes a small H.264 + AAC FLV clip with lavfi sources (320x240, 15 fps, GOP 15).
pub fn make_clip(dir: &Path, name: &str, seconds: u32) -> PathBuf {
    let h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "15"];
    make_clip_with(dir, name, seconds, &h264, "flv")
}

/// Makes a clip of lavfi test video (320x240, 15 fps) encoded with `video` (encoder
/// arguments) and a 440 Hz tone in AAC, in container `format`.
pub fn make_clip_with(dir: &Path, name: &str, seconds: u32, video: &[&str], format: &str) -> PathBuf {
    require_tool("ffmpeg");
    let path = dir.join(name);
    let duration = seconds.to_string();
    run_ok(
        Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("testsrc2=size=320x240:rate=15:duration={duration}"))
            .args(["-f", "lavfi", "-i"])
            .arg(format!("sine=frequency=440:sample_rate=22050:duration={duration}"))
            .args(video)
            .args([
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-b:a",
                "64k",
                "-shortest",
                "-f",
                format,
            ])
            .arg(&path),
    );
    path
}

/// `ffmpeg -i FILE -c copy -f framemd5 -`, comment lines removed.
pub fn framemd5(path: &Path) -> Vec<String> {
    require_tool("ffmpeg");
    let output = run_ok(
        Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(path)
            .args(["-c", "copy", "-f", "framemd5", "-"]),
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// `ffprobe -show_entries ENTRIES -of csv=p=0 FILE`, one output line per item.
fn ffprobe_entries(path: &Path, entries: &str) -> Vec<String> {
    require_tool("ffprobe");
    let output = run_ok(
        Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", entries, "-of", "csv=p=0"])
            .arg(path),
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Stream codec types ffprobe reports (e.g. ["video", "audio"]).
pub fn ffprobe_streams(path: &Path) -> Vec<String> {
    ffprobe_entries(path, "stream=codec_type")
}

/// What `ffmpeg -v error -i FILE -f null -` prints (empty for a clean file).
pub fn decode_errors(path: &Path) -> String {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .stdin(Stdio::null())
        .output()
        .expect("run ffmpeg");
    assert!(
        output.status.success(),
        "decode failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Publishes a file with `ffmpeg -c copy -f flv URL` (optionally `-re`), returning the child.
pub fn ffmpeg_publish(source: &Path, url: &str, realtime: bool) -> Child {
    require_tool("ffmpeg");
    let mut command = Command::new("ffmpeg");
    command.args(["-v", "error", "-nostdin"]);
    if realtime {
        command.arg("-re");
    }
    command
        .arg("-i")
        .arg(source)
        .args(["-c", "copy", "-f", "flv", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ffmpeg")
}

/// Waits for a child with a deadline, killing it (by PID, ours) if it overruns.
pub fn wait_child(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("child {} did not finish within {timeout:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The recording file of live/`stream` once it is finalized (its "recorder closed" log
/// line: the one observable naming a stream's finished file after the stream ended).
pub fn wait_recording_closed(server: &ServerProcess, stream: &str) -> PathBuf {
    let needle = format!("{} app=live stream={stream} ", log_contract::RECORDER_CLOSED);
    let line = server.wait_for_log(&needle, DEADLINE);
    PathBuf::from(field(&line, "file").expect("file= in recorder closed line"))
}

// ---- Recording (issue 4) helpers -------------------------------------------------------

/// `flvmeta --check FILE`; panics unless it reports 0 errors. Returns its report.
pub fn flvmeta_check(path: &Path) -> String {
    let found = Command::new("flvmeta").arg("--version").stdout(Stdio::null()).status();
    assert!(
        matches!(found, Ok(s) if s.success()),
        "flvmeta is required for this test (scripts/test.sh installs it with apt-get)"
    );
    let output = Command::new("flvmeta")
        .arg("--check")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run flvmeta");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "flvmeta --check failed on {}: {report}",
        path.display()
    );
    let summary = report.lines().find(|l| l.contains("error(s)")).unwrap_or("");
    assert!(
        summary.starts_with("0 error(s)"),
        "flvmeta reports errors on {}: {report}",
        path.display()
    );
    report
}

/// ffprobe's format duration in seconds.
pub fn ffprobe_duration(path: &Path) -> f64 {
    let lines = ffprobe_entries(path, "format=duration");
    lines.first().map(|l| l.trim()).unwrap_or("").parse().expect("duration")
}

/// framemd5 lines reduced to stream index, size and hash (timestamps dropped), for comparing
/// content across files whose timestamps were rebased.
pub fn packet_hashes(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            format!("{},{},{}", f[0], f[4], f[5])
        })
        .collect()
}

/// The dts column of framemd5 lines of one stream index.
pub fn packet_dts(lines: &[String], stream: &str) -> Vec<i64> {
    lines
        .iter()
        .filter(|l| l.split(',').next().map(str::trim) == Some(stream))
        .map(|l| l.split(',').nth(1).unwrap().trim().parse().unwrap())
        .collect()
}

/// Every "recorder closed" file for `stream`, in log order, once `count` exist.
pub fn wait_recordings_closed(server: &ServerProcess, stream: &str, count: usize) -> Vec<PathBuf> {
    server
        .wait_for_logs(
            &format!("{} app=live stream={stream} ", log_contract::RECORDER_CLOSED),
            count,
            DEADLINE,
        )
        .iter()
        .map(|l| PathBuf::from(field(l, "file").expect("file=")))
        .collect()
}

/// All files under `dir` (recursively) whose names end with `suffix`, sorted.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.to_str().is_some_and(|p| p.ends_with(suffix)) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Makes a clip with only video (`video`) or only audio, same settings as `make_clip`.
pub fn make_single_track_clip(dir: &Path, name: &str, seconds: u32, video: bool) -> PathBuf {
    require_tool("ffmpeg");
    let path = dir.join(name);
    let source = if video {
        format!("testsrc2=size=320x240:rate=15:duration={seconds}")
    } else {
        format!("sine=frequency=440:sample_rate=22050:duration={seconds}")
    };
    let mut command = Command::new("ffmpeg");
    command.args(["-v", "error", "-y", "-f", "lavfi", "-i", &source]);
    if video {
        command.args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "15",
            "-pix_fmt",
            "yuv420p",
        ]);
    } else {
        command.args(["-c:a", "aac", "-b:a", "64k"]);
    }
    run_ok(command.args(["-f", "flv"]).arg(&path));
    path
}

/// Runs the server binary with these arguments to completion (e.g. `repair FILE`).
pub fn run_server_command(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rtmp-server")
}

/// Runs the server (`--listen 127.0.0.1:0 --http-listen off ARGS...`) until it exits by
/// itself; returns its status and stderr (panics if it still runs at the deadline).
pub fn run_server_to_exit(args: &[&str]) -> (ExitStatus, String) {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .args(["--listen", "127.0.0.1:0", "--http-listen", "off"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rtmp-server");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not exit with {args:?}: {}", reader.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, reader.join().unwrap())
}

/// Polls `condition` until it holds or the deadline passes (then panics with `what`).
pub fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not reached within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- Operations (issue 5) helpers ----------------------------------------------------

impl ServerProcess {
    /// Starts a prepared command that runs the server (arguments, environment and stdin
    /// set by the caller; stdout is discarded and stderr followed here) and waits until it
    /// logs the address it listens on.
    pub fn start_command(mut command: Command) -> ServerProcess {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start server command");
        let stderr = child.stderr.take().unwrap();
        let log: LogLines = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let sink = Arc::clone(&log);
        follow_stderr(stderr, sink);
        let mut server = ServerProcess {
            child: Some(child),
            addr: "127.0.0.1:0".parse().unwrap(),
            log,
        };
        let line = server.wait_for_log(log_contract::RTMP_LISTENING, DEADLINE);
        let addr = field(&line, "addr").expect("addr in listening line");
        server.addr = addr.parse().unwrap();
        server
    }

    /// Sends `signal` (e.g. "HUP") to the server with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }
}

/// Helpers in their own files: HTTP API (issue 5), test certificates, fault tests and hostile
/// input (issue 7), a webhook receiver (issue 14).
pub mod browser;
pub mod faults;
pub mod fetch;
pub mod garage;
pub mod hls;
mod hostile;
pub mod http;
pub mod log_contract;
pub mod pki;
pub mod players;
pub mod slowloris;
pub mod srt;
pub mod webhook;
#[allow(unused_imports)]
pub use hostile::*;

/// A `/bin/sh` script at `dir/name`, executable (hook programs in tests).
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}
