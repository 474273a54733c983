//! Sans-IO HTTP/1.1 response encoding: status line, headers (Date, Content-Length,
//! Connection added here) and body into one byte buffer; JSON error bodies. A body may
//! instead be a byte range of a file (`FileRange`), which the server copies after the head.

use serde_json::json;
use time::OffsetDateTime;

/// A body read from a file when the response is written: `length` bytes from `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRange {
    pub path: std::path::PathBuf,
    pub offset: u64,
    pub length: u64,
}

/// A body written while it is sent (a live stream): the server calls it once after the head,
/// with the socket, and closes the connection when it returns.
type BodyFn = Box<dyn FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + Send>;

/// A [`BodyFn`] in a response (taken once by the server).
#[derive(Clone)]
pub struct StreamBody(std::sync::Arc<std::sync::Mutex<Option<BodyFn>>>);

impl StreamBody {
    pub fn new(body: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + Send + 'static) -> StreamBody {
        StreamBody(std::sync::Arc::new(std::sync::Mutex::new(Some(Box::new(body)))))
    }

    /// The body, the first time (None after).
    pub fn take(&self) -> Option<BodyFn> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl std::fmt::Debug for StreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamBody")
    }
}

impl PartialEq for StreamBody {
    fn eq(&self, other: &StreamBody) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for StreamBody {}

/// A whole response; handlers build one and the server writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Extra headers (Content-Type and the like); the framing ones are added by `encode`.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// Instead of `body`: bytes of a file, sent after the head (`encode` gives the head).
    pub file: Option<FileRange>,
    /// Instead of `body`: bytes made while sending, until the end of the connection (no
    /// Content-Length; `Connection: close`).
    pub stream: Option<StreamBody>,
}

impl Response {
    /// A response with this status, Content-Type and body.
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_owned())],
            body,
            file: None,
            stream: None,
        }
    }

    /// A response whose body `body` writes while it is sent; the connection closes after it.
    pub fn streamed(status: u16, content_type: &str, body: StreamBody) -> Response {
        Response {
            stream: Some(body),
            ..Response::new(status, content_type, Vec::new())
        }
    }

    /// A response whose body is `range` of a file.
    pub fn file(status: u16, content_type: &str, range: FileRange) -> Response {
        Response {
            file: Some(range),
            ..Response::new(status, content_type, Vec::new())
        }
    }

    /// A JSON response.
    pub fn json(status: u16, body: &serde_json::Value) -> Response {
        Response::new(status, "application/json", body.to_string().into_bytes())
    }

    /// The JSON error every refusal uses: `{"error": MESSAGE, "status": STATUS}`.
    pub fn error(status: u16, message: &str) -> Response {
        Response::json(status, &json!({ "error": message, "status": status }))
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: &str) -> Response {
        self.headers.push((name, value.to_owned()));
        self
    }

    /// Status line, headers and (unless `head_only`, for HEAD requests) body. `keep_alive`
    /// picks the Connection header (sent either way, so HTTP/1.0 clients see keep-alive).
    pub fn encode(&self, keep_alive: bool, head_only: bool, now: OffsetDateTime) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        let status = if (100..=999).contains(&self.status) {
            self.status
        } else {
            500
        };
        out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason(status)).as_bytes());
        push_header(&mut out, "Date", &http_date(now));
        for (name, value) in &self.headers {
            push_header(&mut out, name, value);
        }
        let keep_alive = keep_alive && self.stream.is_none();
        // 1xx, 204 and 304 have no body; 1xx and 204 must not announce one, and a 304's
        // length would have to be the 200's, which it does not know (RFC 9110 §8.6).
        if self.stream.is_none() && !matches!(status, 100..=199 | 204 | 304) {
            let length = self.file.as_ref().map_or(self.body.len() as u64, |f| f.length);
            push_header(&mut out, "Content-Length", &length.to_string());
        }
        push_header(&mut out, "Connection", if keep_alive { "keep-alive" } else { "close" });
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// One header line; CR and LF in a value are dropped so a value cannot start a new header.
fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend(value.bytes().filter(|b| *b != b'\r' && *b != b'\n'));
    out.extend_from_slice(b"\r\n");
}

/// The reason phrase of the status codes this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// An IMF-fixdate (RFC 9110), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(now: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    now.to_offset(time::UtcOffset::UTC).format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_1994() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(784_111_777).unwrap()
    }

    #[test]
    fn encodes_status_date_headers_length_and_body() {
        let response = Response::json(200, &json!({ "status": "ok" }));
        let text = String::from_utf8(response.encode(false, false, at_1994())).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: application/json\r\n\
             Content-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}"
        );
    }

    #[test]
    fn head_responses_keep_the_length_but_not_the_body() {
        let response = Response::error(405, "method not allowed");
        let text = String::from_utf8(response.encode(true, true, at_1994())).unwrap();
        assert!(text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{text}");
        assert!(text.contains(&format!("Content-Length: {}\r\n", response.body.len())));
        assert!(text.contains("Connection: keep-alive\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn no_content_and_not_modified_have_no_content_length() {
        let encode = |status| {
            String::from_utf8(Response::new(status, "text/plain", Vec::new()).encode(true, false, at_1994())).unwrap()
        };
        for status in [204, 304] {
            let text = encode(status);
            assert!(!text.contains("Content-Length"), "{text}");
        }
        assert!(encode(200).contains("Content-Length: 0\r\n"));
    }

    #[test]
    fn header_values_cannot_inject_lines() {
        let response = Response::new(200, "text/plain", Vec::new()).with_header("X-A", "a\r\nSet-Cookie: b");
        let text = String::from_utf8(response.encode(false, false, at_1994())).unwrap();
        assert!(text.contains("X-A: aSet-Cookie: b\r\n"), "{text}");
    }

    #[test]
    fn error_bodies_are_json_with_the_status() {
        let body: serde_json::Value = serde_json::from_slice(&Response::error(404, "not found").body).unwrap();
        assert_eq!(body, json!({ "error": "not found", "status": 404 }));
    }
}
