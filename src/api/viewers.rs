//! `GET /live/APP/STREAM.flv[?key=...]`: HTTP-FLV for flv.js/mpegts.js, ffplay and VLC. The
//! viewer is admitted like an RTMP player (see `server::viewing`): 404 when nothing is
//! published there or no `[[app]]` table matches under `apps_strict`, 403 when keys or an
//! `on_play` hook refuse, then the FLV stream until the publisher leaves.

use super::error;
use crate::http::percent::decode;
use crate::http::response::StreamBody;
use crate::http::{Request, Response};
use crate::live::registry::StreamKey;
use crate::server::context::ServerContext;
use crate::server::viewing::{admit, ViewRefusal};
use std::sync::Arc;

pub fn http_flv(ctx: &Arc<ServerContext>, request: &Request, app: &str, file: &str) -> Response {
    let stream = file.strip_suffix(".flv").unwrap_or(file);
    let (Some(app), Some(stream)) = (decode(app, false), decode(stream, false)) else {
        return error(400, "bad stream name");
    };
    if app.is_empty() || stream.is_empty() {
        return error(400, "bad stream name");
    }
    let query = request.target.split_once('?').map_or("", |(_, q)| q);
    let key = StreamKey { app, stream };
    match admit(ctx, key, query, request.remote) {
        Ok(viewer) => Response::streamed(200, "video/x-flv", StreamBody::new(move |out| viewer.flv_body(out)))
            .with_header("Cache-Control", "no-cache"),
        Err(ViewRefusal::NoSuchApp) => error(404, "no such application"),
        Err(ViewRefusal::NotPublished) => error(404, "stream not published"),
        Err(ViewRefusal::Denied(_)) => error(403, "play not authorized"),
        Err(ViewRefusal::ShuttingDown) => error(503, "shutting down"),
    }
}
