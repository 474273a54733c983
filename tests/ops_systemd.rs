//! Integration: systemd integration of the real binary. Socket activation with a listener
//! the test binds and passes as fd 3 (a shell moves it from stdin to fd 3 and sets
//! LISTEN_PID to its own pid before exec'ing the server, so no unsafe pre_exec is needed),
//! sd_notify messages on datagram sockets the test creates (path and abstract), the
//! watchdog, journal-style logging, and `systemd-analyze verify` of the shipped units.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::log_contract::*;
use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram};
use std::path::Path;
use std::process::{Command, Stdio};

/// fd 0 → fd 3, stdin from /dev/null, LISTEN_PID = this shell's pid (kept by exec).
const ACTIVATE: &str =
    r#"exec 3<&0 0</dev/null; LISTEN_PID=$$; LISTEN_FDS=1; export LISTEN_PID LISTEN_FDS; exec "$0" "$@""#;

fn server_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rtmp-server"));
    command.args([
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "off",
        "--log-level",
        "debug",
    ]);
    command.stdin(Stdio::null());
    command
}

/// Runs the server on `listener` (passed as fd 3); `--listen` names an address held by
/// `taken`, so binding it would fail.
fn activated_server(listener: &TcpListener, taken: &TcpListener) -> ServerProcess {
    let fd = OwnedFd::from(listener.try_clone().unwrap());
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(ACTIVATE)
        .arg(env!("CARGO_BIN_EXE_rtmp-server"))
        .args(["--log-level", "debug", "--http-listen", "off", "--listen"])
        .arg(taken.local_addr().unwrap().to_string())
        .stdin(Stdio::from(fd));
    ServerProcess::start_command(command)
}

/// Reads datagrams until one contains the line `line`; returns everything received.
fn recv_until(socket: &UnixDatagram, line: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = match socket.recv(&mut buffer) {
            Ok(n) => n,
            Err(e) => panic!("no {line:?} notification within {DEADLINE:?} ({e}); got {seen:?}"),
        };
        let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
        let done = message.lines().any(|l| l == line);
        seen.push(message);
        if done {
            return seen;
        }
    }
}

#[test]
fn socket_activation_serves_the_passed_socket_and_holds_it_across_a_restart() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut first = activated_server(&listener, &taken);
    assert_eq!(first.addr, addr, "serves the passed socket, not --listen");
    first.wait_for_log(SOCKET_ACTIVATION, DEADLINE);
    let mut client = rtmp_server::client::RtmpClient::connect(addr, "live", DEADLINE).unwrap();
    client.publish("cam").unwrap();
    drop(client);
    assert_eq!(first.terminate().code(), Some(0));

    // No server runs now, yet the socket is held: a publisher is queued, not refused.
    let mut waiting = TcpStream::connect(addr).expect("connection refused while restarting");
    waiting.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut c0c1 = vec![3u8];
    c0c1.resize(1 + 1536, 0);
    waiting.write_all(&c0c1).unwrap();
    let second = activated_server(&listener, &taken);
    assert_eq!(second.addr, addr);
    let mut s0 = [0u8; 1];
    waiting
        .read_exact(&mut s0)
        .expect("the restarted server answers the queued connection");
    assert_eq!(s0[0], 3, "RTMP version in S0");
    second.wait_for_log(CONNECTION_OPENED, DEADLINE);
}

#[test]
fn notify_ready_watchdog_and_stopping_on_a_path_socket() {
    let dir = TempDir::new("notify");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut command = server_command();
    command
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "200000")
        .env_remove("WATCHDOG_PID");
    let mut server = ServerProcess::start_command(command);
    let ready = recv_until(&socket, "READY=1").pop().unwrap();
    assert!(
        ready
            .lines()
            .any(|l| l == format!("STATUS=listening on {}", server.addr)),
        "{ready:?}"
    );
    TcpStream::connect(server.addr).expect("listening once READY=1 was sent");
    server.wait_for_log(&format!("{WATCHDOG_ENABLED} interval_ms=100"), DEADLINE);
    recv_until(&socket, "WATCHDOG=1");
    recv_until(&socket, "WATCHDOG=1");
    assert_eq!(server.terminate().code(), Some(0));
    recv_until(&socket, "STOPPING=1");
}

