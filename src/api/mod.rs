//! The HTTP control API, a handler on the `http` server (above the RTMP server, whose
//! context it reads): GET /healthz, GET /api/streams, GET /api/recording, GET /api/pushes,
//! GET /api/hooks (recent hook failures), GET /api/sources (supervised sources),
//! GET /api/events (`events`), POST /api/streams/{app}/{stream}/kick and
//! .../record/{start,stop}, POST /api/connections/{id}/reconnect (`reconnect`), GET /metrics
//! (`metrics`), GET /live/APP/STREAM.flv (`viewers`, HTTP-FLV), GET /hls/APP/STREAM/* (`hls`), GET/HEAD /recordings and /recordings/PATH (`recordings`, the playback
//! server), GET / and /dashboard/* (`dashboard`, the page), POST/DELETE /api/session
//! (`session`, the dashboard's cookie). Errors are JSON with a status code. With
//! `--http-token-file` every other route but /healthz wants `Authorization: Bearer TOKEN` or
//! the session cookie (401 otherwise).

mod dashboard;
mod events;
mod hls;
mod metrics;
mod reconnect;
mod recordings;
mod recordings_mp4;
mod session;
mod viewers;

use crate::http::{self, Method, Request, Response};
use crate::ops::metrics::{disk_guard, Metrics};
use crate::server::context::ServerContext;
use crate::sources::Exit;
use log::{info, warn};
use serde_json::{json, Value};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

/// Binds the API and serves it on a background thread (limits from the `--http-*` flags);
/// returns the bound address.
pub fn start(addr: SocketAddr, ctx: Arc<ServerContext>) -> io::Result<SocketAddr> {
    let options = ctx.config.http.clone();
    let stats = Arc::clone(&ctx.metrics.http);
    let handler: Arc<http::Handler> = Arc::new(move |request: &Request| respond(request, &ctx));
    let service = http::Service {
        handler,
        cors_paths: viewer_path,
        stats,
    };
    let (max, per_ip, timeout) = (options.max_connections, options.max_connections_per_ip, options.timeout);
    let bound = http::start(addr, options, service)?;
    info!(
        "HTTP API listening addr={bound} max_connections={max} max_connections_per_ip={per_ip} timeout_ms={}",
        timeout.as_millis()
    );
    Ok(bound)
}

/// The paths viewers (players in a browser) fetch, which `--http-cors-origin` opens to
/// other origins: HTTP-FLV, HLS and the recordings.
fn viewer_path(path: &str) -> bool {
    path == "/recordings"
        || ["/live/", "/hls/", "/recordings/"]
            .iter()
            .any(|prefix| path.starts_with(prefix))
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::json(status, body)
}

fn error(status: u16, message: &str) -> Response {
    Response::error(status, message)
}

fn unauthorized() -> Response {
    error(401, "missing or wrong bearer token").with_header("WWW-Authenticate", "Bearer realm=\"rtmp-server\"")
}

