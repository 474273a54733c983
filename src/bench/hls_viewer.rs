//! One bench LL-HLS viewer, as a low-latency player reads: the multivariant playlist
//! (retried while the stream is not published yet) gives the session's media playlist; the
//! init segment, then every part in order from the newest independent one, each next part
//! waited for with a blocking playlist reload (`_HLS_msn`/`_HLS_part` of the preload hint),
//! until `EXT-X-ENDLIST` or the playlist is gone. A part that left the playlist before it
//! was read is a gap. Part latency: the part's arrival less the send stamp of its last video
//! sample (publish to part available, download included).

use super::http_client::HttpClient;
use super::http_flv_viewer::ViewPlan;
use super::media::read_sample_stamp;
use super::player::Played;
use super::Clock;
use crate::mp4::boxes::header;
use crate::mp4::reader::{moof_samples, read_moov, MovieInfo};
use std::time::{Duration, Instant};

/// Wait between tries while the stream is not published yet.
const RETRY: Duration = Duration::from_millis(50);
/// Blocking reloads answered 503 (the part did not come in time) in a row before giving up.
const MAX_503: u32 = 10;

/// A part listed in a media playlist: (segment, index) and its URI.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    msn: u64,
    index: u64,
    uri: String,
}

/// What a media playlist lists.
#[derive(Debug, Default, PartialEq, Eq)]
struct Listing {
    map: Option<String>,
    parts: Vec<(Part, bool)>,
    hint: Option<(u64, u64)>,
    ended: bool,
}

fn quoted_uri(line: &str) -> Option<String> {
    let start = line.find("URI=\"")? + 5;
    let end = line.get(start..)?.find('"')? + start;
    line.get(start..end).map(str::to_owned)
}

/// `part{MSN}.{N}.m4s...` → (MSN, N).
fn part_numbers(uri: &str) -> Option<(u64, u64)> {
    let name = uri.split('?').next()?.rsplit('/').next()?;
    let (msn, index) = name.strip_prefix("part")?.strip_suffix(".m4s")?.split_once('.')?;
    Some((msn.parse().ok()?, index.parse().ok()?))
}

fn parse_playlist(text: &str) -> Listing {
    let mut listing = Listing::default();
    for line in text.lines() {
        if line.starts_with("#EXT-X-MAP:") {
            listing.map = quoted_uri(line);
        } else if line.starts_with("#EXT-X-PART:") {
            if let Some(uri) = quoted_uri(line) {
                if let Some((msn, index)) = part_numbers(&uri) {
                    listing
                        .parts
                        .push((Part { msn, index, uri }, line.contains("INDEPENDENT=YES")));
                }
            }
        } else if line.starts_with("#EXT-X-PRELOAD-HINT:") {
            listing.hint = quoted_uri(line).as_deref().and_then(part_numbers);
        } else if line.starts_with("#EXT-X-ENDLIST") {
            listing.ended = true;
        }
    }
    listing
}

struct Viewer<'a> {
    client: HttpClient,
    base: String,
    session_query: String,
    movie: MovieInfo,
    played: Played,
    clock: &'a Clock,
    /// The last part read.
    last: Option<(u64, u64)>,
}

impl Viewer<'_> {
    fn fetch(&mut self, name: &str) -> Result<Vec<u8>, String> {
        match self.client.get(&format!("{}{name}", self.base))? {
            (200, body) => Ok(body),
            (status, _) => Err(format!("{name}: status {status}")),
        }
    }

    /// Reads one part: counts its samples and measures its latency.
    fn read_part(&mut self, part: &Part) -> Result<(), String> {
        let bytes = self.fetch(&part.uri)?;
        let received = self.clock.nanos();
        self.played.bytes += bytes.len() as u64;
        let mut pos = 0usize;
        let mut last_stamp = None;
        while let Some(h) = bytes.get(pos..).and_then(|rest| header(rest, rest.len() as u64)) {
            let (Ok(start), Ok(size)) = (usize::try_from(h.header_len), usize::try_from(h.size)) else {
                break;
            };
            if &h.kind == b"moof" {
                let body = bytes.get(pos + start..pos + size).unwrap_or_default();
                for sample in moof_samples(body, pos, &self.movie) {
                    self.played.frames += 1;
                    let video = self.movie.tracks.iter().any(|t| t.id == sample.track && t.video);
                    if video {
                        self.played.video_frames += 1;
                        let data = bytes
                            .get(sample.offset..sample.offset + sample.size)
                            .unwrap_or_default();
                        last_stamp = read_sample_stamp(data).or(last_stamp);
                    }
                }
            }
            pos += size;
        }
        if let Some(sent) = last_stamp {
            self.played.latencies.push(received.saturating_sub(sent));
        }
        self.last = Some((part.msn, part.index));
        Ok(())
    }

    /// Reads every listed part after the last one read; notes a gap when the next one left.
    fn read_new_parts(&mut self, listing: &Listing) -> Result<(), String> {
        let start = match self.last {
            Some(last) => listing.parts.iter().position(|(p, _)| (p.msn, p.index) > last),
            // The first time: from the newest independent part.
            None => listing.parts.iter().rposition(|(_, independent)| *independent),
        };
        let Some(start) = start else { return Ok(()) };
        let parts: Vec<Part> = listing.parts.iter().skip(start).map(|(p, _)| p.clone()).collect();
        if let (Some((msn, index)), Some(first)) = (self.last, parts.first()) {
            let next_in_segment = first.msn == msn && first.index == index + 1;
            let next_segment = first.msn == msn + 1 && first.index == 0;
            if !next_in_segment && !next_segment {
                self.played.gaps += 1;
            }
        }
        for part in &parts {
            self.read_part(part)?;
        }
        Ok(())
    }
}