/// JOURNAL_STREAM naming another stream than stderr (here a pipe): stderr is not the journal
/// (a redirected stderr keeps the variable), so lines keep their time and get no priority.
#[test]
fn abstract_notify_socket_and_journal_stream_of_another_file() {
    let name = format!("rtmp-test-notify-{}", std::process::id());
    let socket = UnixDatagram::bind_addr(&UnixAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut command = server_command();
    command
        .env("NOTIFY_SOCKET", format!("@{name}"))
        .env("JOURNAL_STREAM", "8:12345")
        .env_remove("WATCHDOG_USEC");
    let mut server = ServerProcess::start_command(command);
    recv_until(&socket, "READY=1");
    let line = server.wait_for_log(RTMP_LISTENING, DEADLINE);
    assert!(line.as_bytes()[0].is_ascii_digit(), "timestamp first: {line}");
    assert!(!server.log_lines().iter().any(|l| l.contains(WATCHDOG_ENABLED)));
    server.terminate();
    recv_until(&socket, "STOPPING=1");
}

/// Runs the server with stderr the file `log` and JOURNAL_STREAM naming that file's device
/// and inode, as systemd does for a service whose stderr is the journal.
fn journal_command(log: &Path) -> Command {
    use std::os::unix::fs::MetadataExt;
    let file = std::fs::File::create(log).unwrap();
    let meta = file.metadata().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_rtmp-server"));
    command
        .args(["--http-listen", "off", "--log-level", "debug"])
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(file));
    command
}

/// Stderr is the journal: each line starts with its `<N>` syslog priority (so
/// `journalctl -p err` works) and has no time of its own.
#[test]
fn journal_lines_carry_their_syslog_priority() {
    let dir = TempDir::new("journal-priority");
    let log = dir.path().join("stderr.log");
    let mut child = journal_command(&log)
        .args(["--listen", "127.0.0.1:0", "--http-token-file", "/nonexistent"])
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_until("listening line", DEADLINE, || read().contains(RTMP_LISTENING));
    child.kill().unwrap();
    child.wait().unwrap();
    let text = read();
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("<6>[INFO] {RTMP_LISTENING}"))),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("<4>[WARN] --http-token-file ignored")),
        "{text}"
    );
    for line in text.lines() {
        assert!(
            ["<3>[ERROR] ", "<4>[WARN] ", "<6>[INFO] ", "<7>[DEBUG] ", "<7>[TRACE] "]
                .iter()
                .any(|p| line.starts_with(p)),
            "{line}"
        );
    }

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let status = journal_command(&log)
        .args(["--listen", &taken.local_addr().unwrap().to_string()])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let text = read();
    assert!(
        text.lines().any(|l| l.starts_with("<3>[ERROR] cannot listen")),
        "{text}"
    );
}

#[test]
fn plain_start_logs_timestamps_and_needs_no_systemd() {
    let mut command = server_command();
    command.env_remove("NOTIFY_SOCKET").env_remove("JOURNAL_STREAM");
    let mut server = ServerProcess::start_command(command);
    let line = server.wait_for_log(RTMP_LISTENING, DEADLINE);
    assert!(line.as_bytes()[0].is_ascii_digit(), "timestamp first: {line}");
    assert_eq!(server.terminate().code(), Some(0));
}

