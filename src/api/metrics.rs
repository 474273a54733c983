//! GET /metrics: the server's state in Prometheus text, gathered from the server context
//! (counters, streams, recordings, hooks, the disk guard, pushes, events and sources).

use crate::live::stream::StreamSnapshot;
use crate::ops::metrics::disk_guard;
use crate::server::context::ServerContext;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The Prometheus text exposition of the server's state.
/// One metric with a sample per stream, labelled by app and stream name.
fn per_stream(
    out: &mut String,
    (name, kind): (&str, &str),
    help: &str,
    streams: &[StreamSnapshot],
    value: impl Fn(&StreamSnapshot) -> u64,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for s in streams {
        let _ = writeln!(
            out,
            "{name}{{app=\"{}\",stream=\"{}\"}} {}",
            escape_label(&s.app),
            escape_label(&s.stream),
            value(s)
        );
    }
}

pub fn render(ctx: &ServerContext) -> String {
    let m = &ctx.metrics;
    let streams = ctx.registry.snapshot();
    // HLS sessions are players too.
    let players: usize = streams.iter().map(|s| s.players).sum::<usize>() + ctx.hls.sessions();
    let publishers = streams.iter().filter(|s| s.publisher_conn_id.is_some()).count();
    let dropped: u64 = streams.iter().map(|s| s.dropped_frames).sum();
    let mut out = String::with_capacity(2048);
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    metric(
        "rtmp_connections",
        "gauge",
        "Open RTMP connections.",
        ctx.open_connections() as u64,
    );
    metric(
        "rtmp_connections_total",
        "counter",
        "RTMP connections accepted.",
        load(&m.connections_total),
    );
    metric(
        "rtmp_publishers",
        "gauge",
        "Streams being published.",
        publishers as u64,
    );
    metric("rtmp_players", "gauge", "Players connected to streams.", players as u64);
    metric(
        "rtmp_hls_sessions",
        "gauge",
        "HLS viewer sessions (also counted in rtmp_players).",
        ctx.hls.sessions() as u64,
    );
    metric(
        "rtmp_streams",
        "gauge",
        "Known streams (published or awaited by players).",
        streams.len() as u64,
    );
    metric(
        "rtmp_bytes_in_total",
        "counter",
        "Bytes received from RTMP peers.",
        load(&m.bytes_in),
    );
    metric(
        "rtmp_bytes_out_total",
        "counter",
        "Bytes sent to RTMP peers (session replies and player media).",
        load(&m.bytes_out),
    );
    metric(
        "rtmp_publishes_total",
        "counter",
        "Publishes accepted.",
        load(&m.publishes_total),
    );
    metric("rtmp_plays_total", "counter", "Plays accepted.", load(&m.plays_total));
    metric(
        "rtmp_protocol_errors_total",
        "counter",
        "Connections closed for protocol errors.",
        load(&m.protocol_errors),
    );
    metric(
        "rtmp_kicks_total",
        "counter",
        "Connections closed by the server (takeover, slow player, API).",
        load(&m.kicks),
    );
    metric(
        "rtmp_auth_failures_total",
        "counter",
        "Publishes and plays refused by keys or address lists.",
        load(&m.auth_failures),
    );
    metric(
        "rtmp_http_auth_failures_total",
        "counter",
        "HTTP API requests refused for a missing or wrong bearer token.",
        load(&m.http_auth_failures),
    );
    let policies = &ctx.policies;
    metric(
        "rtmp_config_reloads_total",
        "counter",
        "SIGHUP reloads applied (config file, key files, per-app policy).",
        policies.reloads.load(std::sync::atomic::Ordering::Relaxed),
    );
    metric(
        "rtmp_config_reload_failures_total",
        "counter",
        "SIGHUP reloads refused (a broken file or key file): the running policy stayed.",
        policies.reload_failures.load(std::sync::atomic::Ordering::Relaxed),
    );
    let records = ctx.recordings.shared().counters.counts();
    metric(
        "rtmp_recordings_active",
        "gauge",
        "Recording files being written.",
        records.active,
    );
    metric(
        "rtmp_recordings_finished_total",
        "counter",
        "Recording files finalized.",
        records.finished,
    );
    metric(
        "rtmp_recordings_failed_total",
        "counter",
        "Recording files that could not be opened or were stopped by an I/O error.",
        records.failed,
    );
    let hooks = ctx
        .recordings
        .shared()
        .hooks
        .as_ref()
        .map(|h| h.counts())
        .unwrap_or_default();
    metric(
        "rtmp_record_hooks_running",
        "gauge",
        "--on-record-done programs running now.",
        hooks.running,
    );
    metric(
        "rtmp_record_hooks_queued",
        "gauge",
        "Finished files waiting for a free --on-record-done slot.",
        hooks.queued,
    );
    metric(
        "rtmp_record_hooks_dropped_total",
        "counter",
        "Finished files that got no --on-record-done run because the hook queue was full.",
        hooks.dropped,
    );
    metric(
        "rtmp_record_hooks_timed_out_total",
        "counter",
        "--on-record-done runs killed at --on-record-done-timeout.",
        hooks.timed_out,
    );
    let guard = disk_guard(&ctx.config.record_dir, ctx.config.recording.min_free);
    metric(
        "rtmp_record_disk_low",
        "gauge",
        "1 while the record disk is below --record-min-free.",
        u64::from(guard.low),
    );
    metric(
        "rtmp_player_dropped_frames",
        "gauge",
        "Frames dropped for slow players of current streams.",
        dropped,
    );
    metric(
        "rtmp_player_dropped_frames_total",
        "counter",
        "Frames dropped for slow players since start.",
        m.player_dropped_frames.load(Ordering::Relaxed),
    );
    metric(
        "rtmp_player_coalesced_frames_total",
        "counter",
        "Frames sent to players together with others they were held for (--play-coalesce).",
        m.player_coalesced_frames.load(Ordering::Relaxed),
    );
    per_stream(
        &mut out,
        ("rtmp_stream_bytes_total", "counter"),
        "Media bytes received per published stream.",
        &streams,
        |s| s.bytes,
    );
    let help = format!(
        "Media bitrate per stream over the last {} s.",
        crate::live::bitrate::BITRATE_WINDOW.as_secs()
    );
    per_stream(
        &mut out,
        ("rtmp_stream_bitrate_bits_per_second", "gauge"),
        &help,
        &streams,
        |s| s.bitrate,
    );
    crate::push::status::render_metrics(&ctx.pushes.snapshot(), &mut out);
    crate::ops::event_counts::render(&ctx.event_counts, &ctx.events.stats(), &mut out);
    ctx.hooks.stats.render(&mut out);
    crate::sources::render_metrics(&ctx.sources.snapshot(), &mut out);
    m.http.render(&mut out);
    if let Some(uploads) = &ctx.uploads {
        uploads.render_metrics(&mut out);
    }
    out
}
