//! The playback server's recordings (behind the API token like every route): `GET
//! /recordings` lists the record dir's recordings, newest first, paged; `GET`/`HEAD
//! /recordings/PATH` sends one with `Range` (206, `Content-Range`), `ETag`, `Last-Modified`
//! and its media type (`?format=mp4`: `recordings_mp4`). A path is resolved under the record dir only: `..`, absolute paths
//! and symlinks leading out are refused.

use super::recordings_mp4::{self, Conversion};
use super::{error, json_response};
use crate::http::percent::{decode, query_value};
use crate::http::range::{self, RangeAnswer};
use crate::http::response::{http_date, FileRange};
use crate::http::{Request, Response};
use crate::record::remux_range::TimeRange;
use crate::server::context::ServerContext;
use serde_json::{json, Value};
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;

/// Most files a listing looks at (beyond, the oldest-named are not listed).
pub const MAX_LISTED_FILES: usize = 100_000;
/// Deepest folder level a listing walks into (`--record-path` may make folders).
pub const MAX_LIST_DEPTH: usize = 8;
/// Entries per page unless `per_page` says otherwise, and the most it may say.
pub const DEFAULT_PER_PAGE: usize = 50;
pub const MAX_PER_PAGE: usize = 500;
/// How much of an FLV file is read for its onMetaData (duration).
const METADATA_READ: usize = 64 * 1024;

/// A recording file's format, from its name.
fn format_of(name: &str) -> Option<(&'static str, bool)> {
    let (name, in_progress) = match name.strip_suffix(".part") {
        Some(stem) => (stem, true),
        None => (name, false),
    };
    if name.ends_with(".flv") {
        Some(("flv", in_progress))
    } else if name.ends_with(".mp4") {
        Some(("mp4", in_progress))
    } else {
        None
    }
}

fn content_type(format: &str) -> &'static str {
    match format {
        "mp4" => "video/mp4",
        _ => "video/x-flv",
    }
}

struct Found {
    relative: String,
    path: PathBuf,
    bytes: u64,
    modified: SystemTime,
}

/// Every recording file under `dir` (bounded by [`MAX_LISTED_FILES`] and [`MAX_LIST_DEPTH`]).
fn walk(dir: &Path) -> Vec<Found> {
    let mut found = Vec::new();
    let mut folders = vec![(dir.to_path_buf(), String::new(), 0usize)];
    while let Some((folder, prefix, depth)) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let relative = format!("{prefix}{name}");
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() && depth < MAX_LIST_DEPTH {
                folders.push((entry.path(), format!("{relative}/"), depth + 1));
            } else if kind.is_file() && format_of(&name).is_some() && found.len() < MAX_LISTED_FILES {
                if let Ok(meta) = entry.metadata() {
                    found.push(Found {
                        relative,
                        path: entry.path(),
                        bytes: meta.len(),
                        modified: meta.modified().unwrap_or(UNIX_EPOCH),
                    });
                }
            }
        }
    }
    found
}

/// app, stream and start time from a name made by the default `--record-path`
/// (`APP_STREAM_YYYYMMDD_HHMMSS_mmm.flv`); None for other templates.
fn default_name_parts(relative: &str) -> Option<(String, String, String)> {
    let name = relative.rsplit('/').next()?;
    let stem = name.split('.').next()?;
    let mut parts: Vec<&str> = stem.rsplitn(4, '_').collect();
    parts.reverse();
    let [app_stream, date, time, millis] = parts.as_slice() else {
        return None;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(date, 8) && digits(time, 6) && digits(millis, 3)) {
        return None;
    }
    let (app, stream) = app_stream.split_once('_')?;
    let d = |s: &str, a: usize, b: usize| s.get(a..b).unwrap_or("00").to_owned();
    let start = format!(
        "{}-{}-{}T{}:{}:{}.{millis}",
        d(date, 0, 4),
        d(date, 4, 6),
        d(date, 6, 8),
        d(time, 0, 2),
        d(time, 2, 4),
        d(time, 4, 6)
    );
    Some((app.to_owned(), stream.to_owned(), start))
}

