//! The result of one bench scenario and its two renderings: a human table and one JSON
//! object (written by hand).

use std::fmt::Write;

/// Latency of stamped video frames from the bench writing them to a player reading them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub samples: usize,
}

impl Latency {
    /// Nearest-rank percentiles of samples in nanoseconds; None without samples.
    pub fn from_nanos(mut samples: Vec<u64>) -> Option<Latency> {
        samples.sort_unstable();
        let n = samples.len();
        let rank = |p: usize| -> f64 {
            let index = (p * n).div_ceil(100).saturating_sub(1);
            samples.get(index).copied().unwrap_or(0) as f64 / 1e6
        };
        let max = *samples.last()?;
        Some(Latency {
            p50_ms: rank(50),
            p99_ms: rank(99),
            max_ms: max as f64 / 1e6,
            samples: n,
        })
    }
}

/// CPU and memory of the server process over the scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerUsage {
    pub cpu_s: f64,
    pub cpu_pct: f64,
    /// Highest VmRSS sampled during the scenario.
    pub peak_rss_kb: u64,
    /// VmHWM at the end (the peak over the server's whole life, earlier scenarios included).
    pub hwm_kb: u64,
}

/// What one kind of HTTP viewer saw (joined after the publish began, so counted by whether
/// it read to the end without a gap rather than by frame totals).
#[derive(Debug, Clone, PartialEq)]
pub struct ViewerFigures {
    pub viewers: usize,
    /// Read to the end of the stream with no error and no gap.
    pub kept_up: usize,
    pub video_frames: Option<(u64, u64)>,
    pub bytes: u64,
    /// Publish to arrival of stamped video frames.
    pub latency: Option<Latency>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub server: String,
    pub app: String,
    pub stream: String,
    pub source: String,
    pub publishers: usize,
    pub players: usize,
    pub realtime: bool,
    pub duration_s: f64,
    pub wall_s: f64,
    pub bytes_published: u64,
    pub bytes_received: u64,
    pub frames_published: u64,
    pub video_frames_published: u64,
    /// Min and max over players (None without players).
    pub frames_received: Option<(u64, u64)>,
    pub video_frames_received: Option<(u64, u64)>,
    pub players_kept_up: usize,
    pub latency: Option<Latency>,
    /// Keyframes only (the largest frames, so the slowest to fan out).
    pub keyframe_latency: Option<Latency>,
    /// Every other stamped frame.
    pub inter_latency: Option<Latency>,
    pub server_usage: Option<ServerUsage>,
    pub bench_cpu_s: f64,
    pub errors: Vec<String>,
    pub http_flv: Option<ViewerFigures>,
    /// LL-HLS viewers; their latency is per part (publish to part available).
    pub hls: Option<ViewerFigures>,
}

impl Summary {
    /// Every publisher finished cleanly and every player kept up.
    pub fn all_kept_up(&self) -> bool {
        self.errors.is_empty()
            && self.players_kept_up == self.players
            && [&self.http_flv, &self.hls]
                .into_iter()
                .all(|v| v.as_ref().is_none_or(|v| v.kept_up == v.viewers))
    }

    pub fn mb_moved(&self) -> f64 {
        let viewers: u64 = [&self.http_flv, &self.hls].into_iter().flatten().map(|v| v.bytes).sum();
        (self.bytes_published + self.bytes_received + viewers) as f64 / 1e6
    }

