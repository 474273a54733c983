//! Integration: program hooks. An on_publish program gets the event's fields in its
//! environment (exit 0 allows); one that hangs is killed at --hook-timeout and refuses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::*;
use rtmp_server::client::RtmpClient;
use std::path::PathBuf;
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
    client.publish("cam?key=abc").expect("exit 0 allows");
    let env = std::fs::read_to_string(&env_file).unwrap();
    for line in [
        "RTMP_EVENT=publish",
        "RTMP_APP=live",
        "RTMP_STREAM=cam",
        "RTMP_QUERY=key=abc",
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
}
