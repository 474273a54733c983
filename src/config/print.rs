//! `print-config`: the effective settings as a TOML config file, every key present (defaults
//! included, each under its help text), secrets redacted; and the shipped example file, the
//! same keys commented out. Both come from argh's flag list, so a new flag shows up here.

use super::file::{key_flags, Flag, Kind, Settings};
use super::{Args, Config};
use argh::FromArgs;

/// How a value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The effective configuration: set and default values as keys.
    Effective,
    /// The example file: every key commented out, with its default where it has one.
    Example,
}

/// Keys whose values are secrets themselves (not paths to secret files).
fn is_secret_key(key: &str) -> bool {
    ["secret", "token", "password"].iter().any(|w| key.contains(w)) && !key.ends_with("_file")
}

/// A push URL with its stream part (unless `{stream}`) and query replaced by `***`.
pub fn redact_push(url: &str) -> String {
    let (path, query) = match url.split_once('?') {
        Some((path, _)) => (path, "?***"),
        None => (url, ""),
    };
    let path = if path.ends_with("/{stream}") {
        path.to_owned()
    } else {
        match path.rsplit_once('/') {
            Some((head, _)) => format!("{head}/***"),
            None => "***".to_owned(),
        }
    };
    format!("{path}{query}")
}

/// A TOML basic string.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One value as TOML: a plain decimal integer bare, anything else a string.
fn toml_value(value: &str) -> String {
    match value.parse::<i64>() {
        Ok(n) if n.to_string() == value => value.to_owned(),
        _ => quote(value),
    }
}

fn shown(flag: &Flag, value: &str) -> String {
    if flag.name == "push" {
        redact_push(value)
    } else if is_secret_key(&flag.key()) {
        "***".to_owned()
    } else {
        value.to_owned()
    }
}

/// The documented default if giving it yields the same configuration as leaving the flag
/// out (so `off` is not taken for a path named off, and the output round-trips).
fn usable_default(flag: &Flag) -> Option<&str> {
    let value = flag.documented_default()?;
    let option = format!("--{}", flag.name);
    let config = |args: &[&str]| {
        Args::from_args(&["rtmp-server"], args)
            .ok()
            .map(|a| format!("{:?}", Config::from(a)))
    };
    let with = config(&[option.as_str(), value])?;
    (Some(with) == config(&[])).then_some(value)
}

/// The `key = value` line (None: an unset option without a usable default).
fn key_line(flag: &Flag, values: Option<&Vec<String>>) -> Option<String> {
    let key = flag.key();
    match flag.kind {
        Kind::Switch => Some(format!("{key} = {}", values.is_some())),
        Kind::Repeated => {
            let items: Vec<String> = values
                .map(|v| v.iter().map(|x| toml_value(&shown(flag, x))).collect())
                .unwrap_or_default();
            Some(format!("{key} = [{}]", items.join(", ")))
        }
        Kind::Single => {
            let value = match values.and_then(|v| v.last()) {
                Some(v) => v.as_str(),
                None => usable_default(flag)?,
            };
            Some(format!("{key} = {}", toml_value(&shown(flag, value))))
        }
    }
}