/// The shipped units pass `systemd-analyze verify` (with ExecStart pointing at the built
/// binary, as verify checks that it exists) and carry the required hardening.
#[test]
fn systemd_units_verify_and_are_hardened() {
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    assert!(
        matches!(&analyze, Ok(o) if o.status.success()),
        "systemd-analyze is required for this test (scripts/test.sh installs systemd with apt-get)"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let service = std::fs::read_to_string(root.join("rtmp-server.service")).unwrap();
    let socket = std::fs::read_to_string(root.join("rtmp-server.socket")).unwrap();
    for required in [
        "Type=notify",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "User=rtmp-server",
        "ReadWritePaths=/var/lib/rtmp-server/recordings",
        "WatchdogSec=",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(
            service.lines().any(|l| l.starts_with(required)),
            "service lacks {required}"
        );
    }
    assert!(socket.lines().any(|l| l == "ListenStream=1935"));
    let dir = TempDir::new("units");
    let service = service.replace("/usr/bin/rtmp-server", env!("CARGO_BIN_EXE_rtmp-server"));
    std::fs::write(dir.path().join("rtmp-server.service"), service).unwrap();
    std::fs::write(dir.path().join("rtmp-server.socket"), socket).unwrap();
    let output = Command::new("systemd-analyze")
        .args(["verify", "./rtmp-server.service", "./rtmp-server.socket"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success() && report.trim().is_empty(), "verify: {report}");
    // The sandbox keeps systemd's exposure score at or below 2.0 ("OK"; the threshold is
    // in tenths).
    let security = Command::new("systemd-analyze")
        .args([
            "security",
            "--offline=yes",
            "--no-pager",
            "--threshold=20",
            "./rtmp-server.service",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        security.status.success(),
        "exposure above 2.0: {}",
        String::from_utf8_lossy(&security.stdout)
    );
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(root.join("install.sh"))
        .status()
        .unwrap();
    assert!(syntax.success(), "install.sh has a syntax error");
}

/// install.sh takes the binary from CARGO_TARGET_DIR (absolute, or relative to where it was
/// started, as cargo does); with SKIP_BUILD=1 and none there it stops before any install step,
/// naming the path it looked at. The files it installs say where the port lives with socket
/// activation.
#[test]
fn install_sh_uses_cargo_target_dir_and_says_the_port_is_in_the_socket_unit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let dir = TempDir::new("install-target");
    for (target_dir, expected) in [
        (
            dir.path().join("abs").to_str().unwrap().to_owned(),
            dir.path().join("abs"),
        ),
        ("rel".to_owned(), dir.path().join("rel")),
    ] {
        let output = Command::new("bash")
            .arg(root.join("install.sh"))
            .env("SKIP_BUILD", "1")
            .env("CARGO_TARGET_DIR", &target_dir)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        let binary = expected.join("release/rtmp-server");
        assert!(
            stderr.contains(&format!("{} missing", binary.display())),
            "{target_dir}: {stderr}"
        );
    }
    let install = std::fs::read_to_string(root.join("install.sh")).unwrap();
    let example = std::fs::read_to_string(root.join("rtmp-server.toml")).unwrap();
    // The generated example (the .deb's conffile), the config and env files install.sh writes.
    assert!(example.contains("the RTMP port lives in the socket unit"), "{example}");
    assert_eq!(install.matches("The RTMP port lives in the socket unit").count(), 2);
    let service = std::fs::read_to_string(root.join("rtmp-server.service")).unwrap();
    assert!(service
        .lines()
        .any(|l| l.starts_with("ExecStart=/usr/bin/rtmp-server ")));
    assert!(install.contains(r#"s|^ExecStart=/usr/bin/rtmp-server |ExecStart=$PREFIX/bin/rtmp-server |"#));
}

/// Variables meant for another process (a parent's LISTEN_PID / WATCHDOG_PID) are ignored:
/// the server binds --listen and sends no watchdog pings.
#[test]
fn variables_for_another_pid_are_ignored() {
    let dir = TempDir::new("foreign-pid");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut command = server_command();
    command
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", "1")
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "100000")
        .env("WATCHDOG_PID", "1");
    let mut server = ServerProcess::start_command(command);
    recv_until(&socket, "READY=1");
    TcpStream::connect(server.addr).expect("bound --listen itself");
    assert_eq!(server.terminate().code(), Some(0));
    let received = recv_until(&socket, "STOPPING=1");
    assert!(!received.iter().any(|m| m.contains("WATCHDOG")), "{received:?}");
    let log = server.log_lines().join("\n");
    assert!(
        !log.contains(SOCKET_ACTIVATION) && !log.contains(WATCHDOG_ENABLED),
        "{log}"
    );
}