    pub fn table(&self) -> String {
        let mut t = String::new();
        let mode = if self.realtime { "realtime" } else { "full speed" };
        let _ = writeln!(
            t,
            "scenario: {} publisher(s) -> {} player(s), {mode}, {:.1} s, {} (server {}, {}/{})",
            self.publishers, self.players, self.duration_s, self.source, self.server, self.app, self.stream
        );
        let mut row = |name: &str, value: String| {
            let _ = writeln!(t, "  {name:<26}{value}");
        };
        row(
            "MB moved",
            format!(
                "{:.1} (published {:.1}, received {:.1})",
                self.mb_moved(),
                self.bytes_published as f64 / 1e6,
                self.bytes_received as f64 / 1e6
            ),
        );
        row(
            "frames published",
            format!("{} (video {})", self.frames_published, self.video_frames_published),
        );
        row("frames received/player", min_max(self.frames_received));
        row("video frames/player", min_max(self.video_frames_received));
        let kept = if self.all_kept_up() { "yes" } else { "no" };
        row(
            "all kept up",
            format!("{kept} ({}/{})", self.players_kept_up, self.players),
        );
        let latency = |l: Option<Latency>| match l {
            Some(l) => format!(
                "{:.3} / {:.3} / {:.3} ({} samples)",
                l.p50_ms, l.p99_ms, l.max_ms, l.samples
            ),
            None => "-".to_owned(),
        };
        row("latency ms p50/p99/max", latency(self.latency));
        row("  keyframes only", latency(self.keyframe_latency));
        row("  other frames only", latency(self.inter_latency));
        if let Some(v) = &self.http_flv {
            row(
                "HTTP-FLV viewers kept up",
                format!("{}/{} (video frames {})", v.kept_up, v.viewers, min_max(v.video_frames)),
            );
            row("  latency ms p50/p99/max", latency(v.latency));
        }
        if let Some(v) = &self.hls {
            row(
                "HLS viewers kept up",
                format!("{}/{} (video frames {})", v.kept_up, v.viewers, min_max(v.video_frames)),
            );
            row("  part latency ms p50/p99", latency(v.latency));
        }
        match self.server_usage {
            Some(u) => {
                row(
                    "server CPU",
                    format!("{:.2} s ({:.1} % of {:.1} s wall)", u.cpu_s, u.cpu_pct, self.wall_s),
                );
                row(
                    "server peak RSS",
                    format!(
                        "{:.1} MB (VmHWM {:.1} MB)",
                        u.peak_rss_kb as f64 / 1024.0,
                        u.hwm_kb as f64 / 1024.0
                    ),
                );
            }
            None => row("server CPU / RSS", "- (no --server-pid)".to_owned()),
        }
        row("bench CPU", format!("{:.2} s", self.bench_cpu_s));
        for error in &self.errors {
            row("error", error.clone());
        }
        t
    }

    pub fn json(&self) -> String {
        let mut j = String::from("{");
        let mut field = |name: &str, value: String| {
            if j.len() > 1 {
                j.push(',');
            }
            let _ = write!(j, "\"{name}\":{value}");
        };
        field("server", quote(&self.server));
        field("app", quote(&self.app));
        field("stream", quote(&self.stream));
        field("source", quote(&self.source));
        field("publishers", self.publishers.to_string());
        field("players", self.players.to_string());
        field("realtime", self.realtime.to_string());
        field("duration_s", number(self.duration_s));
        field("wall_s", number(self.wall_s));
        field("mb_moved", number(self.mb_moved()));
        field("bytes_published", self.bytes_published.to_string());
        field("bytes_received", self.bytes_received.to_string());
        field("frames_published", self.frames_published.to_string());
        field("video_frames_published", self.video_frames_published.to_string());
        let (min, max) = split(self.frames_received);
        field("frames_received_min", min);
        field("frames_received_max", max);
        let (min, max) = split(self.video_frames_received);
        field("video_frames_received_min", min);
        field("video_frames_received_max", max);
        field("players_kept_up", self.players_kept_up.to_string());
        field("all_kept_up", self.all_kept_up().to_string());
        let latency = self.latency;
        field("latency_p50_ms", latency.map_or("null".into(), |l| number(l.p50_ms)));
        field("latency_p99_ms", latency.map_or("null".into(), |l| number(l.p99_ms)));
        field("latency_max_ms", latency.map_or("null".into(), |l| number(l.max_ms)));
        field("latency_samples", latency.map_or(0, |l| l.samples).to_string());
        for (prefix, split) in [("keyframe", self.keyframe_latency), ("inter", self.inter_latency)] {
            field(
                &format!("{prefix}_latency_p50_ms"),
                split.map_or("null".into(), |l| number(l.p50_ms)),
            );
            field(
                &format!("{prefix}_latency_p99_ms"),
                split.map_or("null".into(), |l| number(l.p99_ms)),
            );
            field(
                &format!("{prefix}_latency_samples"),
                split.map_or(0, |l| l.samples).to_string(),
            );
        }
        let usage = self.server_usage;
        field("server_cpu_s", usage.map_or("null".into(), |u| number(u.cpu_s)));
        field("server_cpu_pct", usage.map_or("null".into(), |u| number(u.cpu_pct)));
        field(
            "server_peak_rss_kb",
            usage.map_or("null".into(), |u| u.peak_rss_kb.to_string()),
        );
        field("server_hwm_kb", usage.map_or("null".into(), |u| u.hwm_kb.to_string()));
        field("bench_cpu_s", number(self.bench_cpu_s));
        if let Some(v) = &self.http_flv {
            field("http_flv_viewers", v.viewers.to_string());
            field("http_flv_kept_up", v.kept_up.to_string());
            let (min, max) = split(v.video_frames);
            field("http_flv_video_frames_min", min);
            field("http_flv_video_frames_max", max);
            field(
                "http_flv_latency_p50_ms",
                v.latency.map_or("null".into(), |l| number(l.p50_ms)),
            );
            field(
                "http_flv_latency_p99_ms",
                v.latency.map_or("null".into(), |l| number(l.p99_ms)),
            );
        }
        if let Some(v) = &self.hls {
            field("hls_viewers", v.viewers.to_string());
            field("hls_kept_up", v.kept_up.to_string());
            let (min, max) = split(v.video_frames);
            field("hls_video_frames_min", min);
            field("hls_video_frames_max", max);
            field(
                "hls_part_latency_p50_ms",
                v.latency.map_or("null".into(), |l| number(l.p50_ms)),
            );
            field(
                "hls_part_latency_p99_ms",
                v.latency.map_or("null".into(), |l| number(l.p99_ms)),
            );
        }
        let errors: Vec<String> = self.errors.iter().map(|e| quote(e)).collect();
        field("errors", format!("[{}]", errors.join(",")));
        j.push('}');
        j
    }
}

