//! Integration: the README's webhook receiver (the Python block in "Hooks") works as shown:
//! run with the test's secret file and port, it allows the key it knows, refuses others and
//! takes the signed notifications.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::*;
use rtmp_server::client::{ClientError, RtmpClient};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

/// The README's Python receiver, as printed.
fn readme_receiver() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let hooks = &readme[readme.find("\n## Hooks").expect("a Hooks section")..];
    let start = hooks.find("```python\n").expect("a Python receiver in Hooks") + "```python\n".len();
    let code = &hooks[start..];
    code[..code.find("```").unwrap()].to_owned()
}

/// Kills the receiver (ours, by its PID) when the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_readme_webhook_receiver_checks_signatures_and_decides_by_key() {
    require_tool("python3");
    let dir = TempDir::new("hooks-readme");
    let secret = dir.path().join("hook-secret");
    std::fs::write(&secret, "readme-secret\n").unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let code = readme_receiver();
    assert!(
        code.contains("/etc/rtmp/hook-secret") && code.contains("8090"),
        "{code}"
    );
    let code = code
        .replace("/etc/rtmp/hook-secret", secret.to_str().unwrap())
        .replace("8090", &port.to_string());
    let _receiver = Child(
        Command::new("python3")
            .args(["-c", &code])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run python3"),
    );
    wait_until("the receiver listens", DEADLINE, || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let url = format!("http://127.0.0.1:{port}/hook");
    let server = ServerProcess::start(&[
        "--on-publish",
        &url,
        "--on-publish-done",
        &url,
        "--hook-secret-file",
        secret.to_str().unwrap(),
    ]);

    let mut known = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    known.publish("cam?key=s3cret").expect("the known key is allowed");
    let mut wrong = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    match wrong.publish("other?key=s3cret") {
        Err(ClientError::Rejected(code)) => assert_eq!(code, "NetStream.Publish.BadName"),
        other => panic!("an unknown stream is refused: {other:?}"),
    }
    known.unpublish().unwrap();
    common::http::wait_metric(&server, r#"rtmp_hooks_total{event="publish_done",outcome="ok"}"#, |n| {
        n == 1
    });
    assert_eq!(
        common::http::metric(&server, r#"rtmp_hooks_total{event="publish",outcome="denied"}"#),
        1
    );

    // Unsigned requests get 401 from the receiver: the publish is refused.
    let unsigned = ServerProcess::start(&["--on-publish", &url]);
    let mut client = RtmpClient::connect(unsigned.addr, "live", TIMEOUT).unwrap();
    assert!(
        client.publish("cam?key=s3cret").is_err(),
        "an unsigned request is refused"
    );
    let reply = common::http::http_request(common::http::api_addr(&unsigned), "GET", "/api/hooks", &[]);
    assert_eq!(
        reply.json()["recent_failures"][0]["error"],
        "status 401",
        "{}",
        reply.body
    );
}
