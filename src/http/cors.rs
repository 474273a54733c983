//! Sans-IO CORS (`--http-cors-origin`) for the viewer paths the API layer names: the
//! `Access-Control-*` headers added to their responses, and the answer to a preflight
//! (`OPTIONS` with `Access-Control-Request-Method`), given by the server without the handler.

use super::request::{Method, Request};
use super::response::Response;

/// Methods a cross-origin viewer may use.
pub const ALLOW_METHODS: &str = "GET, HEAD, OPTIONS";
/// Request headers a cross-origin viewer may send (players seek with Range).
pub const ALLOW_HEADERS: &str = "Range";
/// Response headers a cross-origin viewer's script may read.
pub const EXPOSE_HEADERS: &str = "Content-Length, Content-Range";
/// How long a browser may cache a preflight answer, in seconds.
pub const PREFLIGHT_MAX_AGE: &str = "600";

/// Which origins may read viewer responses: none (no CORS headers at all, the default), any
/// (`*`), or a list compared exactly (scheme, host and port, e.g. `https://example.com`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins {
    any: bool,
    origins: Vec<String>,
}

impl CorsOrigins {
    /// The origins of every `--http-cors-origin` value (each a comma list).
    pub fn new(values: &[String]) -> CorsOrigins {
        let mut cors = CorsOrigins::default();
        for origin in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
            if origin == "*" {
                cors.any = true;
            } else if !origin.is_empty() && !cors.origins.iter().any(|o| o == origin) {
                cors.origins.push(origin.trim_end_matches('/').to_owned());
            }
        }
        cors
    }

    /// True when no origin is configured (no CORS headers are sent).
    pub fn is_off(&self) -> bool {
        !self.any && self.origins.is_empty()
    }

    /// The Access-Control-Allow-Origin value for a request from `origin`, if allowed.
    fn allow(&self, origin: Option<&str>) -> Option<String> {
        if self.any {
            return Some("*".to_owned());
        }
        let origin = origin?;
        self.origins.iter().any(|o| o == origin).then(|| origin.to_owned())
    }

    /// True when the answer depends on the Origin header (caches must key on it).
    fn varies(&self) -> bool {
        !self.any && !self.origins.is_empty()
    }
}

/// True for a CORS preflight: OPTIONS naming the method it wants to use.
pub fn is_preflight(request: &Request) -> bool {
    request.method == Method::Options && request.header("Access-Control-Request-Method").is_some()
}

/// The answer to a preflight on a viewer path: 204 with the allowed methods and headers,
/// and Access-Control-Allow-Origin when the origin is allowed (else the browser refuses).
pub fn preflight(cors: &CorsOrigins, request: &Request) -> Response {
    let mut response = Response::new(204, "text/plain", Vec::new()).with_header("Allow", ALLOW_METHODS);
    response.headers.retain(|(name, _)| *name != "Content-Type");
    if let Some(allowed) = cors.allow(request.header("Origin")) {
        response = response
            .with_header("Access-Control-Allow-Origin", &allowed)
            .with_header("Access-Control-Allow-Methods", ALLOW_METHODS)
            .with_header("Access-Control-Allow-Headers", ALLOW_HEADERS)
            .with_header("Access-Control-Max-Age", PREFLIGHT_MAX_AGE);
    }
    if cors.varies() {
        response = response.with_header("Vary", "Origin");
    }
    response
}

