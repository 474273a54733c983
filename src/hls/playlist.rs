//! Playlist text (RFC 8216 and its 2nd edition's low-latency tags), pure: the media playlist
//! of a stream's segments and parts, and the multivariant playlist a new viewer gets, which
//! points at the media playlist with the viewer's session. Every URI carries `query` (the
//! session), so reloads, segments and parts are not decided again.
//!
//! Names beside the playlist: `init{K}.mp4` (init segment K: a new one when the codec
//! parameters change, after an `EXT-X-DISCONTINUITY`), `seg{MSN}.m4s` (a finished segment),
//! `part{MSN}.{N}.m4s` (part N of segment MSN).

use std::fmt::Write;

/// Version 6: `EXT-X-MAP` in a playlist without `EXT-X-I-FRAMES-ONLY`.
pub const VERSION: u32 = 6;

/// One part as listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartInfo {
    pub duration_ms: u64,
    pub independent: bool,
}

/// One segment as listed: finished, or the open one (listed by its parts only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    pub msn: u64,
    pub duration_ms: u64,
    pub complete: bool,
    pub parts: Vec<PartInfo>,
    /// Its init segment's number.
    pub init: u64,
    /// It follows a new init segment.
    pub discontinuity: bool,
    /// Discontinuities up to and including it.
    pub discontinuity_sequence: u64,
}

/// What a media playlist is written from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPlaylist<'a> {
    pub segment_target_ms: u64,
    pub part_target_ms: u64,
    pub segments: &'a [SegmentInfo],
    pub ended: bool,
    /// The part that comes next (segment, index), for `EXT-X-PRELOAD-HINT`.
    pub next_part: (u64, u64),
    /// The latest init segment (for a playlist without segments).
    pub latest_init: u64,
    /// Appended to every URI (`session=ID`), without the `?`.
    pub query: &'a str,
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The target duration in whole seconds: at least the segment target, and at least every
/// listed segment's duration rounded up.
pub fn target_duration(segment_target_ms: u64, segments: &[SegmentInfo]) -> u64 {
    let longest = segments
        .iter()
        .filter(|s| s.complete)
        .map(|s| s.duration_ms)
        .max()
        .unwrap_or(0);
    segment_target_ms.max(longest).div_ceil(1000).max(1)
}

