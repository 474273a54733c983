//! Integration: program hooks. An on_publish program gets the event's fields in its
//! environment (exit 0 allows); one that hangs is killed at --hook-timeout and refuses.
//! Notification programs (connect, publish_done, play_done, record_done on the record hook
//! pool and through the hooks) get each event's variables; what they print is logged
//! without the key; a program that cannot run stops the start (exit 2).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::*;
use rtmp_server::client::transport::Transport;
use rtmp_server::client::{PlayEvent, RtmpClient};
use rtmp_server::media::FrameKind;
use rtmp_server::protocol::handshake::HandshakeKind;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn an_on_publish_program_gets_the_environment_and_a_hanging_one_is_killed_at_the_timeout() {
    let dir = TempDir::new("hooks-exec");
    let env_file = dir.path().join("env");
    let pid_file = dir.path().join("pid");
    let body = format!(
        "if [ \"$RTMP_STREAM\" = hang ]; then echo $$ > '{}'; sleep 120; fi\nenv | grep ^RTMP_ > '{}.tmp'; mv '{}.tmp' '{}'\nexit 0",
        pid_file.display(),
        env_file.display(),
        env_file.display(),
        env_file.display()
    );
    let program = script(dir.path(), "decide.sh", &body);
    let server = ServerProcess::start(&["--on-publish", program.to_str().unwrap(), "--hook-timeout", "1s"]);

    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    client.publish(&format!("cam?key={KEY}")).expect("exit 0 allows");
    let env = std::fs::read_to_string(&env_file).unwrap();
    for line in [
        "RTMP_EVENT=publish",
        "RTMP_APP=live",
        "RTMP_STREAM=cam",
        &format!("RTMP_QUERY=key={KEY}"),
    ] {
        assert!(env.lines().any(|l| l == line), "{line} in {env}");
    }
    assert!(env.contains("RTMP_CLIENT_ADDR=127.0.0.1:") && env.contains("RTMP_CONN_ID="));

    let started = Instant::now();
    let mut hanging = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    assert!(hanging.publish("hang").is_err(), "a hanging program refuses");
    assert!(started.elapsed() < Duration::from_secs(15));
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let proc = PathBuf::from(format!("/proc/{}/stat", pid.trim()));
    let deadline = Instant::now() + TIMEOUT;
    while std::fs::read_to_string(&proc).is_ok_and(|stat| !stat.contains(") Z ")) {
        assert!(Instant::now() < deadline, "the hanging program is killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    for line in server.log_lines() {
        assert!(!line.contains(KEY), "the key is in the log: {line}");
    }
}

const KEY: &str = "ex3c-KEY-5150";

/// A program writing its RTMP_* variables to DIR/NAME-EVENT.env (whole files only) and
/// printing the query on stdout and stderr.
fn env_program(dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let body = format!(
        "env | grep ^RTMP_ > '{out}-'$RTMP_EVENT.$$\nmv '{out}-'$RTMP_EVENT.$$ '{out}-'$RTMP_EVENT.env\necho \"query is $RTMP_QUERY\"\necho \"key is ${{RTMP_QUERY#*=}}\" >&2",
        out = out.display()
    );
    script(dir, name, &body)
}

/// The variables DIR/NAME-EVENT.env holds, once it exists.
fn wait_env(dir: &Path, name: &str, event: &str) -> HashMap<String, String> {
    let file = dir.join(format!("{name}-{event}.env"));
    wait_until(&format!("{} written", file.display()), DEADLINE, || file.exists());
    std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn connect(server: &ServerProcess) -> RtmpClient {
    let socket = Transport::connect_tcp(server.addr, TIMEOUT).unwrap();
    let tc_url = format!("rtmp://{}/live?token={KEY}", server.addr);
    RtmpClient::start(Transport::Plain(socket), tc_url, "live", HandshakeKind::Digest).unwrap()
}

#[test]
fn notification_programs_get_each_events_variables_and_their_output_hides_the_key() {
    let dir = TempDir::new("hooks-exec-env");
    let notify = env_program(dir.path(), "notify");
    let pool = env_program(dir.path(), "pool");
    let rec = dir.path().join("rec");
    let (notify, pool) = (notify.to_str().unwrap(), pool.to_str().unwrap());
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        rec.to_str().unwrap(),
        "--on-connect",
        notify,
        "--on-publish-done",
        notify,
        "--on-play-done",
        notify,
        // The first --on-record-done program runs on the record hook pool, the next through
        // the hooks: both get the same variables.
        "--on-record-done",
        pool,
        "--on-record-done",
        notify,
    ]);

    let mut publisher = connect(&server);
    let connect_env = wait_env(dir.path(), "notify", "connect");
    publisher.publish(&format!("cam?key={KEY}")).unwrap();
    publisher
        .send_frame(FrameKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64])
        .unwrap();
    let mut player = connect(&server);
    player.play(&format!("cam?key={KEY}")).unwrap();
    for i in 0..20u32 {
        let body = [if i % 10 == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0, i as u8];
        publisher.send_frame(FrameKind::Video, i * 40, &body).unwrap();
    }
    publisher.flush().unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while !matches!(player.read_play_event().unwrap(), PlayEvent::Media(_)) {
        assert!(Instant::now() < deadline, "the player gets media");
    }
    drop(player);
    let play_done = wait_env(dir.path(), "notify", "play_done");
    publisher.unpublish().unwrap();
    let publish_done = wait_env(dir.path(), "notify", "publish_done");
    let record_done = wait_env(dir.path(), "notify", "record_done");
    let pool_done = wait_env(dir.path(), "pool", "record_done");

    let check = |env: &HashMap<String, String>, event: &str, stream: &str, query: &str| {
        assert_eq!(env["RTMP_EVENT"], event, "{env:?}");
        assert_eq!(env["RTMP_APP"], "live", "{env:?}");
        assert_eq!(
            env.get("RTMP_STREAM").map(String::as_str).unwrap_or(""),
            stream,
            "{env:?}"
        );
        assert_eq!(env["RTMP_QUERY"], query, "{env:?}");
        assert!(env["RTMP_CLIENT_ADDR"].starts_with("127.0.0.1:"), "{env:?}");
        assert!(env["RTMP_CONN_ID"].parse::<u64>().is_ok(), "{env:?}");
        assert!(env["RTMP_TIME"].contains('T'), "{env:?}");
    };
    check(&connect_env, "connect", "", &format!("token={KEY}"));
    assert!(!connect_env.contains_key("RTMP_BYTES") && !connect_env.contains_key("RTMP_RECORD_PATH"));
    for (env, event) in [(&play_done, "play_done"), (&publish_done, "publish_done")] {
        check(env, event, "cam", &format!("key={KEY}"));
        assert!(env["RTMP_DURATION_MS"].parse::<u64>().is_ok(), "{env:?}");
        assert!(env["RTMP_BYTES"].parse::<u64>().unwrap() > 0, "{env:?}");
        assert!(!env.contains_key("RTMP_RECORD_PATH"), "{env:?}");
    }
    assert_ne!(play_done["RTMP_CONN_ID"], publish_done["RTMP_CONN_ID"]);
    let recording = wait_recording_closed(&server, "cam");
    for env in [&record_done, &pool_done] {
        check(env, "record_done", "cam", &format!("key={KEY}"));
        assert_eq!(
            env["RTMP_CONN_ID"], publish_done["RTMP_CONN_ID"],
            "the publisher's: {env:?}"
        );
        assert_eq!(env["RTMP_CLIENT_ADDR"], publish_done["RTMP_CLIENT_ADDR"]);
        assert_eq!(Path::new(&env["RTMP_RECORD_PATH"]), recording, "{env:?}");
        assert!(env["RTMP_DURATION_MS"].parse::<u64>().is_ok(), "{env:?}");
        assert!(env["RTMP_BYTES"].parse::<u64>().unwrap() > 0, "{env:?}");
    }

    // What the programs print is logged, the query and the key shown as ***.
    server.wait_for_logs(log_contract::HOOK_OUTPUT, 10, DEADLINE);
    server.wait_for_log("query is ***", DEADLINE);
    server.wait_for_log("key is ***", DEADLINE);
    for line in server.log_lines() {
        assert!(!line.contains(KEY), "the key is in the log: {line}");
    }
}

#[test]
fn a_hook_program_that_cannot_run_stops_the_start() {
    let dir = TempDir::new("hooks-exec-missing");
    let (status, stderr) = run_server_to_exit(&["--on-publish", "no-such-hook-program-4711"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--on-publish: no-such-hook-program-4711 not found in PATH"),
        "{stderr}"
    );
    let plain = dir.path().join("notes.txt");
    std::fs::write(&plain, "not a program").unwrap();
    let (status, stderr) = run_server_to_exit(&["--on-play-done", plain.to_str().unwrap()]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--on-play-done: ") && stderr.contains("is not an executable file"),
        "{stderr}"
    );
    // A webhook needs nothing at start-up.
    let mut server = ServerProcess::start(&["--on-publish", "http://127.0.0.1:9/never"]);
    assert!(server.terminate().success());
}
