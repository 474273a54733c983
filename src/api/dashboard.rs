//! The dashboard (`GET /`): one HTML page with its script, style sheet and the vendored
//! players, hls.js (previews of streams served as HLS) and mpegts.js (HTTP-FLV previews,
//! FLV recordings), embedded in the binary. Served without the token:
//! the page holds no data, it reads the API (cookie from `POST /api/session`, see `session`).

use crate::http::Response;

/// The vendored player library's version (from npm, `dist/mpegts.js`; Apache-2.0).
pub const MPEGTS_VERSION: &str = "1.8.2";

const INDEX: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/dashboard.js");
const STYLE: &str = include_str!("dashboard/dashboard.css");
const MPEGTS: &str = include_str!("dashboard/mpegts.min.js");
const MPEGTS_LICENSE: &str = include_str!("dashboard/mpegts.LICENSE");
/// The vendored HLS player's version (npm `hls.js`, `dist/hls.light.min.js`, tarball sha256
/// e4ab3d5d13f7cca9ef241d098f39686e19fd451831ba07dc9943482fd5ff75c7; Apache-2.0).
pub const HLS_VERSION: &str = "1.7.4";
const HLS: &str = include_str!("dashboard/hls.light.min.js");
const HLS_LICENSE: &str = include_str!("dashboard/hls.LICENSE");

/// The asset at `/dashboard/NAME`, or the page for `/` (None: not a dashboard path).
pub fn asset(segments: &[&str]) -> Option<Response> {
    let (content_type, body, cache) = match segments {
        [""] | ["dashboard"] => ("text/html; charset=utf-8", INDEX, "no-cache"),
        ["dashboard", "dashboard.js"] => ("text/javascript; charset=utf-8", SCRIPT, "no-cache"),
        ["dashboard", "dashboard.css"] => ("text/css; charset=utf-8", STYLE, "no-cache"),
        // Named by version, so it may be kept for long.
        ["dashboard", name] if *name == format!("mpegts-{MPEGTS_VERSION}.min.js") => (
            "text/javascript; charset=utf-8",
            MPEGTS,
            "public, max-age=31536000, immutable",
        ),
        ["dashboard", "mpegts.LICENSE"] => ("text/plain; charset=utf-8", MPEGTS_LICENSE, "public, max-age=86400"),
        ["dashboard", name] if *name == format!("hls-{HLS_VERSION}.light.min.js") => (
            "text/javascript; charset=utf-8",
            HLS,
            "public, max-age=31536000, immutable",
        ),
        ["dashboard", "hls.LICENSE"] => ("text/plain; charset=utf-8", HLS_LICENSE, "public, max-age=86400"),
        _ => return None,
    };
    Some(
        Response::new(200, content_type, body.as_bytes().to_vec())
            .with_header("Cache-Control", cache)
            .with_header("X-Content-Type-Options", "nosniff")
            .with_header("Referrer-Policy", "no-referrer"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_assets_served() {
        let page = asset(&[""]).unwrap();
        assert!(page
            .headers
            .contains(&("Content-Type", "text/html; charset=utf-8".to_owned())));
        let html = String::from_utf8(page.body).unwrap();
        let player = format!("/dashboard/mpegts-{MPEGTS_VERSION}.min.js");
        let hls = format!("/dashboard/hls-{HLS_VERSION}.light.min.js");
        for path in [
            "/dashboard/dashboard.js",
            "/dashboard/dashboard.css",
            player.as_str(),
            hls.as_str(),
            "/dashboard/hls.LICENSE",
            "/dashboard/mpegts.LICENSE",
        ] {
            assert!(html.contains(path), "{path} not in the page");
            let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
            assert!(asset(&segments).is_some(), "{path} not served");
        }
        assert!(asset(&["dashboard", "nope.js"]).is_none());
        assert!(asset(&["api"]).is_none());
    }
}
