//! Unit tests of the sans-IO request parser: whole, split, pipelined and refused requests.

use super::*;

fn remote() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

fn one(bytes: &[u8]) -> Result<Option<Request>, RequestError> {
    let mut buffer = RequestBuffer::new();
    buffer.feed(bytes);
    buffer.next_request(remote())
}

#[test]
fn a_whole_request_parses_with_headers_path_and_version() {
    let request = one(b"GET /api/streams?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(request.method, Method::Get);
    assert_eq!(request.target, "/api/streams?x=1");
    assert_eq!(request.path(), "/api/streams");
    assert_eq!(request.minor_version, 1);
    assert_eq!(request.header("authorization"), Some("Bearer t"));
    assert_eq!(request.header("Missing"), None);
    assert!(request.keep_alive());
    assert!(request.body.is_empty());
}

#[test]
fn keep_alive_follows_the_version_and_connection_header() {
    let parse = |text: &str| one(text.as_bytes()).unwrap().unwrap();
    assert!(!parse("GET / HTTP/1.0\r\n\r\n").keep_alive());
    assert!(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive());
    assert!(!parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive());
    assert!(!parse("GET / HTTP/1.1\r\nConnection: upgrade, Close\r\n\r\n").keep_alive());
}

#[test]
fn bytes_split_anywhere_give_the_same_request_and_pipelined_ones_wait_their_turn() {
    let text = b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n";
    for split in 0..text.len() {
        let mut buffer = RequestBuffer::new();
        buffer.feed(&text[..split]);
        let mut got = Vec::new();
        while let Some(r) = buffer.next_request(remote()).unwrap() {
            got.push(r);
        }
        buffer.feed(&text[split..]);
        while let Some(r) = buffer.next_request(remote()).unwrap() {
            got.push(r);
        }
        assert_eq!(got.len(), 2, "split at {split}");
        assert_eq!(got[0].method, Method::Post);
        assert_eq!(got[0].body, b"abc");
        assert_eq!(got[1].target, "/b");
        assert!(!buffer.has_partial());
    }
}

#[test]
fn an_endless_head_is_refused_at_the_limit() {
    let mut buffer = RequestBuffer::new();
    buffer.feed(b"GET / HTTP/1.1\r\nX-A: ");
    let filler = vec![b'a'; 1024];
    let mut result = Ok(None);
    for _ in 0..=MAX_HEAD_BYTES / filler.len() + 1 {
        buffer.feed(&filler);
        result = buffer.next_request(remote());
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(RequestError::HeadTooLarge));
    assert_eq!(RequestError::HeadTooLarge.status(), 431);
}

#[test]
fn refused_requests_name_their_status() {
    let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
    let cases: Vec<(String, u16)> = vec![
        (format!("GET / HTTP/1.1\r\n{many}\r\n"), 431),
        ("GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n".into(), 400),
        (
            "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".into(),
            400,
        ),
        (
            "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n".into(),
            400,
        ),
        (
            format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", MAX_BODY_BYTES + 1),
            413,
        ),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".into(), 501),
        ("GET / HTTP/2.0\r\n\r\n".into(), 400),
        ("\x16\x03\x01\x02\x00\x01\x00\x01\x7f\x03\x03".into(), 400),
        ("GET /\0 HTTP/1.1\r\n\r\n".into(), 400),
    ];
    for (text, status) in cases {
        let error = one(text.as_bytes()).expect_err(&text);
        assert_eq!(error.status(), status, "{text:?}: {error}");
    }
}

#[test]
fn same_content_length_twice_is_accepted() {
    let request = one(b"POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nhi")
        .unwrap()
        .unwrap();
    assert_eq!(request.body, b"hi");
}

#[test]
fn methods_map_to_their_variants() {
    for (token, method) in [
        ("HEAD", Method::Head),
        ("DELETE", Method::Delete),
        ("BREW", Method::Other("BREW".into())),
    ] {
        let request = one(format!("{token} / HTTP/1.1\r\n\r\n").as_bytes()).unwrap().unwrap();
        assert_eq!(request.method, method);
    }
}
