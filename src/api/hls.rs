//! `GET /hls/APP/STREAM/index.m3u8` and the files beside it (`init{K}.mp4`, `seg{N}.m4s`,
//! `part{N}.{P}.m4s`): low-latency HLS from memory (`hls`). A request without a session is
//! a new viewer: it goes through the play decision once (`server::viewing::decide_view`:
//! `?key=`, per-app policy, `on_play`), 403 when refused, 404 when HLS is off for the stream
//! or nothing is published, else a multivariant playlist naming the media playlist with a
//! session id. Every other request needs a known session (403 otherwise): the media playlist
//! (blocking reload with `_HLS_msn`/`_HLS_part`, at most three target durations, then 503),
//! the init segment, segments and parts (a part not there yet is waited for the same way).
//! Playlists are `no-cache`, media is cacheable.

use super::error;
use crate::hls::playlist::{blocking_request, multivariant, MediaPlaylist};
use crate::hls::store::Position;
use crate::hls::SessionRefusal;
use crate::http::percent::decode;
use crate::http::{Request, Response};
use crate::live::registry::StreamKey;
use crate::ops::metrics::Metrics;
use crate::server::context::ServerContext;
use crate::server::viewing::{decide_view, ViewRefusal};

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
const MEDIA_TYPE: &str = "video/mp4";
const MEDIA_CACHE: &str = "public, max-age=60";

/// A file beside the playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum File {
    Playlist,
    Init(u64),
    Segment(u64),
    Part(u64, u64),
}

fn parse_file(name: &str) -> Option<File> {
    match name {
        "index.m3u8" => Some(File::Playlist),
        _ if name.starts_with("init") => name
            .strip_prefix("init")?
            .strip_suffix(".mp4")?
            .parse()
            .ok()
            .map(File::Init),
        _ => {
            let stem = name.strip_suffix(".m4s")?;
            if let Some(msn) = stem.strip_prefix("seg") {
                return msn.parse().ok().map(File::Segment);
            }
            let (msn, part) = stem.strip_prefix("part")?.split_once('.')?;
            Some(File::Part(msn.parse().ok()?, part.parse().ok()?))
        }
    }
}

/// The value of `name` in a query string.
fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
}

pub fn serve(ctx: &ServerContext, request: &Request, app: &str, stream: &str, file: &str) -> Response {
    let (Some(app), Some(stream)) = (decode(app, false), decode(stream, false)) else {
        return error(400, "bad stream name");
    };
    if app.is_empty() || stream.is_empty() {
        return error(400, "bad stream name");
    }
    let Some(file) = parse_file(file) else {
        return error(404, "not found");
    };
    let key = StreamKey { app, stream };
    let query = request.target.split_once('?').map_or("", |(_, q)| q);
    let Some(session) = param(query, "session") else {
        return match file {
            File::Playlist => new_viewer(ctx, request, key, query),
            _ => error(403, "no HLS session"),
        };
    };
    // Ids are hex: anything else cannot be one (and is never echoed into a playlist).
    if session.is_empty() || !session.bytes().all(|b| b.is_ascii_hexdigit()) || !ctx.hls.touch(session, &key, 0) {
        return error(403, "unknown HLS session");
    }
    let Some(store) = ctx.hls.store(&key) else {
        return error(404, "stream not published");
    };
    let limit = ctx.hls.options().block_limit();
    let response = match file {
        File::Playlist => {
            let blocking = match blocking_request(query) {
                Ok(blocking) => blocking,
                Err(message) => return error(400, message),
            };
            let media = match blocking {
                Some((msn, part)) => {
                    // The 2nd edition: more than two segments ahead is a client error.
                    if msn > store.lock().next_part().msn + 2 {
                        return error(400, "_HLS_msn too far ahead");
                    }
                    let (media, found) = store.wait_for(Position { msn, part }, limit);
                    if !found {
                        return error(503, "part not available in time");
                    }
                    media
                }
                // A stream with nothing cut yet: wait for its first part (so the playlist's
                // EXT-X-MAP names an init segment that exists), at most the blocking limit.
                None => {
                    let media = store.lock();
                    if media.listed().is_empty() && !media.ended() {
                        let first = media.next_part();
                        drop(media);
                        store.wait_for(first, limit).0
                    } else {
                        media
                    }
                }
            };
            let options = ctx.hls.options();
            let segments = media.listed();
            let part_target = (options.part.as_millis() as u64).max(media.longest_part_ms);
            let next = media.next_part();
            let text = MediaPlaylist {
                segment_target_ms: (options.segment.as_millis() as u64).max(media.longest_segment_ms),
                part_target_ms: part_target,
                segments: &segments,
                ended: media.ended(),
                next_part: (next.msn, next.part.unwrap_or(0)),
                latest_init: media.latest_init(),
                query: &format!("session={session}"),
            }
            .write();
            drop(media);
            Response::new(200, PLAYLIST_TYPE, text.into_bytes()).with_header("Cache-Control", "no-cache")
        }
        File::Init(n) => {
            // The newest init segment, asked for before it is made: held until the next part.
            let waiting = {
                let media = store.lock();
                (media.init(n).is_none() && n >= media.latest_init()).then(|| media.next_part())
            };
            let media = match waiting {
                Some(next) => store.wait_for(next, limit).0,
                None => store.lock(),
            };
            match media.init(n) {
                Some(init) => Response::new(200, MEDIA_TYPE, init.to_vec()),
                None => return error(404, "no init segment yet"),
            }
        }
        File::Segment(msn) => match store.lock().segment_bytes(msn) {
            Some(bytes) => Response::new(200, MEDIA_TYPE, bytes),
            None => return error(404, "no such segment"),
        },
        File::Part(msn, part) => {
            let next = store.lock().next_part();
            // The preload hint (or a little past it) is held until it exists.
            let soon = msn == next.msn || msn == next.msn + 1;
            let wait = if soon { limit } else { std::time::Duration::ZERO };
            let (media, _) = store.wait_for(Position { msn, part: Some(part) }, wait);
            match media.part_bytes(msn, part) {
                Some(bytes) => Response::new(200, MEDIA_TYPE, bytes.to_vec()),
                None => return error(404, "no such part"),
            }
        }
    };
    ctx.hls.touch(session, &key, response.body.len() as u64);
    let response = if response.headers.iter().any(|(name, _)| *name == "Cache-Control") {
        response
    } else {
        response.with_header("Cache-Control", MEDIA_CACHE)
    };
    response.with_header("Access-Control-Allow-Origin", "*")
}

