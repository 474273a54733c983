//! HLS helpers for integration tests: raw GETs (bodies may be binary), a new viewer's
//! session, a media playlist parsed and checked against RFC 8216 and its low-latency tags,
//! and the check that what an HLS viewer got is a contiguous run of the source's packets.

use super::players::packet;
use std::io::{Read, Write};
use std::net::SocketAddr;

/// One HTTP/1.0 GET: status and body bytes.
pub fn get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let mut socket = std::net::TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(super::DEADLINE)).unwrap();
    socket
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").as_bytes())
        .unwrap();
    let mut response = Vec::new();
    socket.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, response[split + 4..].to_vec())
}

/// The text of a GET that must answer 200.
pub fn get_text(addr: SocketAddr, path: &str) -> String {
    let (status, body) = get(addr, path);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "GET {path}: {text}");
    text
}

/// A new viewer of app/stream (with `query`, e.g. `key=...`): the multivariant playlist's
/// one variant, `index.m3u8?session=ID`, and the session query `session=ID`.
pub fn open_session(addr: SocketAddr, app: &str, stream: &str, query: &str) -> (String, String) {
    let path = format!(
        "/hls/{app}/{stream}/index.m3u8{}{query}",
        if query.is_empty() { "" } else { "?" }
    );
    let text = get_text(addr, &path);
    assert!(text.starts_with("#EXTM3U\n"), "{text}");
    assert!(text.contains("#EXT-X-STREAM-INF:BANDWIDTH="), "{text}");
    let uri = text.lines().last().unwrap().to_owned();
    let session = uri.split_once('?').unwrap().1.to_owned();
    assert!(session.starts_with("session="), "{uri}");
    (uri, session)
}

/// A media playlist, parsed.
#[derive(Debug, Default)]
pub struct Playlist {
    pub version: u32,
    pub target: u64,
    pub media_sequence: u64,
    pub part_target: f64,
    pub part_hold_back: f64,
    pub can_block: bool,
    pub independent_segments: bool,
    pub map: Option<String>,
    /// (duration, URI) of each finished segment.
    pub segments: Vec<(f64, String)>,
    /// (duration, URI) of each listed part.
    pub parts: Vec<(f64, String)>,
    pub preload_hint: Option<String>,
    pub ended: bool,
}

fn attribute(line: &str, name: &str) -> Option<String> {
    let at = line.find(&format!("{name}="))? + name.len() + 1;
    let rest = &line[at..];
    if let Some(quoted) = rest.strip_prefix('"') {
        return Some(quoted[..quoted.find('"')?].to_owned());
    }
    Some(rest.split(',').next()?.to_owned())
}

impl Playlist {
    pub fn parse(text: &str) -> Playlist {
        let mut p = Playlist::default();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("#EXTM3U"), "{text}");
        let mut pending: Option<f64> = None;
        for line in lines {
            if let Some(v) = line.strip_prefix("#EXT-X-VERSION:") {
                p.version = v.parse().unwrap();
            } else if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
                p.target = v.parse().unwrap();
            } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
                p.media_sequence = v.parse().unwrap();
            } else if line.starts_with("#EXT-X-PART-INF:") {
                p.part_target = attribute(line, "PART-TARGET").unwrap().parse().unwrap();
            } else if line.starts_with("#EXT-X-SERVER-CONTROL:") {
                p.can_block = attribute(line, "CAN-BLOCK-RELOAD").as_deref() == Some("YES");
                p.part_hold_back = attribute(line, "PART-HOLD-BACK").unwrap().parse().unwrap();
            } else if line == "#EXT-X-INDEPENDENT-SEGMENTS" {
                p.independent_segments = true;
            } else if line.starts_with("#EXT-X-MAP:") {
                p.map = attribute(line, "URI");
            } else if line.starts_with("#EXT-X-PART:") {
                let duration = attribute(line, "DURATION").unwrap().parse().unwrap();
                p.parts.push((duration, attribute(line, "URI").unwrap()));
            } else if line.starts_with("#EXT-X-PRELOAD-HINT:") {
                assert_eq!(attribute(line, "TYPE").as_deref(), Some("PART"), "{line}");
                p.preload_hint = attribute(line, "URI");
            } else if let Some(v) = line.strip_prefix("#EXTINF:") {
                pending = Some(v.trim_end_matches(',').parse().unwrap());
            } else if line == "#EXT-X-ENDLIST" {
                p.ended = true;
            } else if !line.starts_with('#') && !line.is_empty() {
                let duration = pending.take().unwrap_or_else(|| panic!("URI without EXTINF: {line}"));
                p.segments.push((duration, line.to_owned()));
            }
        }
        p
    }

    /// The rules of RFC 8216 (2nd edition) a low-latency media playlist must follow here.
    pub fn validate(&self, session: &str) {
        assert!(self.version >= 6, "EXT-X-MAP needs version 6: {self:?}");
        assert!(self.target >= 1);
        for (duration, uri) in &self.segments {
            assert!(
                duration.round() as u64 <= self.target,
                "{uri} lasts {duration}s, over the target duration {}",
                self.target
            );
        }
        assert!(self.part_target > 0.0, "EXT-X-PART-INF: {self:?}");
        for (duration, uri) in &self.parts {
            assert!(
                *duration <= self.part_target + 1e-9,
                "{uri} lasts {duration}s, over PART-TARGET {}",
                self.part_target
            );
        }
        assert!(self.can_block, "CAN-BLOCK-RELOAD=YES");
        assert!(self.part_hold_back >= 2.0 * self.part_target, "PART-HOLD-BACK {self:?}");
        assert!(self.independent_segments);
        assert!(self.map.as_deref().is_some_and(|m| m.starts_with("init")), "{self:?}");
        let uris = self.segments.iter().chain(&self.parts).map(|(_, u)| u);
        for uri in uris.chain(self.map.iter()).chain(self.preload_hint.iter()) {
            assert!(uri.ends_with(&format!("?{session}")), "{uri} carries the session");
        }
        assert!(
            self.ended || self.preload_hint.is_some(),
            "a live playlist hints its next part"
        );
    }

    /// The (segment, part) a part URI names.
    pub fn part_position(uri: &str) -> (u64, u64) {
        let name = uri.split('?').next().unwrap();
        let (msn, part) = name
            .strip_prefix("part")
            .and_then(|n| n.strip_suffix(".m4s"))
            .and_then(|n| n.split_once('.'))
            .unwrap_or_else(|| panic!("not a part: {uri}"));
        (msn.parse().unwrap(), part.parse().unwrap())
    }

    /// Whether the part (msn, part) is listed.
    pub fn lists_part(&self, msn: u64, part: u64) -> bool {
        self.parts
            .iter()
            .any(|(_, uri)| Self::part_position(uri) == (msn, part))
    }

    /// The number of the last finished segment.
    pub fn last_segment(&self) -> Option<u64> {
        self.segments.last().map(|(_, uri)| {
            uri.split('?').next().unwrap()["seg".len()..]
                .trim_end_matches(".m4s")
                .parse()
                .unwrap()
        })
    }
}