fn respond(request: &Request, ctx: &Arc<ServerContext>) -> Response {
    let path = request.path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // Viewers are governed like players (play keys, per-app policy, on_play), not by the token.
    // The dashboard's page and assets hold no data; /api/session checks the token itself.
    let open_route = matches!(
        segments.as_slice(),
        ["healthz"] | ["live", _, _] | ["hls", _, _, _] | [""] | ["dashboard", ..] | ["api", "session"]
    );
    let token = &ctx.http_token;
    if !open_route && !token.allows(request.header("Authorization")) && !token.allows_cookie(request.header("Cookie")) {
        Metrics::add(&ctx.metrics.http_auth_failures, 1);
        // Neither the header nor the token is logged.
        let remote = request.remote;
        warn!("HTTP request refused, missing or wrong token remote={remote} path={path:?}");
        return unauthorized();
    }
    match (&request.method, segments.as_slice()) {
        (Method::Get, ["healthz"]) => json_response(200, &json!({ "status": "ok" })),
        (Method::Get | Method::Head, [""] | ["dashboard", ..]) => {
            dashboard::asset(&segments).unwrap_or_else(|| error(404, "not found"))
        }
        (Method::Get, ["api", "session"]) => session::status(ctx, request),
        (Method::Post, ["api", "session"]) => session::open(ctx, request),
        (Method::Delete, ["api", "session"]) => session::close(),
        (Method::Get, ["api", "streams"]) => json_response(200, &streams(ctx)),
        (Method::Get, ["api", "recording"]) => json_response(200, &recording(ctx)),
        (Method::Get, ["api", "pushes"]) => json_response(200, &pushes(ctx)),
        (Method::Get, ["api", "hooks"]) => json_response(200, &hooks(ctx)),
        (Method::Get, ["api", "sources"]) => json_response(200, &sources(ctx)),
        (Method::Get, ["api", "uploads"]) => match &ctx.uploads {
            Some(uploads) => json_response(200, &uploads.to_json()),
            None => json_response(200, &json!({ "enabled": false })),
        },
        (Method::Get, ["api", "events"]) => {
            let query = request.target.split_once('?').map_or("", |(_, q)| q);
            match events::reply(&ctx.recent_events, query) {
                Ok(body) => json_response(200, &body),
                Err(message) => error(400, message),
            }
        }
        (Method::Post, ["api", "streams", app, stream, "kick"]) => kick(ctx, app, stream),
        (Method::Post, ["api", "connections", id, "reconnect"]) => reconnect::reconnect(ctx, id, request),
        (Method::Post, ["api", "streams", app, stream, "record", action @ ("start" | "stop")]) => {
            record(ctx, app, stream, *action == "start")
        }
        (Method::Get, ["live", app, file]) if file.ends_with(".flv") => viewers::http_flv(ctx, request, app, file),
        (Method::Get | Method::Head, ["hls", app, stream, file]) => hls::serve(ctx, request, app, stream, file),
        (Method::Get | Method::Head, ["recordings"]) => recordings::list(ctx, request),
        (Method::Get | Method::Head, ["recordings", rest @ ..]) => recordings::serve(ctx, request, rest),
        (Method::Get, ["metrics"]) => {
            Response::new(200, "text/plain; version=0.0.4", metrics::render(ctx).into_bytes())
        }
        (
            _,
            ["healthz"]
            | ["metrics"]
            | ["api", "streams"]
            | ["api", "recording"]
            | ["api", "pushes"]
            | ["api", "hooks"]
            | ["api", "sources"]
            | ["api", "events"]
            | ["api", "session"]
            | [""]
            | ["api", "streams", _, _, "kick"]
            | ["api", "connections", _, "reconnect"]
            | ["api", "streams", _, _, "record", "start" | "stop"]
            | ["recordings", ..],
        ) => error(405, "method not allowed"),
        _ => error(404, "not found"),
    }
}

fn streams(ctx: &ServerContext) -> Value {
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let list: Vec<Value> = ctx
        .registry
        .snapshot()
        .into_iter()
        .map(|s| {
            let file = ctx.recordings.current_file(&s.app, &s.stream);
            json!({
                "app": s.app,
                "stream": s.stream,
                "publishing": s.publisher_conn_id.is_some(),
                "publisher_conn_id": s.publisher_conn_id,
                "publisher_addr": s.publisher_addr.map(|a| a.to_string()),
                "started_unix": s.started_unix,
                "video_codec_id": s.video_codec,
                "audio_codec_id": s.audio_codec,
                "bytes": s.bytes,
                "frames": s.frames,
                "video_frames": s.video_frames,
                "uptime_s": s.started_unix.filter(|_| s.publisher_conn_id.is_some()).map(|t| now_unix.saturating_sub(t)),
                "players": s.players + ctx.hls.players(&s.app, &s.stream),
                "hls": ctx.hls.serving(&s.app, &s.stream),
                "player_dropped_frames": s.dropped_frames,
                "video_codec": s.video_codec_name,
                "audio_codec": s.audio_codec_name,
                "width": s.picture_size.map(|(w, _)| w),
                "height": s.picture_size.map(|(_, h)| h),
                "bitrate_bps": s.bitrate,
                "recording": s.recording,
                "recording_file": file.as_ref().map(|(path, _)| path.display().to_string()),
                "recording_bytes": file.map(|(_, bytes)| bytes),
            })
        })
        .collect();
    json!({ "streams": list, "now_unix": now_unix })
}

