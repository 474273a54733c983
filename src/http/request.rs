//! Sans-IO HTTP/1.x request parsing with limits: bytes go in (`RequestBuffer::feed`), whole
//! requests (head and Content-Length body) come out, or a typed error naming the status to
//! answer with. httparse does the head; the buffer never holds more than the limits allow.

use std::fmt;
use std::net::SocketAddr;

/// Largest request head (request line and headers). Past it, 431 and the connection closes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most header lines in one request. Past it, 431 and the connection closes.
pub const MAX_HEADERS: usize = 64;
/// Largest request body (Content-Length). Past it, 413 and the connection closes; the API's
/// requests carry no body, this leaves room for small ones.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The request method; the API routes on the common ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Other(String),
}

impl Method {
    fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "PATCH" => Method::Patch,
            other => Method::Other(other.to_owned()),
        }
    }
}

/// One parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The request target as sent (path and query, not decoded).
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Header names and values in order; values not UTF-8 are converted lossily.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub remote: SocketAddr,
}

impl Request {
    /// The target without its query string.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The first value of a header (name compared without regard to case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether the client wants the connection kept open after the response.
    pub fn keep_alive(&self) -> bool {
        let has = |token: &str| {
            self.headers
                .iter()
                .filter(|(key, _)| key.eq_ignore_ascii_case("Connection"))
                .flat_map(|(_, value)| value.split(','))
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        if self.minor_version == 0 {
            has("keep-alive")
        } else {
            !has("close")
        }
    }
}

/// Why a request is refused; each maps to the status code answered before closing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The head grew past `MAX_HEAD_BYTES`.
    HeadTooLarge,
    /// More than `MAX_HEADERS` header lines.
    TooManyHeaders,
    /// Not an HTTP/1.x request head (httparse's reason).
    Malformed(String),
    /// Content-Length is not a number, or two disagree.
    BadContentLength,
    /// Content-Length above `MAX_BODY_BYTES`.
    BodyTooLarge(u64),
    /// A Transfer-Encoding (chunked bodies are not taken).
    TransferEncoding,
}

impl RequestError {
    /// The HTTP status that answers this error.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::HeadTooLarge | RequestError::TooManyHeaders => 431,
            RequestError::Malformed(_) | RequestError::BadContentLength => 400,
            RequestError::BodyTooLarge(_) => 413,
            RequestError::TransferEncoding => 501,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::HeadTooLarge => write!(f, "request head over {MAX_HEAD_BYTES} bytes"),
            RequestError::TooManyHeaders => write!(f, "more than {MAX_HEADERS} headers"),
            RequestError::Malformed(why) => write!(f, "malformed request: {why}"),
            RequestError::BadContentLength => write!(f, "bad Content-Length"),
            RequestError::BodyTooLarge(n) => write!(f, "body of {n} bytes is over {MAX_BODY_BYTES}"),
            RequestError::TransferEncoding => write!(f, "Transfer-Encoding is not supported"),
        }
    }
}

impl std::error::Error for RequestError {}

/// A parsed head waiting for its body.
#[derive(Debug)]
struct Pending {
    request: Request,
    head_len: usize,
    body_len: usize,
}

/// An incomplete head is parsed again once this many more bytes came (or a blank line did):
/// a client dribbling bytes costs a bounded amount of parsing.
const REPARSE_STEP: usize = 512;

/// Bytes read from one connection, turned into requests one at a time (pipelined bytes wait
/// for the next call). Holds at most `MAX_HEAD_BYTES` + `MAX_BODY_BYTES` + one read.
#[derive(Debug, Default)]
pub struct RequestBuffer {
    bytes: Vec<u8>,
    pending: Option<Pending>,
    /// Bytes already searched for the blank line that ends a head.
    scanned: usize,
    /// Buffer length at the last parse of an incomplete head.
    parsed_at: Option<usize>,
}

impl RequestBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the socket.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// True when part of a request has arrived (a timeout now is a slow client, not an idle one).
    pub fn has_partial(&self) -> bool {
        !self.bytes.is_empty()
    }

    /// The next whole request, None if more bytes are needed, or why the bytes are refused.
    pub fn next_request(&mut self, remote: SocketAddr) -> Result<Option<Request>, RequestError> {
        if self.pending.is_none() && self.head_worth_parsing() {
            self.parsed_at = Some(self.bytes.len());
            self.pending = parse_head(&self.bytes, remote)?;
        }
        let Some(pending) = &self.pending else {
            return Ok(None);
        };
        let end = pending.head_len.saturating_add(pending.body_len);
        if self.bytes.len() < end {
            return Ok(None);
        }
        let Some(mut pending) = self.pending.take() else {
            return Ok(None);
        };
        pending.request.body = self.bytes.get(pending.head_len..end).unwrap_or_default().to_vec();
        self.bytes.drain(..end);
        self.scanned = 0;
        self.parsed_at = None;
        Ok(Some(pending.request))
    }

    /// True for the first bytes, once a blank line came, every `REPARSE_STEP` bytes and past
    /// the head limit; so a head sent a byte at a time is not parsed once per byte.
    fn head_worth_parsing(&mut self) -> bool {
        let window = self.bytes.get(self.scanned.saturating_sub(2)..).unwrap_or_default();
        let blank_line = window.windows(2).any(|w| w == b"\n\n") || window.windows(3).any(|w| w == b"\n\r\n");
        self.scanned = self.bytes.len();
        let due = self
            .parsed_at
            .is_none_or(|at| self.bytes.len() >= at.saturating_add(REPARSE_STEP));
        blank_line || due || self.bytes.len() > MAX_HEAD_BYTES
    }
}

/// Parses a request head at the start of `bytes`: None while incomplete.
fn parse_head(bytes: &[u8], remote: SocketAddr) -> Result<Option<Pending>, RequestError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if bytes.len() > MAX_HEAD_BYTES => return Err(RequestError::HeadTooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
        Err(e) => return Err(RequestError::Malformed(e.to_string())),
    };
    if head_len > MAX_HEAD_BYTES {
        return Err(RequestError::HeadTooLarge);
    }
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
        .collect();
    let request = Request {
        method: Method::from_token(parsed.method.unwrap_or("")),
        target: parsed.path.unwrap_or("").to_owned(),
        minor_version: parsed.version.unwrap_or(1),
        headers,
        body: Vec::new(),
        remote,
    };
    let body_len = body_length(&request)?;
    Ok(Some(Pending {
        request,
        head_len,
        body_len,
    }))
}

/// The body's length from Content-Length (0 without one); refuses Transfer-Encoding.
fn body_length(request: &Request) -> Result<usize, RequestError> {
    if request.header("Transfer-Encoding").is_some() {
        return Err(RequestError::TransferEncoding);
    }
    let mut length: Option<u64> = None;
    for (_, value) in request
        .headers
        .iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case("Content-Length"))
    {
        let value = value.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RequestError::BadContentLength);
        }
        let n: u64 = value.parse().map_err(|_| RequestError::BadContentLength)?;
        if length.is_some_and(|seen| seen != n) {
            return Err(RequestError::BadContentLength);
        }
        length = Some(n);
    }
    let n = length.unwrap_or(0);
    match usize::try_from(n) {
        Ok(n) if n <= MAX_BODY_BYTES => Ok(n),
        _ => Err(RequestError::BodyTooLarge(n)),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
