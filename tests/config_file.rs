//! Integration: `--config PATH` files, `check-config` and `print-config` of the real binary.
//! Every flag round-trips through print-config, flags override the file, each error class
//! names PATH:LINE:COLUMN and the key, and the shipped example file is valid and up to date.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::TempDir;
use rtmp_server::config::file::key_flags;
use rtmp_server::config::{parse_args, Invocation};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The effective configuration (Debug) of a command line, through the library.
fn effective(args: &[&str]) -> String {
    match parse_args("rtmp-server", args) {
        Invocation::Run(config) => format!("{config:?}"),
        other => panic!("expected a config for {args:?}, got {other:?}"),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `print-config ARGS` → a file; loading it gives the same configuration as ARGS.
fn assert_round_trips(dir: &Path, args: &[&str]) {
    let output = run(&[&["print-config"][..], args].concat());
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    let file = write(dir, "printed.toml", &printed);
    assert_eq!(
        effective(&["--config", file.to_str().unwrap()]),
        effective(args),
        "print-config output:\n{printed}"
    );
}

/// A non-default value for every flag with a key (repeatable ones twice; switches bare).
const SAMPLES: &[(&str, &[&str])] = &[
    ("listen", &["127.0.0.1:1936"]),
    ("log-level", &["debug"]),
    ("record-all", &[]),
    ("record-dir", &["/tmp/rec dir"]),
    ("chunk-size", &["60000"]),
    ("record-path", &["%app/%stream_%i"]),
    ("record-max-size", &["512M"]),
    ("record-max-duration", &["1h"]),
    ("record-from-any-frame", &[]),
    ("record-reconnect-gap", &["5s"]),
    ("upload", &["s3://recordings/edge-1"]),
    ("on-upload-done", &["http://127.0.0.1:9/uploaded"]),
    ("upload-endpoint", &["http://127.0.0.1:3900"]),
    ("upload-region", &["garage"]),
    ("upload-path-style", &[]),
    ("upload-credentials-file", &["/etc/rtmp-server/s3.key"]),
    ("upload-delete", &[]),
    ("upload-concurrency", &["4"]),
    ("upload-part-size", &["32M"]),
    ("upload-delete-unsent-when-full", &[]),
    ("record-format", &["flv", "mp4"]),
    ("record", &["live/*", "x/\"quoted\""]),
    ("no-record", &["live/private*"]),
    ("record-min-free", &["2G"]),
    ("record-retention-max", &["100G"]),
    ("record-retention-days", &["7"]),
    ("on-record-done", &["/bin/true"]),
    ("on-record-done-timeout", &["30m"]),
    ("on-connect", &["http://127.0.0.1:9/connect"]),
    ("on-publish", &["http://127.0.0.1:9/publish", "/bin/true"]),
    ("on-publish-done", &["https://hooks.example/done"]),
    ("on-play", &["/bin/true"]),
    ("on-play-done", &["http://127.0.0.1:9/play-done"]),
    ("hook-timeout", &["2s"]),
    ("hook-retries", &["5"]),
    ("hook-secret-file", &[concat!(env!("CARGO_MANIFEST_DIR"), "/LICENSE")]),
    ("apps-strict", &[]),
    ("http-allow-open", &[]),
    ("publish-conflict", &["reject"]),
    ("play-wait-timeout", &["30s"]),
    ("play-coalesce", &["10ms"]),
    ("play-max-lag", &["5s"]),
    ("http-listen", &["127.0.0.1:9090"]),
    ("publish-keys", &["/etc/rtmp/publish.keys"]),
    ("play-keys", &["/etc/rtmp/play.keys"]),
    ("allow-publish", &["10.0.0.0/8", "::1"]),
    ("deny", &["192.168.0.0/16"]),
    ("max-connections", &["50"]),
    ("max-connections-per-ip", &["3"]),
    ("handshake-timeout", &["5s"]),
    ("first-packet-timeout", &["7s"]),
    ("idle-timeout", &["9s"]),
    ("write-timeout", &["11s"]),
    ("max-message-size", &["1M"]),
    ("max-chunk-streams", &["100"]),
    ("tls-listen", &["127.0.0.1:1937"]),
    ("srt-listen", &["127.0.0.1:9000"]),
    ("srt-latency", &["200ms"]),
    ("srt-passphrase-file", &["/etc/rtmp/srt-passphrase"]),
    ("srt-max-connections", &["16"]),
    ("tls-cert", &["/etc/rtmp/cert.pem"]),
    ("tls-key", &["/etc/rtmp/key.pem"]),
    ("push-ca", &["/etc/rtmp/ca.pem"]),
    ("http-token-file", &["/etc/rtmp/token"]),
    ("http-max-connections", &["10"]),
    ("http-max-connections-per-ip", &["4"]),
    ("http-timeout", &["3s"]),
    ("http-cors-origin", &["https://a.example", "*"]),
    ("hls", &[]),
    ("hls-segment", &["4s"]),
    ("hls-window", &["4"]),
    ("hls-part", &["300ms"]),
    ("hls-session-idle", &["20s"]),
    ("push", &["rtmp://a/live/{stream}", "rtmps://b:1940/{app}/{stream}"]),
];

#[test]
fn every_flag_round_trips_through_print_config() {
    let dir = TempDir::new("config-roundtrip");
    let keys: Vec<String> = key_flags().iter().map(|f| f.name.clone()).collect();
    for name in &keys {
        assert!(
            SAMPLES.iter().any(|(n, _)| n == name),
            "--{name} has no sample value in tests/config_file.rs SAMPLES: add one"
        );
    }
    let mut args: Vec<String> = Vec::new();
    for (name, values) in SAMPLES {
        assert!(keys.contains(&(*name).to_owned()), "--{name} is not a flag any more");
        if values.is_empty() {
            args.push(format!("--{name}"));
        }
        for value in *values {
            args.push(format!("--{name}"));
            args.push((*value).to_owned());
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_round_trips(dir.path(), &args);
    // Defaults alone, and each flag alone, round-trip as well.
    assert_round_trips(dir.path(), &[]);
    for (name, values) in SAMPLES {
        let flag = format!("--{name}");
        let mut one = vec![flag.as_str()];
        one.extend(values.first());
        if !["tls-listen", "tls-cert", "tls-key"].contains(name) {
            // --tls-listen/--tls-cert need each other (checked after parsing).
            assert_round_trips(dir.path(), &one);
        }
    }
}

#[test]
fn print_config_prints_every_key_with_defaults_and_redacts_push_keys() {
    let output = run(&[
        "print-config",
        "--push",
        "rtmp://live.example/app/STREAMKEY?x=QUERYPASS",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(
        !printed.contains("STREAMKEY") && !printed.contains("QUERYPASS"),
        "{printed}"
    );
    assert!(
        printed.contains("push = [\"rtmp://live.example/app/***?***\"]"),
        "{printed}"
    );
    assert!(printed.contains("\nlisten = \"0.0.0.0:1935\"\n"), "{printed}");
    assert!(printed.contains("\nchunk_size = 4096\n"), "{printed}");
    assert!(printed.contains("\nrecord_all = false\n"), "{printed}");
    for flag in key_flags() {
        let key = flag.key();
        assert!(
            printed
                .lines()
                .any(|l| l.starts_with(&format!("{key} = ")) || l == format!("# {key} = (unset)")),
            "{key} missing:\n{printed}"
        );
    }
}

#[test]
fn a_file_plus_overriding_flags() {
    let dir = TempDir::new("config-override");
    let file = write(
        dir.path(),
        "rtmp.toml",
        "record_all = true\nrecord_dir = \"/var/lib/rec\"\nchunk_size = 8192\n\
         push = [\"rtmp://a/live/{stream}\", \"rtmp://b/live/{stream}\"]\nhttp_listen = \"off\"\n",
    );
    let file = file.to_str().unwrap();
    let with_flags = [
        "--chunk-size",
        "16384",
        "--config",
        file,
        "--push",
        "rtmp://c/live/{stream}",
    ];
    let expected = [
        "--record-all",
        "--record-dir",
        "/var/lib/rec",
        "--chunk-size",
        "16384",
        "--push",
        "rtmp://c/live/{stream}",
        "--http-listen",
        "off",
    ];
    assert_eq!(effective(&with_flags), effective(&expected));
    let printed = String::from_utf8(run(&[&["print-config"][..], &with_flags[..]].concat()).stdout).unwrap();
    for line in [
        "record_all = true",
        "record_dir = \"/var/lib/rec\"",
        "chunk_size = 16384",
        "push = [\"rtmp://c/live/{stream}\"]",
        "http_listen = \"off\"",
    ] {
        assert!(printed.lines().any(|l| l == line), "{line} missing:\n{printed}");
    }
}

#[test]
fn each_error_class_names_path_line_column_and_key() {
    let dir = TempDir::new("config-errors");
    let cases = [
        (
            "unknown.toml",
            "listen = \"0.0.0.0:1935\"\nrecord_everything = true\n",
            ":2:1: unknown key `record_everything`",
        ),
        (
            "type.toml",
            "\n\nchunk_size = [1]\n",
            ":3:14: key `chunk_size`: wrong type",
        ),
        (
            "switch.toml",
            "record_all = \"yes\"\n",
            ":1:14: key `record_all`: wrong type",
        ),
        (
            "value.toml",
            "# c\nlog_level = \"loud\"\n",
            ":2:13: key `log_level`: bad value: expected one of",
        ),
        (
            "list.toml",
            "deny = [\"10.0.0.0/8\", \"nonsense\"]\n",
            ":1:23: key `deny`: bad value",
        ),
    ];
    for (name, text, expected) in cases {
        let path = write(dir.path(), name, text);
        let path = path.to_str().unwrap();
        for args in [
            &["check-config", path][..],
            &["--config", path][..],
            &["print-config", "--config", path][..],
        ] {
            let output = run(args);
            assert_eq!(output.status.code(), Some(2), "{args:?}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains(&format!("{path}{expected}")), "{args:?}: {stderr}");
        }
    }
}

#[test]
fn check_config_exits_0_for_a_valid_file_and_2_otherwise() {
    let dir = TempDir::new("config-check");
    let good = write(
        dir.path(),
        "good.toml",
        "record_all = true\nrecord = [\"live/*\"]\nmax_connections = 10\n",
    );
    let output = run(&["check-config", good.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bad = write(dir.path(), "bad.toml", "record_all = [\n");
    let output = run(&["check-config", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("bad.toml:1:"),
        "invalid TOML names its line"
    );
    let missing = dir.path().join("missing.toml");
    assert_eq!(run(&["check-config", missing.to_str().unwrap()]).status.code(), Some(2));
    assert_eq!(run(&["check-config"]).status.code(), Some(2));
    // Checks done after parsing count too: --tls-listen without its certificate.
    let tls = write(dir.path(), "tls.toml", "tls_listen = \"127.0.0.1:1937\"\n");
    assert_eq!(run(&["check-config", tls.to_str().unwrap()]).status.code(), Some(2));
}

#[test]
fn the_shipped_example_is_valid_and_documents_every_key() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/rtmp-server.toml");
    let output = run(&["check-config", example.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&example).unwrap();
    for flag in key_flags() {
        let key = flag.key();
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# {key} = ")) || l.starts_with(&format!("{key} = "))),
            "scripts/rtmp-server.toml does not document `{key}`: add it (rtmp-server print-config shows it)"
        );
    }
}
