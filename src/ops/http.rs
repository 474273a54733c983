//! The HTTP control API (blocking, one thread per request): GET /healthz, GET /api/streams,
//! GET /api/recording, POST /api/streams/{app}/{stream}/kick and .../record/{start,stop},
//! GET /metrics. Errors are JSON with a status code. With `--http-token-file` every route
//! but /healthz wants `Authorization: Bearer TOKEN` (401 otherwise).

use super::metrics::{self, Metrics};
use crate::server::context::ServerContext;
use log::{info, warn};
use serde_json::{json, Value};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tiny_http::{Header, Method, Request, Response, Server};

/// Stack of request threads (small: requests are tiny).
const REQUEST_STACK_SIZE: usize = 256 * 1024;

/// Binds the API and serves it on a background thread; returns the bound address.
pub fn start(addr: SocketAddr, ctx: Arc<ServerContext>) -> io::Result<SocketAddr> {
    let server = Server::http(addr).map_err(|e| io::Error::other(e.to_string()))?;
    let bound = server.server_addr().to_ip().unwrap_or(addr);
    info!("HTTP API listening addr={bound}");
    std::thread::Builder::new().name("http".into()).spawn(move || {
        for request in server.incoming_requests() {
            let ctx = Arc::clone(&ctx);
            let spawned = std::thread::Builder::new()
                .stack_size(REQUEST_STACK_SIZE)
                .spawn(move || respond(request, &ctx));
            if let Err(e) = spawned {
                warn!("HTTP request thread not started error=\"{e}\"");
            }
        }
    })?;
    Ok(bound)
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn json_response(status: u16, body: &Value) -> Response<io::Cursor<Vec<u8>>> {
    let mut response = Response::from_data(body.to_string().into_bytes()).with_status_code(status);
    if let Some(h) = header("Content-Type", "application/json") {
        response.add_header(h);
    }
    response
}

fn error(status: u16, message: &str) -> Response<io::Cursor<Vec<u8>>> {
    json_response(status, &json!({ "error": message, "status": status }))
}

/// The Authorization header's value, if the request has one.
fn authorization(request: &Request) -> Option<&str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str())
}

fn unauthorized() -> Response<io::Cursor<Vec<u8>>> {
    let mut response = error(401, "missing or wrong bearer token");
    if let Some(h) = header("WWW-Authenticate", "Bearer realm=\"rtmp-server\"") {
        response.add_header(h);
    }
    response
}

fn respond(request: Request, ctx: &ServerContext) {
    let path = request.url().split('?').next().unwrap_or("").to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let open_route = segments.as_slice() == ["healthz"];
    if !open_route && !ctx.http_token.allows(authorization(&request)) {
        Metrics::add(&ctx.metrics.http_auth_failures, 1);
        // Neither the header nor the token is logged.
        let remote = request.remote_addr().map(ToString::to_string).unwrap_or_default();
        warn!("HTTP request refused, missing or wrong token remote={remote} path={path:?}");
        let _ = request.respond(unauthorized());
        return;
    }
    let response = match (request.method(), segments.as_slice()) {
        (Method::Get, ["healthz"]) => json_response(200, &json!({ "status": "ok" })),
        (Method::Get, ["api", "streams"]) => json_response(200, &streams(ctx)),
        (Method::Get, ["api", "recording"]) => json_response(200, &recording(ctx)),
        (Method::Get, ["api", "pushes"]) => json_response(200, &pushes(ctx)),
        (Method::Post, ["api", "streams", app, stream, "kick"]) => kick(ctx, app, stream),
        (Method::Post, ["api", "streams", app, stream, "record", action @ ("start" | "stop")]) => {
            record(ctx, app, stream, *action == "start")
        }
        (Method::Get, ["metrics"]) => {
            let mut response = Response::from_data(metrics::render(ctx).into_bytes());
            if let Some(h) = header("Content-Type", "text/plain; version=0.0.4") {
                response.add_header(h);
            }
            response
        }
        (
            _,
            ["healthz"]
            | ["metrics"]
            | ["api", "streams"]
            | ["api", "recording"]
            | ["api", "pushes"]
            | ["api", "streams", _, _, "kick"]
            | ["api", "streams", _, _, "record", "start" | "stop"],
        ) => error(405, "method not allowed"),
        _ => error(404, "not found"),
    };
    let _ = request.respond(response);
}

fn streams(ctx: &ServerContext) -> Value {
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
                "players": s.players,
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
    json!({ "streams": list })
}

/// Recording status: the disk guard's view of the record file system.
fn recording(ctx: &ServerContext) -> Value {
    let guard = metrics::disk_guard(ctx);
    json!({
        "record_all": ctx.config.record_all,
        "record_dir": ctx.config.record_dir.display().to_string(),
        "free_bytes": guard.free_bytes,
        "min_free_bytes": guard.min_free,
        "disk_low": guard.low,
    })
}

/// Asks the publisher's thread to start or stop recording; it acts on its next frame.
fn record(ctx: &ServerContext, app: &str, stream: &str, start: bool) -> Response<io::Cursor<Vec<u8>>> {
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

fn kick(ctx: &ServerContext, app: &str, stream: &str) -> Response<io::Cursor<Vec<u8>>> {
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
