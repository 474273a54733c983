//! The dashboard over HTTP: `/` and its assets are served without the token with their
//! types and caching; `POST /api/session` sets the HttpOnly, SameSite=Strict session cookie
//! only for the right token; the cookie then passes every token-guarded route (API,
//! recordings) and a wrong one gets 401; a new token (SIGHUP) voids old cookies.
//! (tests/dashboard_chromium.rs drives the page in a real browser.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_addr, http_request, http_request_body};
use common::log_contract::*;
use common::{ServerProcess, DEADLINE};

#[test]
fn page_and_assets_are_open_with_their_types() {
    let dir = common::TempDir::new("dash-assets");
    let token_file = dir.path().join("api.token");
    std::fs::write(&token_file, "dash-Token-1\n").unwrap();
    let server = ServerProcess::start(&["--http-token-file", token_file.to_str().unwrap()]);
    let api = api_addr(&server);

    let page = http_request(api, "GET", "/", &[]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("Content-Type").unwrap(), "text/html; charset=utf-8");
    assert_eq!(page.header("Cache-Control").unwrap(), "no-cache");
    assert!(page.body.contains("<title>rtmp-server dashboard</title>"));
    let assets = [
        ("/dashboard/dashboard.js", "text/javascript; charset=utf-8"),
        ("/dashboard/dashboard.css", "text/css; charset=utf-8"),
        ("/dashboard/mpegts-1.8.2.min.js", "text/javascript; charset=utf-8"),
    ];
    for (path, content_type) in assets {
        assert!(page.body.contains(path), "the page does not load {path}");
        let reply = http_request(api, "GET", path, &[]);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("Content-Type").unwrap(), content_type, "{path}");
        assert!(reply.header("Cache-Control").is_some(), "{path}");
        assert!(reply.body.len() > 100, "{path}");
    }
    let player = http_request(api, "GET", "/dashboard/mpegts-1.8.2.min.js", &[]);
    assert!(player.header("Cache-Control").unwrap().contains("max-age="));
    assert_eq!(http_request(api, "HEAD", "/", &[]).status, 200);
    assert_eq!(http_request(api, "GET", "/dashboard/missing.js", &[]).status, 404);
    assert_eq!(http_request(api, "POST", "/", &[]).status, 405);
    // Data stays behind the token.
    assert_eq!(http_request(api, "GET", "/api/streams", &[]).status, 401);
    let session = http_request(api, "GET", "/api/session", &[]).json();
    assert_eq!(session["token_required"], true);
    assert_eq!(session["cookie_valid"], false);
}

fn cookie_of(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

#[test]
fn the_session_cookie_is_set_for_the_right_token_only_and_passes_guarded_routes() {
    let dir = common::TempDir::new("dash-cookie");
    let token_file = dir.path().join("api.token");
    std::fs::write(&token_file, "dash-Token-2a\n").unwrap();
    let record_dir = dir.path().join("rec");
    std::fs::create_dir_all(&record_dir).unwrap();
    std::fs::write(
        record_dir.join("live_s_20250101_000000_000.flv"),
        b"FLV\x01\x05\0\0\0\x09\0\0\0\0",
    )
    .unwrap();
    let server = ServerProcess::start(&[
        "--http-token-file",
        token_file.to_str().unwrap(),
        "--record-dir",
        record_dir.to_str().unwrap(),
    ]);
    let api = api_addr(&server);

    for (headers, body) in [
        (&[][..], "dash-Token-2b"),
        (&[][..], "dash-Token-2a-and-more"),
        (&[][..], ""),
        (&["Authorization: Bearer dash-Token-2b"][..], ""),
    ] {
        let reply = http_request_body(api, "POST", "/api/session", headers, body);
        assert_eq!(reply.status, 401, "{headers:?} {body:?}: {}", reply.body);
        assert!(reply.header("Set-Cookie").is_none(), "{}", reply.headers);
    }

    let reply = http_request_body(api, "POST", "/api/session", &[], "dash-Token-2a\n");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let set_cookie = reply.header("Set-Cookie").expect("Set-Cookie");
    let attributes: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
    assert!(attributes[0].starts_with("rtmp_token="), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&attribute), "{attribute} missing: {set_cookie}");
    }
    assert!(
        !set_cookie.contains("dash-Token"),
        "the token itself is not the cookie: {set_cookie}"
    );
    let cookie = format!("Cookie: theme=dark; {}", cookie_of(&set_cookie));

    // The bearer header gets the same cookie.
    let by_header = http_request(api, "POST", "/api/session", &["Authorization: Bearer dash-Token-2a"]);
    assert_eq!(by_header.status, 200);
    assert_eq!(
        cookie_of(&by_header.header("Set-Cookie").unwrap()),
        cookie_of(&set_cookie)
    );

    for path in [
        "/api/streams",
        "/api/pushes",
        "/metrics",
        "/recordings",
        "/recordings/live_s_20250101_000000_000.flv",
    ] {
        assert_eq!(
            http_request(api, "GET", path, &[&cookie]).status,
            200,
            "{path} with the cookie"
        );
        for wrong in [
            "Cookie: rtmp_token=00",
            "Cookie: rtmp_token=dash-Token-2a",
            "Cookie: other=1",
        ] {
            let reply = http_request(api, "GET", path, &[wrong]);
            assert_eq!(reply.status, 401, "{path} with {wrong}");
        }
    }
    assert_eq!(
        http_request(api, "POST", "/api/streams/live/none/kick", &[&cookie]).status,
        404,
        "controls pass with the cookie"
    );
    let session = http_request(api, "GET", "/api/session", &[&cookie]).json();
    assert_eq!(session["cookie_valid"], true);
    let closed = http_request(api, "DELETE", "/api/session", &[&cookie]);
    assert!(closed.header("Set-Cookie").unwrap().contains("Max-Age=0"));

    // A new token voids the cookies made for the old one.
    std::fs::write(&token_file, "dash-Token-3c").unwrap();
    server.signal("HUP");
    server.wait_for_log(HTTP_TOKEN_RELOADED, DEADLINE);
    assert_eq!(http_request(api, "GET", "/api/streams", &[&cookie]).status, 401);

    let log = server.log_lines().join("\n");
    assert!(!log.contains("dash-Token"), "token in the log:\n{log}");
}

#[test]
fn without_a_token_file_the_session_says_so_and_sets_no_cookie() {
    let server = ServerProcess::start(&[]);
    let api = api_addr(&server);
    let reply = http_request_body(api, "POST", "/api/session", &[], "anything");
    assert_eq!(reply.status, 200);
    assert!(reply.header("Set-Cookie").is_none());
    assert_eq!(reply.json()["token_required"], false);
    assert_eq!(http_request(api, "GET", "/", &[]).status, 200);
}
