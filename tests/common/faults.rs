//! Fault-test helpers (issue 7): own-client players and real-time publishers on threads,
//! the source clip's audio/video tags to compare what they got against, abortive (RST)
//! socket close, kernel TCP queue sizes from /proc/net/tcp, and the root/mount capability
//! check (fails in CI, skips with a note elsewhere).

use rtmp_server::client::{ClientError, PlayEvent, RtmpClient};
use rtmp_server::flv::reader::read_all;
use rtmp_server::media::FrameKind;
use rtmp_server::protocol::message::type_id;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Read timeout of test players: how often they look at their stop flag.
const PLAYER_POLL: Duration = Duration::from_millis(200);

/// One FLV tag of a source clip.
#[derive(Debug, Clone)]
pub struct SourceTag {
    pub tag_type: u8,
    pub timestamp: u32,
    pub body: Vec<u8>,
}

/// Every tag of an FLV file, in file order.
pub fn source_tags(path: &Path) -> Vec<SourceTag> {
    let bytes = std::fs::read(path).unwrap();
    let (_, tags) = read_all(&bytes).unwrap();
    tags.iter()
        .map(|t| SourceTag {
            tag_type: t.tag_type,
            timestamp: t.timestamp,
            body: t.body.to_vec(),
        })
        .collect()
}

/// The audio and video bodies of `tags` (script data left out), in order.
pub fn av_bodies(tags: &[SourceTag]) -> Vec<(u8, Vec<u8>)> {
    tags.iter()
        .filter(|t| t.tag_type == 8 || t.tag_type == 9)
        .map(|t| (t.tag_type, t.body.clone()))
        .collect()
}

/// What a test player received: audio/video bodies in order and why it stopped.
#[derive(Debug, Default)]
pub struct Played {
    pub media: Vec<(u8, Vec<u8>)>,
    pub end: String,
}

/// A player reading on its own thread until UnpublishNotify, the connection's end, or stop.
pub struct Player {
    stop: Arc<AtomicBool>,
    received: Arc<AtomicUsize>,
    handle: JoinHandle<Played>,
}

impl Player {
    /// Connects and plays `live/{stream}` (returns once NetStream.Play.Start arrived).
    pub fn join(addr: SocketAddr, stream: &str) -> Player {
        let mut client = RtmpClient::connect(addr, "live", Duration::from_secs(30)).unwrap();
        client.play(stream).unwrap();
        client.socket().set_read_timeout(Some(PLAYER_POLL)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicUsize::new(0));
        let (flag, count) = (Arc::clone(&stop), Arc::clone(&received));
        let handle = std::thread::spawn(move || {
            let mut played = Played::default();
            loop {
                // Asked to stop: return now, even while media keeps coming (a live source).
                if flag.load(Ordering::SeqCst) {
                    played.end = "stopped".to_owned();
                    return played;
                }
                match client.read_play_event() {
                    Ok(PlayEvent::Media(m)) if m.type_id == type_id::AUDIO || m.type_id == type_id::VIDEO => {
                        played.media.push((m.type_id, m.payload));
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(PlayEvent::Status(code)) if code == "NetStream.Play.UnpublishNotify" => {
                        played.end = code;
                        return played;
                    }
                    Ok(_) => {}
                    Err(ClientError::Io(e))
                        if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                    Err(e) => {
                        played.end = e.to_string();
                        return played;
                    }
                }
            }
        });
        Player { stop, received, handle }
    }

    /// Audio/video messages received so far.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    /// Waits until the player stops by itself (UnpublishNotify or the connection's end).
    pub fn wait_end(self) -> Played {
        let deadline = Instant::now() + super::DEADLINE;
        while !self.handle.is_finished() {
            assert!(Instant::now() < deadline, "player did not end within the deadline");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.handle.join().unwrap()
    }

    /// Stops reading (after the message or poll in progress, even while media keeps coming)
    /// and returns what arrived.
    pub fn stop(self) -> Played {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap()
    }
}

/// Asserts `got` is exactly `source` (or, with `prefix`, a non-empty start of it).
pub fn assert_same_media(what: &str, got: &[(u8, Vec<u8>)], source: &[(u8, Vec<u8>)], prefix: bool) {
    let first_difference = got.iter().zip(source).position(|(a, b)| a != b);
    assert_eq!(
        first_difference, None,
        "{what}: message {first_difference:?} differs from the source"
    );
    if prefix {
        assert!(
            !got.is_empty() && got.len() <= source.len(),
            "{what}: {} of {} messages",
            got.len(),
            source.len()
        );
    } else {
        assert_eq!(got.len(), source.len(), "{what}: every message of the source");
    }
}

fn frame_kind(tag_type: u8) -> FrameKind {
    match tag_type {
        8 => FrameKind::Audio,
        9 => FrameKind::Video,
        _ => FrameKind::Data,
    }
}

/// What a real-time client publisher sent before it finished or failed.
#[derive(Debug)]
pub struct Published {
    /// Tags sent (a prefix of the source tags).
    pub tags: usize,
    pub error: Option<String>,
}

/// Publishes `tags` on `live/{stream}` paced by their timestamps on a thread, as an encoder
/// would, and unpublishes at the end; stops at the first error (e.g. the server went away).
pub fn publish_realtime(addr: SocketAddr, stream: &str, tags: Arc<Vec<SourceTag>>) -> JoinHandle<Published> {
    let stream = stream.to_owned();
    std::thread::spawn(move || {
        let mut sent = 0;
        let result = (|| -> Result<(), ClientError> {
            let mut client = RtmpClient::connect(addr, "live", Duration::from_secs(30))?;
            client.publish(&stream)?;
            let started = Instant::now();
            for tag in tags.iter() {
                let due = started + Duration::from_millis(u64::from(tag.timestamp));
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    client.flush()?;
                    std::thread::sleep(wait);
                }
                client.send_frame(frame_kind(tag.tag_type), tag.timestamp, &tag.body)?;
                client.flush()?;
                sent += 1;
            }
            client.unpublish()
        })();
        Published {
            tags: sent,
            error: result.err().map(|e| e.to_string()),
        }
    })
}

/// Sends every tag at once (no pacing) on an open publishing client.
pub fn send_tags(client: &mut RtmpClient, tags: &[SourceTag]) {
    for tag in tags {
        client
            .send_frame(frame_kind(tag.tag_type), tag.timestamp, &tag.body)
            .unwrap();
    }
    client.flush().unwrap();
}

/// Makes the next close of `socket` abortive: the peer gets a TCP RST, not a FIN.
pub fn set_linger_zero(socket: &TcpStream) {
    rustix::net::sockopt::set_socket_linger(socket, Some(Duration::ZERO)).unwrap();
}

/// The kernel's (send queue, receive queue) in bytes of the IPv4 TCP socket from `local` to
/// `remote`, from /proc/net/tcp.
pub fn tcp_queues(local: SocketAddr, remote: SocketAddr) -> Option<(u64, u64)> {
    let hex = |a: SocketAddr| match a {
        SocketAddr::V4(v4) => format!("{:08X}:{:04X}", u32::from_le_bytes(v4.ip().octets()), v4.port()),
        SocketAddr::V6(_) => String::new(),
    };
    let (want_local, want_remote) = (hex(local), hex(remote));
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1)? != &want_local || fields.get(2)? != &want_remote {
            return None;
        }
        let (tx, rx) = fields.get(4)?.split_once(':')?;
        Some((u64::from_str_radix(tx, 16).ok()?, u64::from_str_radix(rx, 16).ok()?))
    })
}

