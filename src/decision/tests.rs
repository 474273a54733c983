//! Decision point tests: the key stage, a later decider that answers at once, later, never
//! or not at all, and a session driven through a pending publish decision by a fake
//! transport the way a connection drives it.

use super::*;
use crate::ops::auth::Auth;
use crate::ops::cidr::Cidr;
use crate::protocol::handshake::RANDOM_SIZE;
use crate::protocol::session::{SessionConfig, SessionEvent};
use crossbeam_channel::Sender;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const FFMPEG_PUBLISH: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg-publish.c2s");

/// How a test decider answers.
#[derive(Clone, Copy)]
enum Mode {
    Now(bool),
    /// From another thread, after this long.
    After(Duration, bool),
    /// Keeps the sender and never answers.
    Never,
    /// Drops the sender without answering.
    Drop,
}

struct TestDecider {
    mode: Mode,
    asked: AtomicUsize,
    held: Mutex<Vec<Sender<Answer>>>,
}

impl TestDecider {
    fn new(mode: Mode) -> Self {
        TestDecider {
            mode,
            asked: AtomicUsize::new(0),
            held: Mutex::new(Vec::new()),
        }
    }
}

fn answer(allow: bool) -> Answer {
    if allow {
        Answer::Allow
    } else {
        Answer::Deny(Denial::Decider("not today".into()))
    }
}

impl Decider for TestDecider {
    fn decide(&self, _request: &Request) -> Verdict {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = crossbeam_channel::bounded(1);
        match self.mode {
            Mode::Now(allow) => return Verdict::Ready(answer(allow)),
            Mode::After(delay, allow) => {
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    let _ = tx.send(answer(allow));
                });
            }
            Mode::Never => self.held.lock().unwrap().push(tx),
            Mode::Drop => drop(tx),
        }
        Verdict::Pending(rx)
    }
}

fn request(action: Action, remote: &str) -> Request {
    Request {
        action,
        app: "live".into(),
        stream: "cam".into(),
        query: "key=secret".into(),
        remote: remote.parse().unwrap(),
        conn_id: Some(1),
    }
}

fn no_stop() -> bool {
    false
}

fn decide(later: &TestDecider, action: Action, timeout: Duration) -> Outcome {
    let auth = Auth::new(None, None);
    let point = DecisionPoint::new(KeyCheck::new(&[], &auth), Some(later));
    resolve(point.decide(&request(action, "192.0.2.1:5000")), timeout, &no_stop)
}

#[test]
fn the_key_stage_alone_allows_or_denies_at_once() {
    let auth = Auth::new(None, None);
    let allow: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
    let point = DecisionPoint::new(KeyCheck::new(&allow, &auth), None);
    let inside = point.decide(&request(Action::Publish, "10.1.2.3:1935"));
    assert!(matches!(inside, Verdict::Ready(Answer::Allow)));
    let outside = point.decide(&request(Action::Publish, "192.0.2.1:1935"));
    let denied = Answer::Deny(Denial::Auth(Denied::AddressNotAllowed));
    assert!(matches!(outside, Verdict::Ready(a) if a == denied));
    let play = point.decide(&request(Action::Play, "192.0.2.1:1935"));
    assert!(
        matches!(play, Verdict::Ready(Answer::Allow)),
        "the address list is for publish only"
    );
}

#[test]
fn a_key_stage_denial_never_reaches_the_later_decider() {
    // A configured key file not loaded yet denies everything (fail closed).
    let auth = Auth::new(
        Some("/nonexistent/publish.keys".into()),
        Some("/nonexistent/play.keys".into()),
    );
    let later = TestDecider::new(Mode::Now(true));
    let point = DecisionPoint::new(KeyCheck::new(&[], &auth), Some(&later));
    for action in [Action::Publish, Action::Play] {
        let outcome = resolve(
            point.decide(&request(action, "192.0.2.1:1")),
            DECISION_TIMEOUT,
            &no_stop,
        );
        assert!(matches!(outcome, Outcome::Denied(Denial::Auth(_))), "{outcome:?}");
    }
    assert_eq!(later.asked.load(Ordering::SeqCst), 0);
}

#[test]
fn a_later_decider_answering_at_once_decides() {
    assert_eq!(
        decide(&TestDecider::new(Mode::Now(true)), Action::Play, DECISION_TIMEOUT),
        Outcome::Allowed
    );
    let denied = decide(&TestDecider::new(Mode::Now(false)), Action::Publish, DECISION_TIMEOUT);
    assert_eq!(denied, Outcome::Denied(Denial::Decider("not today".into())));
}

#[test]
fn a_pending_answer_is_waited_for() {
    let started = Instant::now();
    let later = TestDecider::new(Mode::After(Duration::from_millis(150), true));
    assert_eq!(decide(&later, Action::Publish, DECISION_TIMEOUT), Outcome::Allowed);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let later = TestDecider::new(Mode::After(Duration::from_millis(50), false));
    let outcome = decide(&later, Action::Play, DECISION_TIMEOUT);
    assert!(matches!(outcome, Outcome::Denied(Denial::Decider(_))), "{outcome:?}");
}