/// A playlist request without a session: the play decision, then a session.
fn new_viewer(ctx: &ServerContext, request: &Request, key: StreamKey, query: &str) -> Response {
    let policy = match decide_view(ctx, &key, query, request.remote, "hls") {
        Ok((conn_id, policy)) => (conn_id, policy),
        Err(ViewRefusal::NoSuchApp) => return error(404, "no such application"),
        Err(ViewRefusal::NotPublished) => return error(404, "stream not published"),
        Err(ViewRefusal::Denied(_)) => return error(403, "play not authorized"),
        Err(ViewRefusal::ShuttingDown) => return error(503, "shutting down"),
    };
    let (conn_id, policy) = policy;
    if !policy.hls {
        return error(404, "HLS is off for this stream");
    }
    match ctx.hls.open_session(&key, conn_id, request.remote, query) {
        Ok(id) => {
            Metrics::add(&ctx.metrics.plays_total, 1);
            let bandwidth = ctx.registry.get(&key).map_or(0, |s| s.snapshot().bitrate);
            let text = multivariant(&format!("index.m3u8?session={id}"), bandwidth);
            Response::new(200, PLAYLIST_TYPE, text.into_bytes())
                .with_header("Cache-Control", "no-cache")
                .with_header("Access-Control-Allow-Origin", "*")
        }
        Err(SessionRefusal::NoStream) => error(404, "stream not published"),
        Err(SessionRefusal::Full) => error(503, "too many HLS viewers"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_beside_the_playlist() {
        assert_eq!(parse_file("index.m3u8"), Some(File::Playlist));
        assert_eq!(parse_file("init0.mp4"), Some(File::Init(0)));
        assert_eq!(parse_file("init12.mp4"), Some(File::Init(12)));
        assert_eq!(parse_file("seg12.m4s"), Some(File::Segment(12)));
        assert_eq!(parse_file("part12.3.m4s"), Some(File::Part(12, 3)));
        for bad in [
            "init.mp4",
            "initx.mp4",
            "seg.m4s",
            "part1.m4s",
            "partx.1.m4s",
            "seg1.mp4",
            "other",
        ] {
            assert_eq!(parse_file(bad), None, "{bad}");
        }
        assert_eq!(param("a=1&session=ff&b", "session"), Some("ff"));
        assert_eq!(param("sessionx=1", "session"), None);
    }
}