/// Whether a root-only fault test can run here. `probe` says why not (None: it can). In CI
/// (CI=true, where tests run as root) a missing capability fails the test; elsewhere the
/// test is skipped with a note on stderr.
pub fn capability(test: &str, probe: Option<String>) -> bool {
    let Some(why) = probe else {
        return true;
    };
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!in_ci, "{test} needs root and mounts in CI: {why}");
    eprintln!("SKIPPED {test}: {why} (runs as root in CI)");
    false
}

/// Runs a command, returning its error output on failure.
pub fn run_status(command: &mut std::process::Command) -> Result<(), String> {
    let output = command
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?}: {} {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A file system mounted by a test, unmounted on drop.
pub struct Mount {
    pub path: std::path::PathBuf,
}

impl Mount {
    /// `mount ARGS... PATH` (PATH created if missing).
    pub fn new(args: &[&str], path: &Path) -> Result<Mount, String> {
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        run_status(std::process::Command::new("mount").args(args).arg(path))?;
        Ok(Mount {
            path: path.to_path_buf(),
        })
    }

    /// Unmounts now, retrying while busy (a writer may hold a file for a moment).
    pub fn unmount(mut self) {
        let deadline = Instant::now() + super::DEADLINE;
        loop {
            match run_status(std::process::Command::new("umount").arg(&self.path)) {
                Ok(()) => break,
                Err(e) => assert!(Instant::now() < deadline, "cannot unmount: {e}"),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.path = std::path::PathBuf::new();
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.path.as_os_str().is_empty() {
            return;
        }
        let _ = std::process::Command::new("umount").arg(&self.path).status();
    }
}

/// Waits until the recording at `part` holds `media_bytes` beyond its reserved onMetaData.
pub fn wait_part_grows(part: &Path, media_bytes: u64) {
    let reserved = rtmp_server::flv::metadata::KEYFRAME_INDEX_CAPACITY as u64 * 18;
    super::wait_until("recording grows", super::DEADLINE, || {
        std::fs::metadata(part).map(|m| m.len()).unwrap_or(0) >= reserved + media_bytes
    });
}

/// True for an AVC/AAC sequence header (a tag FFmpeg turns into extradata, not a packet).
pub fn is_sequence_header(tag: &SourceTag) -> bool {
    let codec = tag.body.first().copied().unwrap_or(0);
    let header = tag.body.get(1) == Some(&0);
    match tag.tag_type {
        9 => codec & 0x0F == 7 && header,
        8 => codec >> 4 == 10 && header,
        _ => false,
    }
}

/// How many framemd5 packets `tags` make (audio/video tags that are not sequence headers).
pub fn packet_count(tags: &[SourceTag]) -> usize {
    tags.iter()
        .filter(|t| (t.tag_type == 8 || t.tag_type == 9) && !is_sequence_header(t))
        .count()
}

/// Asserts framemd5 `part` is one contiguous run of `source` that ends where it ends, and
/// returns where it starts.
pub fn assert_contiguous_to_end(what: &str, part: &[String], source: &[String]) -> usize {
    assert!(!part.is_empty(), "{what}: empty");
    let at = source
        .windows(part.len())
        .position(|w| w == part)
        .unwrap_or_else(|| panic!("{what}: not one contiguous part of the source"));
    assert_eq!(at + part.len(), source.len(), "{what}: runs to the end of the source");
    at
}
