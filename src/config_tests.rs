//! Flag parsing: defaults, every flag, one-line errors naming the flag, help and version.
use super::*;

fn run(args: &[&str]) -> Config {
    match parse_args("rtmp-server", args) {
        Invocation::Run(config) => *config,
        other => panic!("expected a config, got {other:?}"),
    }
}

fn usage_error(args: &[&str]) -> String {
    match parse_args("rtmp-server", args) {
        Invocation::UsageError(line) => line,
        other => panic!("expected a usage error, got {other:?}"),
    }
}

#[test]
fn defaults_follow_the_reference_design() {
    let config = run(&[]);
    assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(config.log_level, LevelFilter::Info);
    assert!(!config.record_all);
    assert_eq!(config.record_dir, PathBuf::from("recordings"));
    assert_eq!(config.chunk_size, 4096);
    assert_eq!(config.http_listen, Some(SocketAddr::from(([127, 0, 0, 1], 19350))));
}

#[test]
fn every_flag_parses() {
    let config = run(&[
        "--listen",
        "127.0.0.1:0",
        "--log-level",
        "debug",
        "--record-all",
        "--record-dir",
        "/tmp/r",
        "--chunk-size",
        "60000",
    ]);
    assert_eq!(config.listen.port(), 0);
    assert_eq!(config.log_level, LevelFilter::Debug);
    assert!(config.record_all);
    assert_eq!(config.record_dir, PathBuf::from("/tmp/r"));
    assert_eq!(config.chunk_size, 60000);
}

#[test]
fn bad_values_are_one_line_errors_naming_the_flag() {
    for (args, flag) in [
        (&["--chunk-size", "12"][..], "--chunk-size"),
        (&["--chunk-size", "abc"][..], "--chunk-size"),
        (&["--listen", "nowhere"][..], "--listen"),
        (&["--log-level", "loud"][..], "--log-level"),
        (&["--bogus"][..], "--bogus"),
    ] {
        let line = usage_error(args);
        assert!(line.contains(flag), "{line}");
        assert!(!line.contains('\n'));
    }
}

#[test]
fn help_lists_every_default() {
    let Invocation::Print(help) = parse_args("rtmp-server", &["--help"]) else {
        panic!("help expected");
    };
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "0.0.0.0:1935",
        "default: info",
        "default: recordings",
        "default: 4096",
        "--record-all",
    ] {
        assert!(help.contains(needle), "help lacks {needle}: {help}");
    }
}

#[test]
fn recording_flags_parse() {
    let config = run(&[
        "--record-path",
        "%app/%stream_%i",
        "--record-max-size",
        "512M",
        "--record-max-duration",
        "30m",
        "--record-reconnect-gap",
        "0",
        "--record",
        "live/*",
        "--record",
        "*/cam?",
        "--no-record",
        "live/secret",
        "--record-min-free",
        "2G",
        "--record-retention-max",
        "100G",
        "--record-retention-days",
        "7",
        "--on-record-done",
        "/usr/local/bin/upload",
        "--on-record-done-timeout",
        "90s",
        "--record-from-any-frame",
    ]);
    let r = &config.recording;
    assert_eq!(r.max_size, Some(512 << 20));
    assert_eq!(r.max_duration, Some(Duration::from_secs(1800)));
    assert!(r.reconnect_gap.is_zero());
    assert_eq!(r.record.len(), 2);
    assert!(r.should_record(false, "live", "x") && !r.should_record(true, "live", "secret"));
    assert_eq!(
        (r.min_free, r.retention_max, r.retention_days),
        (2 << 30, Some(100 << 30), Some(7))
    );
    assert!(r.from_any_frame && r.on_record_done.is_some());
    assert_eq!(r.on_record_done_timeout, Duration::from_secs(90));
    let off = run(&["--record-max-size", "0", "--record-max-duration", "0"]).recording;
    assert_eq!((off.max_size, off.max_duration), (None, None), "0 turns rotation off");
    let defaults = run(&[]).recording;
    assert_eq!(defaults, RecordOptions::default());
    for (args, flag) in [
        (&["--record-max-size", "big"][..], "--record-max-size"),
        (&["--record-path", "/etc/%stream"][..], "--record-path"),
        (&["--record-path", "a/../b"][..], "--record-path"),
        (&["--record-max-duration", "soon"][..], "--record-max-duration"),
        (&["--on-record-done-timeout", "0"][..], "--on-record-done-timeout"),
    ] {
        assert!(usage_error(args).contains(flag));
    }
}