/// The `duration` of an FLV file's onMetaData (seconds), if its first tag has one.
fn flv_duration(path: &Path) -> Option<f64> {
    use std::io::Read;
    let mut head = Vec::with_capacity(METADATA_READ);
    std::fs::File::open(path)
        .ok()?
        .take(METADATA_READ as u64)
        .read_to_end(&mut head)
        .ok()?;
    let header = crate::flv::reader::parse_header(&head).ok()??;
    let after = head.get(header.data_offset..)?;
    let (tag, _) = crate::flv::reader::parse_tag(after).ok()??;
    if tag.tag_type != 18 {
        return None;
    }
    let fields = crate::flv::metadata::parse_onmetadata(tag.body, 16)?;
    fields.iter().find_map(|(key, value)| match (key.as_str(), value) {
        ("duration", crate::protocol::amf0::Amf0Value::Number(d)) => Some(*d),
        _ => None,
    })
}

fn rfc3339(at: SystemTime) -> String {
    OffsetDateTime::from(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `GET /recordings?page=N&per_page=M`.
pub fn list(ctx: &ServerContext, request: &Request) -> Response {
    let query = request.target.split_once('?').map_or("", |(_, q)| q);
    let number = |name: &str, default: usize| -> Result<usize, Response> {
        match query_value(query, name) {
            Ok(None) => Ok(default),
            Ok(Some(v)) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| error(400, &format!("{name} must be a whole number of at least 1"))),
            Err(message) => Err(error(400, message)),
        }
    };
    let (page, per_page) = match (number("page", 1), number("per_page", DEFAULT_PER_PAGE)) {
        (Ok(page), Ok(per_page)) => (page, per_page.min(MAX_PER_PAGE)),
        (Err(response), _) | (_, Err(response)) => return response,
    };
    let mut found = walk(&ctx.config.record_dir);
    found.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| b.relative.cmp(&a.relative)));
    let total = found.len();
    let entries: Vec<Value> = found
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|file| {
            let (format, in_progress) = format_of(&file.relative).unwrap_or(("flv", false));
            let names = default_name_parts(&file.relative);
            let duration = (format == "flv").then(|| flv_duration(&file.path)).flatten();
            json!({
                "path": file.relative,
                "url": format!("/recordings/{}", file.relative),
                "format": format,
                "in_progress": in_progress,
                "bytes": file.bytes,
                "modified": rfc3339(file.modified),
                "app": names.as_ref().map(|n| n.0.clone()),
                "stream": names.as_ref().map(|n| n.1.clone()),
                "start": names.as_ref().map(|n| n.2.clone()),
                "duration_s": duration,
            })
        })
        .collect();
    json_response(
        200,
        &json!({ "recordings": entries, "page": page, "per_page": per_page, "total": total }),
    )
}

/// Why a requested path is not served.
#[derive(Debug, PartialEq, Eq)]
enum PathRefusal {
    /// `..`, an absolute path, an empty or bad segment: 400.
    Bad,
    /// Nothing there, not a recording, or outside the record dir: 404.
    NotFound,
}

/// The file `segments` (still percent-encoded) names under `dir`, if it is a recording there.
fn resolve(dir: &Path, segments: &[&str]) -> Result<(PathBuf, &'static str), PathRefusal> {
    let mut relative = PathBuf::new();
    for segment in segments {
        let decoded = decode(segment, false).ok_or(PathRefusal::Bad)?;
        let mut components = Path::new(&decoded).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(part)), None) if !decoded.contains('\0') => relative.push(part),
            _ => return Err(PathRefusal::Bad),
        }
    }
    let name = relative.file_name().and_then(|n| n.to_str()).ok_or(PathRefusal::Bad)?;
    let (format, _) = format_of(name).ok_or(PathRefusal::NotFound)?;
    // Symlinks are followed, then the real path must still be inside the real record dir.
    let root = dir.canonicalize().map_err(|_| PathRefusal::NotFound)?;
    let real = dir.join(&relative).canonicalize().map_err(|_| PathRefusal::NotFound)?;
    if !real.starts_with(&root) || !real.is_file() {
        return Err(PathRefusal::NotFound);
    }
    Ok((real, format))
}