/// `stream,hash` of each keyframe packet of `clip` (`source`: its framemd5 lines, in the
/// same demuxing order as ffprobe's packets).
pub fn keyframe_hashes(clip: &std::path::Path, source: &[String]) -> Vec<String> {
    let output = super::run_ok(
        std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "packet=stream_index,flags",
                "-of",
                "csv=p=0",
            ])
            .arg(clip),
    );
    let flags: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(flags.len(), source.len(), "ffprobe and framemd5 see the same packets");
    flags
        .iter()
        .zip(source)
        .filter(|(f, _)| f.split(',').nth(1).is_some_and(|flags| flags.starts_with('K')))
        .map(|(_, line)| {
            let p = packet(line);
            format!("{},{}", p.0, p.3)
        })
        .collect()
}

/// Asserts each of the viewer's streams is a contiguous run of one of the source's streams
/// (same packets, one constant time shift), to its end, the video's starting at a keyframe
/// (`keyframes`: `keyframe_hashes` of the source).
pub fn assert_contiguous_run(name: &str, source: &[String], player: &[String], keyframes: &[String]) {
    assert!(player.len() > 10, "{name} received {} packets", player.len());
    let by_stream = |lines: &[String]| {
        let mut streams: std::collections::BTreeMap<String, Vec<(String, i64, String, String)>> = Default::default();
        for line in lines {
            let p = packet(line);
            streams.entry(p.0.clone()).or_default().push(p);
        }
        streams
    };
    let (source, player) = (by_stream(source), by_stream(player));
    assert_eq!(player.len(), source.len(), "{name}: every stream");
    for (index, got) in &player {
        let first = &got[0];
        let (source_index, want) = source
            .iter()
            .find_map(|(i, packets)| {
                let start = packets.iter().position(|p| (&p.2, &p.3) == (&first.2, &first.3))?;
                Some((i, &packets[start..]))
            })
            .unwrap_or_else(|| panic!("{name}: stream {index}'s first packet is not in the source"));
        assert_eq!(got.len(), want.len(), "{name}: stream {index} runs to the source's end");
        let shift = want[0].1 - first.1;
        for (g, w) in got.iter().zip(want) {
            assert_eq!((&g.2, &g.3), (&w.2, &w.3), "{name}: stream {index} packet differs");
            assert_eq!(w.1 - g.1, shift, "{name}: timestamps not shifted by one constant");
        }
        // Audio packets are all keyframes; for video this says the run starts at one.
        if keyframes.iter().any(|k| k.starts_with(&format!("{source_index},"))) {
            assert!(
                keyframes.contains(&format!("{source_index},{}", first.3)),
                "{name}: the video starts at a keyframe"
            );
        }
    }
}