#[test]
fn ops_flags_parse() {
    let config = run(&[
        "--publish-keys",
        "/etc/p.keys",
        "--play-keys",
        "/etc/q.keys",
        "--allow-publish",
        "10.0.0.0/8",
        "--allow-publish",
        "::1",
        "--deny",
        "192.0.2.0/24",
        "--max-connections",
        "5",
        "--max-connections-per-ip",
        "2",
    ]);
    let ops = &config.ops;
    assert_eq!(ops.publish_keys.as_deref(), Some(std::path::Path::new("/etc/p.keys")));
    assert!(ops.play_keys.is_some());
    assert_eq!((ops.allow_publish.len(), ops.deny.len()), (2, 1));
    assert_eq!((config.limits.max_connections, ops.max_connections_per_ip), (5, 2));
    let defaults = run(&[]);
    assert_eq!(defaults.limits.max_connections, DEFAULT_MAX_CONNECTIONS);
    assert_eq!(defaults.ops.max_connections_per_ip, 0);
    assert!(defaults.ops.publish_keys.is_none() && defaults.ops.deny.is_empty());
    for (args, flag) in [
        (&["--deny", "10.0.0.1/8"][..], "--deny"),
        (&["--allow-publish", "x"][..], "--allow-publish"),
        (&["--max-connections", "0"][..], "--max-connections"),
    ] {
        assert!(usage_error(args).contains(flag));
    }
}

#[test]
fn version_prints_the_package_version() {
    let Invocation::Print(text) = parse_args("rtmp-server", &["--version"]) else {
        panic!("version expected");
    };
    assert!(text.contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_bad_push_url_is_refused_without_echoing_its_key() {
    match parse_args("rtmp-server", &["--push", "ftp://x/live/KEYSECRET"]) {
        Invocation::UsageError(line) => {
            assert!(line.contains("--push") && line.contains("expected rtmp://"), "{line}");
            assert!(!line.contains("KEYSECRET"), "{line}");
        }
        _ => panic!("a bad --push must be a usage error"),
    }
}

// --config files (config::file): keys come from argh's flag list.

#[test]
fn every_flag_but_help_version_and_config_has_a_key_of_the_right_kind() {
    use file::{key_flags, Kind};
    let flags = key_flags();
    let kind = |key: &str| flags.iter().find(|f| f.key() == key).map(|f| f.kind);
    assert_eq!(kind("record_all"), Some(Kind::Switch));
    assert_eq!(kind("record_dir"), Some(Kind::Single));
    assert_eq!(kind("push"), Some(Kind::Repeated));
    assert_eq!(kind("http_listen"), Some(Kind::Single));
    for not_a_key in ["help", "version", "config"] {
        assert_eq!(kind(not_a_key), None);
    }
    // Every `--flag` of the help text is a key.
    let help = match Args::from_args(&["rtmp-server"], &["--help"]) {
        Err(exit) => exit.output,
        Ok(_) => panic!("--help"),
    };
    for line in help.lines().filter(|l| l.trim_start().starts_with("--")) {
        let name = line
            .trim_start()
            .trim_start_matches("--")
            .split([' ', ','])
            .next()
            .unwrap();
        assert!(
            ["help", "version", "config"].contains(&name) || kind(&name.replace('-', "_")).is_some(),
            "--{name} has no key"
        );
    }
    assert_eq!(
        flags.iter().find(|f| f.name == "listen").unwrap().documented_default(),
        Some("0.0.0.0:1935")
    );
}

#[test]
fn file_values_become_flags_and_the_command_line_wins_key_by_key() {
    let flags = file::all_flags();
    let text = "record_all = true\nchunk_size = 8192\nrecord = [\"a/*\", \"b/*\"]\nrecord_from_any_frame = false\n";
    let from_file = file::parse("c.toml", text, &flags).unwrap();
    let cli = file::Settings::from_argv(&flags, &["--record", "c/*", "--listen", "127.0.0.1:1"]);
    let argv = from_file.overridden_by(cli).to_argv(&flags);
    assert_eq!(
        argv,
        [
            "--listen",
            "127.0.0.1:1",
            "--record-all",
            "--chunk-size",
            "8192",
            "--record",
            "c/*"
        ]
    );
}

#[test]
fn file_errors_name_path_line_column_and_key() {
    let flags = file::all_flags();
    let errors = file::parse(
        "c.toml",
        "listen = \"x\"\n  bogus = 1\nrecord_all = 1\ndeny = \"10.0.0.0/8\"\n",
        &flags,
    )
    .unwrap_err();
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].starts_with("c.toml:1:10: key `listen`: bad value: expected HOST:PORT"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "c.toml:2:3: unknown key `bogus`");
    assert_eq!(
        lines[2],
        "c.toml:3:14: key `record_all`: wrong type, expected true or false"
    );
    assert_eq!(
        lines[3],
        "c.toml:4:8: key `deny`: wrong type, expected an array of strings"
    );
    let syntax = file::parse("c.toml", "a = [\n", &flags).unwrap_err();
    assert!(
        syntax[0].to_string().starts_with("c.toml:1:6: invalid TOML"),
        "{syntax:?}"
    );
}

#[test]
fn a_bad_push_url_in_a_file_is_refused_without_echoing_its_key() {
    let flags = file::all_flags();
    let errors = file::parse("c.toml", "push = [\"ftp://x/live/KEYSECRET\"]\n", &flags).unwrap_err();
    let line = errors[0].to_string();
    assert!(line.starts_with("c.toml:1:9: key `push`: bad value:"), "{line}");
    assert!(!line.contains("KEYSECRET"), "{line}");
}

#[test]
fn print_redacts_push_stream_keys_and_queries() {
    assert_eq!(print::redact_push("rtmp://a/live/{stream}"), "rtmp://a/live/{stream}");
    assert_eq!(print::redact_push("rtmp://a/live/KEY"), "rtmp://a/live/***");
    assert_eq!(
        print::redact_push("rtmp://a/{app}/{stream}?k=S"),
        "rtmp://a/{app}/{stream}?***"
    );
}

#[test]
fn example_file_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/rtmp-server.toml");
    let expected = print::example();
    if std::env::var_os("RTMP_SERVER_WRITE_EXAMPLE").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let shipped = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        shipped == expected,
        "scripts/rtmp-server.toml is out of date: RTMP_SERVER_WRITE_EXAMPLE=1 cargo test --lib example_file"
    );
}