/// Adds the CORS headers to a viewer path's response (any a handler set are replaced).
pub fn decorate(cors: &CorsOrigins, request: &Request, mut response: Response) -> Response {
    response
        .headers
        .retain(|(name, _)| !name.starts_with("Access-Control-"));
    if let Some(allowed) = cors.allow(request.header("Origin")) {
        response = response
            .with_header("Access-Control-Allow-Origin", &allowed)
            .with_header("Access-Control-Expose-Headers", EXPOSE_HEADERS);
    }
    if cors.varies() {
        response = response.with_header("Vary", "Origin");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request {
        Request {
            method,
            target: "/live/live/cam.flv".to_owned(),
            minor_version: 1,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: Vec::new(),
            remote: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
        }
    }

    fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
        response
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn ok() -> Response {
        Response::new(200, "video/x-flv", Vec::new())
    }

    #[test]
    fn origins_come_from_repeated_and_comma_separated_values() {
        let cors = CorsOrigins::new(&[
            "https://a.example, https://b.example/".to_owned(),
            "https://a.example".to_owned(),
        ]);
        assert_eq!(cors.origins, ["https://a.example", "https://b.example"]);
        assert!(!cors.any);
        assert!(CorsOrigins::new(&[]).is_off());
        assert!(CorsOrigins::new(&[" , ".to_owned()]).is_off());
        assert!(CorsOrigins::new(&["*".to_owned()]).any);
    }

    #[test]
    fn a_listed_origin_is_echoed_with_vary_and_others_get_nothing() {
        let cors = CorsOrigins::new(&["https://a.example".to_owned()]);
        let r = decorate(&cors, &request(Method::Get, &[("Origin", "https://a.example")]), ok());
        assert_eq!(header(&r, "Access-Control-Allow-Origin"), Some("https://a.example"));
        assert_eq!(header(&r, "Access-Control-Expose-Headers"), Some(EXPOSE_HEADERS));
        assert_eq!(header(&r, "Vary"), Some("Origin"));
        let r = decorate(
            &cors,
            &request(Method::Get, &[("Origin", "https://evil.example")]),
            ok(),
        );
        assert_eq!(header(&r, "Access-Control-Allow-Origin"), None);
        assert_eq!(header(&r, "Vary"), Some("Origin"));
        let r = decorate(&cors, &request(Method::Get, &[]), ok());
        assert_eq!(header(&r, "Access-Control-Allow-Origin"), None);
    }

    #[test]
    fn any_origin_answers_a_star() {
        let cors = CorsOrigins::new(&["*".to_owned()]);
        let r = decorate(&cors, &request(Method::Get, &[("Origin", "https://x.example")]), ok());
        assert_eq!(header(&r, "Access-Control-Allow-Origin"), Some("*"));
        assert_eq!(header(&r, "Vary"), None);
    }

    #[test]
    fn a_handler_set_allow_origin_is_replaced() {
        let cors = CorsOrigins::new(&["https://a.example".to_owned()]);
        let response = ok().with_header("Access-Control-Allow-Origin", "*");
        let r = decorate(
            &cors,
            &request(Method::Get, &[("Origin", "https://b.example")]),
            response,
        );
        assert_eq!(header(&r, "Access-Control-Allow-Origin"), None);
    }

    #[test]
    fn preflight_lists_methods_and_headers_for_an_allowed_origin() {
        let cors = CorsOrigins::new(&["https://a.example".to_owned()]);
        let ask = request(
            Method::Options,
            &[
                ("Origin", "https://a.example"),
                ("Access-Control-Request-Method", "GET"),
                ("Access-Control-Request-Headers", "range"),
            ],
        );
        assert!(is_preflight(&ask));
        assert!(!is_preflight(&request(Method::Options, &[])));
        let r = preflight(&cors, &ask);
        assert_eq!(r.status, 204);
        assert_eq!(header(&r, "Access-Control-Allow-Origin"), Some("https://a.example"));
        assert_eq!(header(&r, "Access-Control-Allow-Methods"), Some(ALLOW_METHODS));
        assert_eq!(header(&r, "Access-Control-Allow-Headers"), Some(ALLOW_HEADERS));
        assert_eq!(header(&r, "Content-Type"), None);
        let other = request(
            Method::Options,
            &[
                ("Origin", "https://b.example"),
                ("Access-Control-Request-Method", "GET"),
            ],
        );
        assert_eq!(header(&preflight(&cors, &other), "Access-Control-Allow-Origin"), None);
    }
}