/// Wraps `text` into `# ` comment lines of about 96 columns.
fn comment(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + word.len() > 95 && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The settings as a config file in `style`.
pub fn render(settings: &Settings, style: Style) -> String {
    let mut out = String::new();
    for flag in key_flags() {
        out.push('\n');
        out.push_str(&comment(&flag.help));
        let line = key_line(&flag, settings.values.get(&flag.name));
        match (style, line) {
            (Style::Effective, Some(line)) => out.push_str(&format!("{line}\n")),
            (Style::Example, Some(line)) => out.push_str(&format!("# {line}\n")),
            (_, None) => out.push_str(&format!("# {} = (unset)\n", flag.key())),
        }
    }
    out
}

/// The `[[app]]` tables as written (their keys only; secrets redacted).
pub fn render_apps(apps: &[super::apps::AppTable]) -> String {
    let flags = key_flags();
    let mut out = String::new();
    for app in apps {
        out.push_str(&format!(
            "\n[[app]]\n{} = {}\n",
            super::apps::MATCH_KEY,
            quote(&app.pattern)
        ));
        for flag in &flags {
            if app.off.contains(&flag.name) {
                out.push_str(&format!("{} = false\n", flag.key()));
            } else if let Some(line) = app
                .settings
                .values
                .get(&flag.name)
                .and_then(|v| key_line(flag, Some(v)))
            {
                out.push_str(&format!("{line}\n"));
            }
        }
    }
    out
}

/// The `[[source]]` tables as written (URLs in commands without passwords or queries).
pub fn render_sources(sources: &[super::sources::SourceTable]) -> String {
    let mut out = String::new();
    for source in sources {
        let command: Vec<String> = source
            .command
            .iter()
            .map(|part| quote(&super::sources::redact_urls(part)))
            .collect();
        out.push_str(&format!(
            "\n[[{}]]\nname = {}\ncommand = [{}]\n",
            super::sources::TABLE,
            quote(&source.name),
            command.join(", ")
        ));
        if let Some(stream) = &source.on_demand {
            let idle = source.on_demand_idle.as_millis();
            let idle = if idle % 1000 == 0 {
                format!("{}s", idle / 1000)
            } else {
                format!("{idle}ms")
            };
            out.push_str(&format!(
                "on_demand = {}\non_demand_idle = {}\n",
                quote(stream),
                quote(&idle)
            ));
        }
    }
    out
}

/// The shipped example file (scripts/rtmp-server.toml): every key commented out.
pub fn example() -> String {
    let header = "\
# rtmp-server configuration: rtmp-server --config /etc/rtmp-server/rtmp-server.toml
#
# Each key is a long flag of `rtmp-server --help` with _ for - (record_dir = \"...\" is
# --record-dir ...). Switches take true or false, repeatable flags an array, the rest a string
# or a number. Flags given on the command line override this file; a repeatable flag given
# there replaces the file's whole list. Unknown keys, wrong types and bad values are errors
# naming FILE:LINE:COLUMN and the key. Check a file with: rtmp-server check-config FILE
# See the effective settings with: rtmp-server print-config --config FILE [flags]
#
# Under systemd with rtmp-server.socket active (install.sh and the Debian package enable it)
# the RTMP port lives in the socket unit (ListenStream=1935) and listen is not used: change the
# port with systemctl edit rtmp-server.socket.
#
# Every key below is commented out and shows its default (\"(unset)\": off unless given).
# Regenerate after adding a flag: RTMP_SERVER_WRITE_EXAMPLE=1 cargo test --lib example_file
";
    format!(
        "{header}{}{SOURCE_EXAMPLE}",
        render(&Settings::default(), Style::Example)
    )
}

/// The example file's `[[source]]` part (README "Sources").
const SOURCE_EXAMPLE: &str = "
# Supervised sources: commands the server runs (no shell; the program is looked up in PATH),
# restarts after 1 s doubling to 30 s when they exit, and stops (SIGTERM, SIGKILL after 5 s)
# on shutdown. With on_demand = \"app/stream\" a source runs only while that stream has
# players and stops on_demand_idle (default 10s) after the last one left. Status: GET
# /api/sources. Tables go after every top-level key (TOML puts the keys that follow a table
# header into that table). An RTSP camera published here as cams/door:
# [[source]]
# name = \"door\"
# command = [\"ffmpeg\", \"-nostdin\", \"-nostats\", \"-loglevel\", \"warning\", \"-rtsp_transport\", \"tcp\",
#            \"-i\", \"rtsp://user:password@192.168.1.20:554/stream1\",
#            \"-c\", \"copy\", \"-f\", \"flv\", \"rtmp://127.0.0.1/cams/door\"]
# on_demand = \"cams/door\"
# on_demand_idle = \"30s\"
";