impl MediaPlaylist<'_> {
    fn uri(&self, name: &str) -> String {
        if self.query.is_empty() {
            name.to_owned()
        } else {
            format!("{name}?{}", self.query)
        }
    }

    /// The playlist text.
    pub fn write(&self) -> String {
        let target = target_duration(self.segment_target_ms, self.segments);
        let part_target = self.part_target_ms.max(1);
        let mut text = String::with_capacity(2048);
        let _ = writeln!(text, "#EXTM3U");
        let _ = writeln!(text, "#EXT-X-VERSION:{VERSION}");
        let _ = writeln!(text, "#EXT-X-TARGETDURATION:{target}");
        let _ = writeln!(
            text,
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={}",
            seconds(part_target * 3)
        );
        let _ = writeln!(text, "#EXT-X-PART-INF:PART-TARGET={}", seconds(part_target));
        let first = self.segments.first();
        let _ = writeln!(
            text,
            "#EXT-X-MEDIA-SEQUENCE:{}",
            first.map_or(self.next_part.0, |s| s.msn)
        );
        let discontinuity_sequence = first.map_or(0, |s| s.discontinuity_sequence);
        if discontinuity_sequence > 0 {
            let _ = writeln!(text, "#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}");
        }
        let _ = writeln!(text, "#EXT-X-INDEPENDENT-SEGMENTS");
        let mut init = first.map_or(self.latest_init, |s| s.init);
        let _ = writeln!(text, "#EXT-X-MAP:URI=\"{}\"", self.uri(&format!("init{init}.mp4")));
        // Parts are listed for the segments within three target durations of the end.
        let mut from_end = 0u64;
        let mut with_parts = vec![false; self.segments.len()];
        for (i, segment) in self.segments.iter().enumerate().rev() {
            if from_end < target * 3000 {
                if let Some(flag) = with_parts.get_mut(i) {
                    *flag = true;
                }
            }
            from_end += segment.duration_ms;
        }
        for (segment, parts) in self.segments.iter().zip(with_parts) {
            if segment.discontinuity && Some(segment) != first {
                let _ = writeln!(text, "#EXT-X-DISCONTINUITY");
            }
            if segment.init != init {
                init = segment.init;
                let _ = writeln!(text, "#EXT-X-MAP:URI=\"{}\"", self.uri(&format!("init{init}.mp4")));
            }
            if parts {
                for (n, part) in segment.parts.iter().enumerate() {
                    let independent = if part.independent { ",INDEPENDENT=YES" } else { "" };
                    let name = self.uri(&format!("part{}.{n}.m4s", segment.msn));
                    let _ = writeln!(
                        text,
                        "#EXT-X-PART:DURATION={},URI=\"{name}\"{independent}",
                        seconds(part.duration_ms)
                    );
                }
            }
            if segment.complete {
                let _ = writeln!(text, "#EXTINF:{},", seconds(segment.duration_ms));
                let _ = writeln!(text, "{}", self.uri(&format!("seg{}.m4s", segment.msn)));
            }
        }
        if self.ended {
            let _ = writeln!(text, "#EXT-X-ENDLIST");
        } else {
            let (msn, part) = self.next_part;
            let name = self.uri(&format!("part{msn}.{part}.m4s"));
            let _ = writeln!(text, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{name}\"");
        }
        text
    }
}

/// The playlist a new viewer gets: one variant, the media playlist with its session.
pub fn multivariant(media_uri: &str, bandwidth: u64) -> String {
    format!(
        "#EXTM3U\n#EXT-X-VERSION:{VERSION}\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH={}\n{media_uri}\n",
        bandwidth.max(1)
    )
}