#[test]
fn file_values_that_look_like_flags_stay_values_and_config_is_not_a_key() {
    let flags = file::all_flags();
    let settings = file::parse("c.toml", "record_dir = \"--help\"\n", &flags).unwrap();
    let argv = settings.to_argv(&flags);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    assert_eq!(run(&argv).record_dir, PathBuf::from("--help"));
    for key in ["config", "help", "version"] {
        let errors = file::parse("c.toml", &format!("{key} = \"x\"\n"), &flags).unwrap_err();
        assert_eq!(errors[0].to_string(), format!("c.toml:1:1: unknown key `{key}`"));
    }
}

#[test]
fn help_of_each_flag_is_its_own_even_when_a_wrapped_line_starts_with_a_flag() {
    for flag in file::key_flags() {
        assert!(!flag.help.is_empty(), "--{} has no help", flag.name);
    }
    let flags = file::key_flags();
    let help = |name: &str| flags.iter().find(|f| f.name == name).unwrap().help.clone();
    assert!(help("record-dir").starts_with("directory for recordings"));
    assert!(help("on-record-done").starts_with("after each finalized file"));
}

#[test]
fn record_formats_repeat_without_duplicates_default_flv_and_apply_per_app() {
    assert_eq!(run(&[]).recording.formats, [Format::Flv]);
    let both = run(&[
        "--record-format",
        "mp4",
        "--record-format",
        "flv",
        "--record-format",
        "mp4",
    ]);
    assert_eq!(both.recording.formats, [Format::Mp4, Format::Flv]);
    assert!(usage_error(&["--record-format", "mkv"]).contains("expected flv or mp4"));
    let path = std::env::temp_dir().join(format!("rtmp-config-formats-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "record_all = true\n[[app]]\nmatch = \"cams/*\"\nrecord_format = [\"mp4\", \"flv\"]\n",
    )
    .unwrap();
    let config = run(&["--config", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(config.recording.formats, [Format::Flv]);
    assert_eq!(config.apps[0].config.recording.formats, [Format::Mp4, Format::Flv]);
}