/// Recording status: the disk guard's view of the record file system.
fn recording(ctx: &ServerContext) -> Value {
    let guard = disk_guard(&ctx.config.record_dir, ctx.config.recording.min_free);
    json!({
        "record_all": ctx.config.record_all,
        "record_dir": ctx.config.record_dir.display().to_string(),
        "free_bytes": guard.free_bytes,
        "min_free_bytes": guard.min_free,
        "disk_low": guard.low,
    })
}

/// Asks the publisher's thread to start or stop recording; it acts on its next frame.
fn record(ctx: &ServerContext, app: &str, stream: &str, start: bool) -> Response {
    let key = crate::live::registry::StreamKey {
        app: app.to_owned(),
        stream: stream.to_owned(),
    };
    match ctx.registry.get(&key).filter(|s| s.publisher().is_some()) {
        Some(live) => {
            live.request_recording(start);
            let action = if start { "start" } else { "stop" };
            info!("recording {action} requested by API app={app} stream={stream}");
            json_response(202, &json!({ "requested": action }))
        }
        None => error(404, "no such live stream"),
    }
}

fn kick(ctx: &ServerContext, app: &str, stream: &str) -> Response {
    let found = ctx
        .registry
        .snapshot()
        .into_iter()
        .find(|s| s.app == app && s.stream == stream);
    match found.and_then(|s| s.publisher_conn_id) {
        Some(conn_id) => {
            info!("publisher kicked by API conn_id={conn_id} app={app} stream={stream}");
            Metrics::add(&ctx.metrics.kicks, 1);
            ctx.kick(conn_id, "kicked_by_api");
            json_response(200, &json!({ "kicked_conn_id": conn_id }))
        }
        None => error(404, "no such live stream"),
    }
}

/// Every push of every live stream (`--push`): redacted URL, connected, bytes, retries.
/// GET /api/hooks: the latest hook failures (never a query) and the counts.
fn hooks(ctx: &ServerContext) -> Value {
    let stats = &ctx.hooks.stats;
    let failures: Vec<Value> = stats
        .failures()
        .into_iter()
        .map(|f| json!({"time": f.time, "event": f.event, "app": f.app, "stream": f.stream, "target": f.target, "error": f.error}))
        .collect();
    let counts: Vec<Value> = stats
        .counts()
        .into_iter()
        .map(|(event, outcome, n)| json!({"event": event, "outcome": outcome, "count": n}))
        .collect();
    json!({ "recent_failures": failures, "counts": counts })
}

/// GET /api/sources: each supervised source's state, pid, restarts and last exit (never
/// its command, which may hold a camera's password).
fn sources(ctx: &ServerContext) -> Value {
    let list: Vec<Value> = ctx
        .sources
        .snapshot()
        .into_iter()
        .map(|s| {
            let last_exit = s.last_exit.map(|exit| match exit {
                Exit::Code(code) => json!({ "code": code }),
                Exit::Signal(signal) => json!({ "signal": signal }),
                Exit::SpawnFailed(error) => json!({ "error": error }),
            });
            json!({
                "name": s.name,
                "state": s.state.name(),
                "pid": s.pid,
                "restarts": s.restarts,
                "last_exit": last_exit,
                "on_demand": s.on_demand,
                "started_unix": s.started_unix,
            })
        })
        .collect();
    json!({ "sources": list })
}

fn pushes(ctx: &ServerContext) -> Value {
    let list: Vec<Value> = ctx
        .pushes
        .snapshot()
        .into_iter()
        .map(|p| {
            json!({
                "app": p.app,
                "stream": p.stream,
                "url": p.url,
                "connected": p.connected,
                "bytes": p.bytes,
                "retries": p.retries,
                "last_error": p.last_error,
            })
        })
        .collect();
    json!({ "pushes": list })
}