fn min_max(range: Option<(u64, u64)>) -> String {
    range.map_or("-".to_owned(), |(min, max)| format!("min {min}  max {max}"))
}

fn split(range: Option<(u64, u64)>) -> (String, String) {
    range.map_or(("null".into(), "null".into()), |(min, max)| {
        (min.to_string(), max.to_string())
    })
}

/// A JSON number (finite; anything else becomes null).
fn number(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.3}")
    } else {
        "null".to_owned()
    }
}

/// A JSON string literal.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            server: "127.0.0.1:1935".into(),
            app: "live".into(),
            stream: "bench".into(),
            source: "synthetic 5000 kbit/s".into(),
            publishers: 1,
            players: 2,
            realtime: true,
            duration_s: 2.0,
            wall_s: 2.5,
            bytes_published: 1_000_000,
            bytes_received: 2_000_000,
            frames_published: 100,
            video_frames_published: 50,
            frames_received: Some((100, 100)),
            video_frames_received: Some((50, 50)),
            players_kept_up: 2,
            latency: Latency::from_nanos(vec![3_000_000, 1_000_000, 2_000_000]),
            keyframe_latency: Latency::from_nanos(vec![3_000_000]),
            inter_latency: Latency::from_nanos(vec![1_000_000, 2_000_000]),
            server_usage: None,
            bench_cpu_s: 0.1,
            errors: vec!["a \"quoted\"\nline".into()],
            http_flv: None,
            hls: None,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let l = Latency::from_nanos((1..=100).map(|n| n * 1_000_000).collect()).unwrap();
        assert_eq!((l.p50_ms, l.p99_ms, l.max_ms, l.samples), (50.0, 99.0, 100.0, 100));
        assert_eq!(Latency::from_nanos(vec![]), None);
    }

    #[test]
    fn json_is_one_escaped_object() {
        let json = summary().json();
        assert!(json.starts_with('{') && json.ends_with('}'));
        assert!(json.contains("\"all_kept_up\":false"), "{json}");
        assert!(json.contains("\"latency_p50_ms\":2.000"));
        assert!(json.contains("\"keyframe_latency_p99_ms\":3.000"), "{json}");
        assert!(json.contains("\"server_cpu_pct\":null"));
        assert!(json.contains("\"errors\":[\"a \\\"quoted\\\"\\nline\"]"));
        assert!(!json.contains('\n'));
    }

    #[test]
    fn table_names_every_figure() {
        let table = summary().table();
        for name in [
            "MB moved",
            "frames published",
            "all kept up",
            "latency",
            "keyframes only",
            "other frames only",
            "server CPU",
            "bench CPU",
        ] {
            assert!(table.contains(name), "{name} missing from {table}");
        }
    }
}