/// Joins (retrying on 404 until `join_by`) and reads parts to the end of the stream.
pub fn view(plan: &ViewPlan, clock: &Clock) -> Played {
    let base = format!("/hls/{}/{}/", plan.app, plan.stream);
    let mut client = HttpClient::new(plan.http, plan.timeout);
    let media_uri = loop {
        match client.get(&format!("{base}index.m3u8")) {
            Ok((200, body)) => {
                let text = String::from_utf8_lossy(&body).into_owned();
                match text.lines().find(|l| !l.starts_with('#') && !l.trim().is_empty()) {
                    Some(uri) => break uri.trim().to_owned(),
                    None => return failed("HLS: no media playlist in the multivariant one".to_owned()),
                }
            }
            Ok((404, _)) if Instant::now() < plan.join_by => std::thread::sleep(RETRY),
            Ok((status, _)) => return failed(format!("HLS: status {status}")),
            Err(e) => return failed(format!("HLS: {e}")),
        }
    };
    let session_query = media_uri.split_once('?').map_or("", |(_, q)| q).to_owned();
    let mut viewer = Viewer {
        client,
        base,
        session_query,
        movie: MovieInfo::default(),
        played: Played::default(),
        clock,
        last: None,
    };
    match run(&mut viewer, &media_uri, plan) {
        Ok(()) => viewer.played.saw_unpublish = true,
        Err(e) => viewer.played.error = Some(format!("HLS: {e}")),
    }
    viewer.played
}

fn run(viewer: &mut Viewer<'_>, media_uri: &str, plan: &ViewPlan) -> Result<(), String> {
    let mut listing = parse_playlist(&String::from_utf8_lossy(&viewer.fetch(media_uri)?));
    let map = listing.map.clone().ok_or("no EXT-X-MAP")?;
    let init = viewer.fetch(&map)?;
    let moov = header(&init, init.len() as u64)
        .and_then(|ftyp| init.get(usize::try_from(ftyp.size).ok()?..))
        .and_then(|rest| Some((rest, header(rest, rest.len() as u64)?)))
        .filter(|(_, h)| &h.kind == b"moov")
        .and_then(|(rest, h)| rest.get(8..usize::try_from(h.size).ok()?))
        .ok_or("the init segment has no moov")?;
    viewer.movie = read_moov(moov);
    let mut unavailable = 0;
    loop {
        viewer.read_new_parts(&listing)?;
        if listing.ended {
            return Ok(());
        }
        if Instant::now() >= plan.deadline {
            return Err("deadline passed before the end of the stream".to_owned());
        }
        let Some((msn, part)) = listing.hint else {
            return Err("a live playlist without EXT-X-PRELOAD-HINT".to_owned());
        };
        let reload = format!("index.m3u8?{}&_HLS_msn={msn}&_HLS_part={part}", viewer.session_query);
        match viewer.client.get(&format!("{}{reload}", viewer.base))? {
            (200, body) => {
                unavailable = 0;
                listing = parse_playlist(&String::from_utf8_lossy(&body));
            }
            // The stream ended and its playlist went away (or the session with it).
            (404 | 403, _) => return Ok(()),
            (503, _) if unavailable < MAX_503 => unavailable += 1,
            (status, _) => return Err(format!("playlist reload: status {status}")),
        }
    }
}

fn failed(error: String) -> Played {
    Played {
        error: Some(error),
        ..Played::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_list_parts_the_hint_and_the_end() {
        let text = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4?session=ab\"\n\
            #EXT-X-PART:DURATION=0.500,URI=\"part7.0.m4s?session=ab\",INDEPENDENT=YES\n\
            #EXT-X-PART:DURATION=0.500,URI=\"part7.1.m4s?session=ab\"\n#EXTINF:1.000,\nseg7.m4s?session=ab\n\
            #EXT-X-PART:DURATION=0.500,URI=\"part8.0.m4s?session=ab\",INDEPENDENT=YES\n\
            #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part8.1.m4s?session=ab\"\n";
        let listing = parse_playlist(text);
        assert_eq!(listing.map.as_deref(), Some("init.mp4?session=ab"));
        let parts: Vec<_> = listing.parts.iter().map(|(p, i)| (p.msn, p.index, *i)).collect();
        assert_eq!(parts, [(7, 0, true), (7, 1, false), (8, 0, true)]);
        assert_eq!(listing.hint, Some((8, 1)));
        assert!(!listing.ended);
        assert!(parse_playlist("#EXTM3U\n#EXT-X-ENDLIST\n").ended);
        assert_eq!(part_numbers("/hls/a/b/part12.3.m4s?x=1"), Some((12, 3)));
        assert_eq!(part_numbers("seg12.m4s"), None);
    }
}
