//! One bench HTTP-FLV viewer: `GET /live/APP/STREAM.flv` on the server's HTTP listener
//! (retried while the stream is not published yet), reads the FLV stream to its end (the
//! server closes it when the publisher leaves), counts what arrives, measures the latency
//! of stamped video frames and notes gaps in the video timestamps (frames the server
//! dropped for a slow viewer).

use super::media::read_stamp;
use super::player::Played;
use super::Clock;
use crate::flv::reader::{parse_header, parse_tag};
use crate::flv::TAG_VIDEO;
use crate::media::codec::inspect_video;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A jump in video timestamps larger than this is a gap (frames dropped).
pub const GAP_MS: u32 = 300;
/// Wait between tries while the stream is not published yet.
const RETRY: Duration = Duration::from_millis(50);
/// Bytes read at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Largest answer head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// Where one HTTP viewer watches, and the latest time it may keep reading.
#[derive(Debug, Clone)]
pub struct ViewPlan {
    pub http: SocketAddr,
    pub app: String,
    pub stream: String,
    pub timeout: Duration,
    /// Joining is given up after this.
    pub join_by: Instant,
    pub deadline: Instant,
}

/// Sends a GET and reads the answer's head; returns (status, the socket, body bytes read
/// with the head).
pub fn get(http: SocketAddr, target: &str, timeout: Duration) -> Result<(u16, TcpStream, Vec<u8>), String> {
    let mut socket = TcpStream::connect_timeout(&http, timeout).map_err(|e| format!("connect: {e}"))?;
    socket.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let _ = socket.set_nodelay(true);
    let request = format!("GET {target} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).map_err(|e| format!("send: {e}"))?;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(buffer.get(..end).unwrap_or_default()).into_owned();
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("bad answer head {head:?}"))?;
            let body = buffer.get(end + 4..).unwrap_or_default().to_vec();
            return Ok((status, socket, body));
        }
        if buffer.len() > MAX_HEAD {
            return Err("answer head too long".to_owned());
        }
        let n = socket.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed before the answer".to_owned());
        }
        buffer.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// Joins (retrying on 404 until `join_by`) and reads to the end of the stream.
pub fn view(plan: &ViewPlan, clock: &Clock) -> Played {
    let target = format!("/live/{}/{}.flv", plan.app, plan.stream);
    let (mut socket, mut buffer) = loop {
        match get(plan.http, &target, plan.timeout) {
            Ok((200, socket, body)) => break (socket, body),
            Ok((404, _, _)) if Instant::now() < plan.join_by => std::thread::sleep(RETRY),
            Ok((status, _, _)) => return failed(format!("HTTP-FLV: status {status}")),
            Err(e) => return failed(format!("HTTP-FLV: {e}")),
        }
    };
    let mut played = Played::default();
    let mut header_read = false;
    let mut seen_keyframe = false;
    let mut last_video: Option<u32> = None;
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut pos = 0usize;
    loop {
        if !header_read {
            match parse_header(buffer.get(pos..).unwrap_or_default()) {
                Ok(Some(header)) => {
                    pos += header.data_offset;
                    header_read = true;
                    continue;
                }
                Ok(None) => {}
                Err(e) => return failed(format!("HTTP-FLV: {e}")),
            }
        } else {
            match parse_tag(buffer.get(pos..).unwrap_or_default()) {
                Ok(Some((tag, used))) => {
                    let received = clock.nanos();
                    pos += used;
                    played.frames += 1;
                    played.bytes += tag.body.len() as u64;
                    if tag.tag_type != TAG_VIDEO {
                        continue;
                    }
                    let info = inspect_video(tag.body);
                    if info.sequence_header {
                        continue;
                    }
                    seen_keyframe |= info.keyframe;
                    if seen_keyframe {
                        played.video_frames += 1;
                        if last_video.is_some_and(|last| tag.timestamp.saturating_sub(last) > GAP_MS) {
                            played.gaps += 1;
                        }
                        last_video = Some(tag.timestamp);
                    }
                    if let Some(sent) = read_stamp(tag.body) {
                        played.latencies.push(received.saturating_sub(sent));
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => return failed(format!("HTTP-FLV: {e}")),
            }
        }
        if Instant::now() >= plan.deadline {
            played.error = Some("deadline passed before the end of the stream".to_owned());
            return played;
        }
        buffer.drain(..pos.min(buffer.len()));
        pos = 0;
        match socket.read(&mut chunk) {
            Ok(0) => {
                played.saw_unpublish = true;
                return played;
            }
            Ok(n) => buffer.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) => {
                played.error = Some(format!("HTTP-FLV read: {e}"));
                return played;
            }
        }
    }
}

fn failed(error: String) -> Played {
    Played {
        error: Some(error),
        ..Played::default()
    }
}
