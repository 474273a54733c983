//! The binary's command line: usage errors exit 2 with one line naming the flag; a closed
//! stdout/stderr pipe is not a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use std::process::{Command, Stdio};

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn bad_flag_value_exits_2_with_an_error_naming_the_flag() {
    let output = run(&["--chunk-size", "zero"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.lines().next().unwrap().contains("--chunk-size"), "{stderr}");
}

#[test]
fn unknown_flag_exits_2() {
    let output = run(&["--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--no-such-flag"));
}

#[test]
fn help_and_version_exit_0() {
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--record-dir") && text.contains("default: 4096"),
        "{text}"
    );
    let version = run(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

/// `--help` and `-h` group the flags by topic: each heading once, every flag (as argh knows
/// them) introduced exactly once, and the subcommands listed.
#[test]
fn help_is_grouped_by_topic_with_every_flag_once_and_the_subcommands() {
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout).into_owned();
    let short = run(&["-h"]);
    assert_eq!(short.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&short.stdout), text);
    let headings = [
        "General",
        "Listening",
        "Recording",
        "Publishing and playback",
        "Security",
        "Limits",
        "HTTP API",
        "Hooks",
        "Push and TLS",
        "Commands",
    ];
    for heading in headings {
        let count = text.lines().filter(|l| *l == format!("{heading}:")).count();
        assert_eq!(count, 1, "heading {heading}: {text}");
    }
    assert!(!text.contains("\nOther:\n"), "a flag has no group: {text}");
    let flags = rtmp_server::config::file::all_flags();
    assert!(flags.len() > 40);
    for flag in flags {
        // An entry line is "  --name ..." (mentions inside help text are deeper indented).
        let entries = text
            .lines()
            .filter(|l| l.strip_prefix("  --").and_then(|r| r.split_whitespace().next()) == Some(&flag.name))
            .count();
        assert_eq!(entries, 1, "--{}: {text}", flag.name);
    }
    assert!(text.lines().any(|l| l.starts_with("  -h, --help")), "{text}");
    for args in [
        &["repair", "--help"][..],
        &["check-config", "-h"],
        &["print-config", "--help"],
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), text, "{args:?}");
    }
    for command in ["check-config PATH", "print-config [--config PATH]", "repair FILE..."] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("  {command}"))),
            "{command}: {text}"
        );
        assert!(
            text.contains(&format!("rtmp-server {command}")),
            "usage of {command}: {text}"
        );
    }
}

/// 8080 is taken by half the dev tools people run; the HTTP API defaults to 19350.
#[test]
fn help_names_the_http_default_that_rarely_collides() {
    let help = run(&["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    let words: Vec<&str> = text.split_whitespace().collect();
    assert!(words.join(" ").contains("(default: 127.0.0.1:19350)"), "{text}");
    assert!(!text.contains("8080"), "{text}");
}

#[test]
fn address_in_use_exits_1_with_a_log_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = run(&["--listen", &addr]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen"));
}

/// A stdout (or stderr) pipe whose reader is gone: writes fail with EPIPE.
fn broken_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Stdio::from(writer)
}

#[test]
fn closed_stdout_or_stderr_is_not_a_panic() {
    // `print!` would panic here (exit 101, "failed printing to stdout").
    let help = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .arg("--help")
        .stdin(Stdio::null())
        .stdout(broken_pipe())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0), "{}", String::from_utf8_lossy(&help.stderr));
    let usage = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .arg("--no-such-flag")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(broken_pipe())
        .status()
        .unwrap();
    assert_eq!(usage.code(), Some(2));
    let repair = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .args(["repair", "/nonexistent/rtmp-server-cli-test.flv"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(broken_pipe())
        .status()
        .unwrap();
    assert_eq!(repair.code(), Some(1));
}

#[test]
fn repair_goes_on_when_stdout_is_a_closed_pipe() {
    let dir = common::TempDir::new("cli-repair-epipe");
    let clip = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/clip2s.flv")).unwrap();
    let parts: Vec<_> = ["a", "b"]
        .iter()
        .map(|n| dir.path().join(format!("{n}.flv.part")))
        .collect();
    for part in &parts {
        std::fs::write(part, &clip).unwrap();
    }
    let output = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .arg("repair")
        .args(&parts)
        .stdin(Stdio::null())
        .stdout(broken_pipe())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    // `println!` panicked on the first "repaired" line: exit 101 and b.flv.part left alone.
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for name in ["a.flv", "b.flv"] {
        assert!(dir.path().join(name).exists(), "{name} finalized");
    }
    assert!(parts.iter().all(|p| !p.exists()), ".part files renamed");
}

#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"rec\xff.flv");
    for args in [
        vec![std::ffi::OsStr::new("repair"), bad],
        vec![std::ffi::OsStr::new("--record-dir"), bad],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        // `std::env::args` panicked here (exit 101).
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("not valid UTF-8"), "{stderr}");
    }
}

#[test]
fn an_api_other_machines_reach_needs_a_token_or_http_allow_open() {
    // print-config refuses what a start would refuse, and never starts serving.
    let refused = run(&["print-config", "--http-listen", "0.0.0.0:0"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--http-token-file"), "{stderr}");
    let open = run(&["print-config", "--http-listen", "0.0.0.0:0", "--http-allow-open"]);
    assert!(open.status.success(), "{}", String::from_utf8_lossy(&open.stderr));
    let local = run(&["print-config", "--http-listen", "127.0.0.1:0"]);
    assert!(local.status.success(), "loopback needs no token");
}