/// A request's `_HLS_msn`/`_HLS_part` (blocking reload): `Ok(None)` without them.
pub fn blocking_request(query: &str) -> Result<Option<(u64, Option<u64>)>, &'static str> {
    let mut msn = None;
    let mut part = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "_HLS_msn" => msn = Some(value.parse::<u64>().map_err(|_| "bad _HLS_msn")?),
            "_HLS_part" => part = Some(value.parse::<u64>().map_err(|_| "bad _HLS_part")?),
            _ => {}
        }
    }
    match (msn, part) {
        (None, Some(_)) => Err("_HLS_part without _HLS_msn"),
        (None, None) => Ok(None),
        (Some(msn), part) => Ok(Some((msn, part))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(duration_ms: u64, independent: bool) -> PartInfo {
        PartInfo {
            duration_ms,
            independent,
        }
    }

    #[test]
    fn a_live_media_playlist_has_every_low_latency_tag() {
        let segments = [
            SegmentInfo {
                msn: 7,
                duration_ms: 2100,
                complete: true,
                parts: vec![part(500, true), part(500, false), part(500, false), part(600, false)],
                init: 0,
                discontinuity: false,
                discontinuity_sequence: 0,
            },
            SegmentInfo {
                msn: 8,
                duration_ms: 1000,
                complete: false,
                parts: vec![part(500, true), part(500, false)],
                init: 0,
                discontinuity: false,
                discontinuity_sequence: 0,
            },
        ];
        let text = MediaPlaylist {
            segment_target_ms: 2000,
            part_target_ms: 600,
            segments: &segments,
            ended: false,
            next_part: (8, 2),
            latest_init: 0,
            query: "session=abc",
        }
        .write();
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:3\n\
             #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.800\n\
             #EXT-X-PART-INF:PART-TARGET=0.600\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-MAP:URI=\"init0.mp4?session=abc\"\n\
             #EXT-X-PART:DURATION=0.500,URI=\"part7.0.m4s?session=abc\",INDEPENDENT=YES\n\
             #EXT-X-PART:DURATION=0.500,URI=\"part7.1.m4s?session=abc\"\n\
             #EXT-X-PART:DURATION=0.500,URI=\"part7.2.m4s?session=abc\"\n\
             #EXT-X-PART:DURATION=0.600,URI=\"part7.3.m4s?session=abc\"\n\
             #EXTINF:2.100,\nseg7.m4s?session=abc\n\
             #EXT-X-PART:DURATION=0.500,URI=\"part8.0.m4s?session=abc\",INDEPENDENT=YES\n\
             #EXT-X-PART:DURATION=0.500,URI=\"part8.1.m4s?session=abc\"\n\
             #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part8.2.m4s?session=abc\"\n"
        );
    }

    #[test]
    fn old_segments_lose_their_parts_and_an_ended_stream_its_hint() {
        let segments: Vec<SegmentInfo> = (0..5)
            .map(|msn| SegmentInfo {
                msn,
                duration_ms: 2000,
                complete: true,
                parts: vec![part(1000, true), part(1000, false)],
                init: 0,
                discontinuity: false,
                discontinuity_sequence: 0,
            })
            .collect();
        let text = MediaPlaylist {
            segment_target_ms: 2000,
            part_target_ms: 1000,
            segments: &segments,
            ended: true,
            next_part: (5, 0),
            latest_init: 0,
            query: "",
        }
        .write();
        assert!(!text.contains("part1.0.m4s"), "{text}");
        assert!(text.contains("#EXT-X-PART:DURATION=1.000,URI=\"part2.0.m4s\",INDEPENDENT=YES\n"));
        assert!(text.contains("#EXTINF:2.000,\nseg0.m4s\n"));
        assert!(text.ends_with("seg4.m4s\n#EXT-X-ENDLIST\n"), "{text}");
        assert!(!text.contains("PRELOAD-HINT"));
    }

    #[test]
    fn a_new_init_segment_follows_a_discontinuity() {
        let segment = |msn: u64, init: u64, discontinuity: bool, discontinuity_sequence: u64| SegmentInfo {
            msn,
            duration_ms: 1000,
            complete: true,
            parts: vec![],
            init,
            discontinuity,
            discontinuity_sequence,
        };
        let segments = [segment(3, 1, true, 1), segment(4, 1, false, 1), segment(5, 2, true, 2)];
        let text = MediaPlaylist {
            segment_target_ms: 1000,
            part_target_ms: 500,
            segments: &segments,
            ended: true,
            next_part: (6, 0),
            latest_init: 2,
            query: "",
        }
        .write();
        assert!(
            text.contains(
                "#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-INDEPENDENT-SEGMENTS\n\
                 #EXT-X-MAP:URI=\"init1.mp4\"\n#EXTINF:1.000,\nseg3.m4s\n#EXTINF:1.000,\nseg4.m4s\n\
                 #EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init2.mp4\"\n#EXTINF:1.000,\nseg5.m4s\n#EXT-X-ENDLIST\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_multivariant_playlist_points_at_the_session() {
        assert_eq!(
            multivariant("index.m3u8?session=x", 0),
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=1\nindex.m3u8?session=x\n"
        );
    }

    #[test]
    fn blocking_parameters_are_parsed() {
        assert_eq!(blocking_request("session=a"), Ok(None));
        assert_eq!(
            blocking_request("session=a&_HLS_msn=4&_HLS_part=2"),
            Ok(Some((4, Some(2))))
        );
        assert_eq!(blocking_request("_HLS_msn=4"), Ok(Some((4, None))));
        assert!(blocking_request("_HLS_part=1").is_err());
        assert!(blocking_request("_HLS_msn=x").is_err());
    }
}