/// `GET`/`HEAD /recordings/PATH`.
pub fn serve(ctx: &ServerContext, request: &Request, segments: &[&str]) -> Response {
    let query = request.target.split_once('?').map_or("", |(_, q)| q);
    let conversion = match recordings_mp4::conversion(query) {
        Ok(conversion) => conversion,
        Err(message) => return error(400, &message),
    };
    let (path, format) = match resolve(&ctx.config.record_dir, segments) {
        Ok(found) => found,
        Err(PathRefusal::Bad) => return error(400, "bad recording path"),
        Err(PathRefusal::NotFound) => return error(404, "no such recording"),
    };
    match (conversion, format) {
        (Conversion::Mp4(range), "flv") => return recordings_mp4::flv_as_mp4(&path, &segments.join("/"), range),
        (Conversion::Mp4(range), _) if range != TimeRange::default() => {
            return recordings_mp4::mp4_range(&path, &segments.join("/"), range)
        }
        _ => {}
    }
    let Ok(meta) = std::fs::metadata(&path) else {
        return error(404, "no such recording");
    };
    let size = meta.len();
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    let stamp = modified.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let etag = format!("\"{size:x}-{stamp:x}\"");
    let last_modified = http_date(OffsetDateTime::from(modified));
    let with_validators = |response: Response| {
        response
            .with_header("Accept-Ranges", "bytes")
            .with_header("ETag", &etag)
            .with_header("Last-Modified", &last_modified)
            .with_header("Cache-Control", "no-cache")
    };
    if request
        .header("If-None-Match")
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return with_validators(Response::new(304, content_type(format), Vec::new()));
    }
    // A Range that names another version (If-Range) gets the whole file.
    let range_header = match request.header("If-Range") {
        Some(tag) if tag.trim() != etag => None,
        _ => request.header("Range"),
    };
    let file = |offset: u64, length: u64| FileRange {
        path: path.clone(),
        offset,
        length,
    };
    match range::answer(range_header, size) {
        RangeAnswer::Full => with_validators(Response::file(200, content_type(format), file(0, size))),
        RangeAnswer::Partial { start, end } => with_validators(
            Response::file(206, content_type(format), file(start, end - start + 1))
                .with_header("Content-Range", &format!("bytes {start}-{end}/{size}")),
        ),
        RangeAnswer::Unsatisfiable => with_validators(
            error(416, "range not satisfiable").with_header("Content-Range", &format!("bytes */{size}")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_give_app_stream_and_start() {
        assert_eq!(
            default_name_parts("live_cam_one_20261205_020304_567.flv"),
            Some(("live".into(), "cam_one".into(), "2026-12-05T02:03:04.567".into()))
        );
        assert_eq!(default_name_parts("x/custom.flv"), None);
        assert_eq!(default_name_parts("live_20261205_020304_567.flv"), None);
    }

    #[test]
    fn paths_stay_inside_the_record_dir() {
        let dir = std::env::temp_dir().join(format!("rec-resolve-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/a.flv"), b"FLV").unwrap();
        std::fs::write(dir.join("notes.txt"), b"x").unwrap();
        assert!(resolve(&dir, &["sub", "a.flv"]).is_ok());
        assert!(
            resolve(&dir, &["sub%2Fa.flv"]).is_err(),
            "an encoded slash is not a folder"
        );
        assert_eq!(resolve(&dir, &["..", "etc", "passwd.flv"]), Err(PathRefusal::Bad));
        assert_eq!(resolve(&dir, &["%2E%2E", "x.flv"]), Err(PathRefusal::Bad));
        assert_eq!(resolve(&dir, &["%2Fetc%2Fpasswd.flv"]), Err(PathRefusal::Bad));
        assert_eq!(resolve(&dir, &["notes.txt"]), Err(PathRefusal::NotFound));
        assert_eq!(resolve(&dir, &["missing.flv"]), Err(PathRefusal::NotFound));
        std::os::unix::fs::symlink("/etc/hostname", dir.join("out.flv")).unwrap();
        assert_eq!(resolve(&dir, &["out.flv"]), Err(PathRefusal::NotFound), "symlink out");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