#[test]
fn an_answer_that_never_comes_times_out() {
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let later = TestDecider::new(Mode::Never);
    assert_eq!(decide(&later, Action::Publish, timeout), Outcome::TimedOut(timeout));
    let waited = started.elapsed();
    assert!(
        waited >= timeout && waited < timeout + Duration::from_secs(2),
        "{waited:?}"
    );
    // Too late: an answer after the timeout changes nothing.
    let later = TestDecider::new(Mode::After(Duration::from_millis(400), true));
    assert_eq!(decide(&later, Action::Play, timeout), Outcome::TimedOut(timeout));
}

#[test]
fn a_decider_that_drops_its_channel_denies() {
    let outcome = decide(&TestDecider::new(Mode::Drop), Action::Publish, DECISION_TIMEOUT);
    assert_eq!(outcome, Outcome::Denied(Denial::NoAnswer));
}

#[test]
fn a_stop_ends_the_wait() {
    let later = TestDecider::new(Mode::Never);
    let auth = Auth::new(None, None);
    let point = DecisionPoint::new(KeyCheck::new(&[], &auth), Some(&later));
    let started = Instant::now();
    let stop = || started.elapsed() >= Duration::from_millis(250);
    let outcome = resolve(
        point.decide(&request(Action::Play, "192.0.2.1:1")),
        DECISION_TIMEOUT,
        &stop,
    );
    assert_eq!(outcome, Outcome::Stopped);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_request_never_shows_its_query() {
    let shown = format!("{:?}", request(Action::Publish, "192.0.2.1:1"));
    assert!(!shown.contains("secret"), "{shown}");
}

/// A peer's bytes, handed out a read at a time.
struct FakeTransport<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl FakeTransport<'_> {
    fn read(&mut self, max: usize) -> &[u8] {
        let end = (self.at + max).min(self.bytes.len());
        let piece = &self.bytes[self.at..end];
        self.at = end;
        piece
    }
}

/// Drives a session through the FFmpeg capture the way a connection does: reads of at most
/// 4 KiB (and never past `input_room`), every request decided before the next read, a
/// refusal through `refuse`. Returns the outcomes, media events, bytes read while a
/// decision was pending, and the server's output.
fn drive(later: &TestDecider, timeout: Duration) -> (Vec<Outcome>, usize, usize, Vec<u8>) {
    let auth = Auth::new(None, None);
    let point = DecisionPoint::new(KeyCheck::new(&[], &auth), Some(later));
    let mut session = ServerSession::new(SessionConfig::default(), [7u8; RANDOM_SIZE], 0);
    let mut transport = FakeTransport {
        bytes: FFMPEG_PUBLISH,
        at: 0,
    };
    let (mut outcomes, mut media, mut read_while_pending, mut output) = (Vec::new(), 0, 0, Vec::new());
    loop {
        let piece = transport.read(session.input_room().min(4096));
        if piece.is_empty() {
            break;
        }
        if session.awaiting_decision() {
            read_while_pending += piece.len();
        }
        session.handle_input(piece).unwrap();
        while let Some(event) = session.poll_event() {
            match event {
                SessionEvent::PublishRequest {
                    stream_id, name, query, ..
                } => {
                    let mut request = request(Action::Publish, "192.0.2.1:1");
                    (request.stream, request.query) = (name, query);
                    let outcome = resolve(point.decide(&request), timeout, &no_stop);
                    match outcome {
                        Outcome::Allowed => session.accept_publish(stream_id).unwrap(),
                        _ => refuse(&mut session, Action::Publish, stream_id).unwrap(),
                    }
                    outcomes.push(outcome);
                }
                SessionEvent::Media { .. } => media += 1,
                _ => {}
            }
        }
        output.extend(session.take_output());
    }
    (outcomes, media, read_while_pending, output)
}

#[test]
fn a_session_waits_for_a_pending_publish_decision_and_then_gets_all_its_media() {
    let later = TestDecider::new(Mode::After(Duration::from_millis(100), true));
    let (outcomes, media, read_while_pending, output) = drive(&later, DECISION_TIMEOUT);
    assert_eq!(outcomes, vec![Outcome::Allowed]);
    assert_eq!(read_while_pending, 0, "nothing read while the decision was pending");
    assert_eq!(media, 32 + 46 + 1, "every video, audio and metadata message");
    assert!(output.windows(23).any(|w| w == b"NetStream.Publish.Start"));
}

#[test]
fn a_publish_decision_that_never_comes_refuses_like_a_denial() {
    let later = TestDecider::new(Mode::Never);
    let timeout = Duration::from_millis(200);
    let (outcomes, media, _, timed_out) = drive(&later, timeout);
    assert_eq!(outcomes, vec![Outcome::TimedOut(timeout)]);
    assert_eq!(media, 0, "no media of a refused publish");
    let (_, _, _, denied) = drive(&TestDecider::new(Mode::Now(false)), timeout);
    let bad_name = |out: &[u8]| out.windows(25).any(|w| w == b"NetStream.Publish.BadName");
    assert!(bad_name(&timed_out) && bad_name(&denied));
}
