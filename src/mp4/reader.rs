//! Reads a fragmented MP4 held in memory (FFmpeg's `-movflags
//! frag_keyframe+empty_moov+default_base_moof`, or this server's recordings): each track's
//! handler, sample entry type, configuration box and timescale, and every sample's decode
//! time, composition offset, duration, sync flag and bytes, in file order.

use super::boxes::{be32, be64, child, children, header};

/// A track's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadTrack {
    pub id: u32,
    pub video: bool,
    /// The sample entry type (`avc1`, `hvc1`, `hev1`, `av01`, `vp09`, `Opus`, `mp4a`...).
    pub entry: [u8; 4],
    /// The body of the entry's configuration box (`avcC`, `hvcC`, `av1C`, `vpcC`, `dOps`,
    /// `esds`), empty when it has none.
    pub config: Vec<u8>,
    pub timescale: u32,
}

/// One sample, times in its track's timescale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadSample {
    pub track: u32,
    pub dts: u64,
    pub cts: i32,
    pub duration: u32,
    pub sync: bool,
    pub offset: usize,
    pub size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mp4ReadError {
    /// No `moov` box.
    NoMoov,
    /// A sample points outside the file.
    BadSample,
}

impl std::fmt::Display for Mp4ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mp4ReadError::NoMoov => write!(f, "not an MP4 file (no moov box)"),
            Mp4ReadError::BadSample => write!(f, "a sample lies outside the file"),
        }
    }
}

impl std::error::Error for Mp4ReadError {}

/// Sample entry header lengths before their child boxes (visual and audio).
const VISUAL_ENTRY_LEN: usize = 78;
const AUDIO_ENTRY_LEN: usize = 28;

fn track(trak: &[u8]) -> Option<ReadTrack> {
    let id = be32(child(trak, b"tkhd")?, 12)?;
    let mdia = child(trak, b"mdia")?;
    let mdhd = child(mdia, b"mdhd")?;
    let timescale = if mdhd.first() == Some(&1) {
        be32(mdhd, 20)?
    } else {
        be32(mdhd, 12)?
    };
    let video = child(mdia, b"hdlr")?.get(8..12)? == b"vide";
    let stsd = child(child(child(mdia, b"minf")?, b"stbl")?, b"stsd")?;
    let (entry, body) = children(stsd.get(8..)?).into_iter().next()?;
    let skip = if video { VISUAL_ENTRY_LEN } else { AUDIO_ENTRY_LEN };
    let config = children(body.get(skip..).unwrap_or_default())
        .into_iter()
        .find(|(k, _)| matches!(k, b"avcC" | b"hvcC" | b"av1C" | b"vpcC" | b"dOps" | b"esds"))
        .map(|(_, b)| b.to_vec())
        .unwrap_or_default();
    Some(ReadTrack {
        id,
        video,
        entry,
        config,
        timescale,
    })
}

/// Defaults of `trex` per track: (duration, size, flags).
fn trex_defaults(moov: &[u8]) -> Vec<(u32, [u32; 3])> {
    let Some(mvex) = child(moov, b"mvex") else {
        return Vec::new();
    };
    children(mvex)
        .into_iter()
        .filter(|(k, _)| k == b"trex")
        .filter_map(|(_, b)| Some((be32(b, 4)?, [be32(b, 12)?, be32(b, 16)?, be32(b, 20)?])))
        .collect()
}

/// What a `moov` tells about reading fragments: its tracks and the `trex` defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MovieInfo {
    pub tracks: Vec<ReadTrack>,
    defaults: Vec<(u32, [u32; 3])>,
}

/// Reads a `moov` box body.
pub fn read_moov(moov: &[u8]) -> MovieInfo {
    MovieInfo {
        tracks: children(moov)
            .into_iter()
            .filter(|(k, _)| k == b"trak")
            .filter_map(|(_, t)| track(t))
            .collect(),
        defaults: trex_defaults(moov),
    }
}

/// The samples one `moof` body describes (offsets counted from `moof_at`, the box's start).
pub fn moof_samples(moof: &[u8], moof_at: usize, movie: &MovieInfo) -> Vec<ReadSample> {
    let mut samples = Vec::new();
    read_moof(moof, moof_at, &movie.defaults, &mut samples);
    samples
}

/// The tracks and samples of a fragmented MP4.
pub fn read_fragmented(file: &[u8]) -> Result<(Vec<ReadTrack>, Vec<ReadSample>), Mp4ReadError> {
    let mut tracks = Vec::new();
    let mut defaults = Vec::new();
    let mut samples = Vec::new();
    let mut pos = 0usize;
    while let Some(h) = file.get(pos..).and_then(|rest| header(rest, rest.len() as u64)) {
        let (start, end) = (pos + h.header_len as usize, pos + h.size as usize);
        let body = file.get(start..end).unwrap_or_default();
        match &h.kind {
            b"moov" => {
                let movie = read_moov(body);
                tracks = movie.tracks;
                defaults = movie.defaults;
            }
            b"moof" => read_moof(body, pos, &defaults, &mut samples),
            _ => {}
        }
        pos = end;
    }
    if tracks.is_empty() {
        return Err(Mp4ReadError::NoMoov);
    }
    if samples
        .iter()
        .any(|s| s.offset.checked_add(s.size).is_none_or(|e| e > file.len()))
    {
        return Err(Mp4ReadError::BadSample);
    }
    Ok((tracks, samples))
}

fn read_moof(moof: &[u8], moof_at: usize, defaults: &[(u32, [u32; 3])], samples: &mut Vec<ReadSample>) {
    for (kind, traf) in children(moof) {
        if &kind != b"traf" {
            continue;
        }
        let Some(tfhd) = child(traf, b"tfhd") else { continue };
        let flags = be32(tfhd, 0).unwrap_or(0) & 0xFF_FFFF;
        let id = be32(tfhd, 4).unwrap_or(0);
        let mut d = defaults.iter().find(|(t, _)| *t == id).map_or([0; 3], |(_, d)| *d);
        let mut at = 8;
        let mut base = moof_at as u64;
        if flags & 0x1 != 0 {
            base = be64(tfhd, at).unwrap_or(base);
            at += 8;
        }
        if flags & 0x2 != 0 {
            at += 4;
        }
        for (bit, slot) in [(0x8u32, 0usize), (0x10, 1), (0x20, 2)] {
            if flags & bit != 0 {
                if let (Some(v), Some(place)) = (be32(tfhd, at), d.get_mut(slot)) {
                    *place = v;
                }
                at += 4;
            }
        }
        let [default_duration, default_size, default_flags] = d;
        let mut dts = match child(traf, b"tfdt") {
            Some(t) if t.first() == Some(&1) => be64(t, 4).unwrap_or(0),
            Some(t) => u64::from(be32(t, 4).unwrap_or(0)),
            None => 0,
        };
        for (kind, trun) in children(traf) {
            if &kind != b"trun" {
                continue;
            }
            let flags = be32(trun, 0).unwrap_or(0) & 0xFF_FFFF;
            let count = be32(trun, 4).unwrap_or(0);
            let mut at = 8;
            let mut offset = base;
            if flags & 0x1 != 0 {
                offset = base.wrapping_add_signed(i64::from(be32(trun, at).unwrap_or(0) as i32));
                at += 4;
            }
            let mut first_flags = None;
            if flags & 0x4 != 0 {
                first_flags = be32(trun, at);
                at += 4;
            }
            for i in 0..count {
                let mut field = |bit: u32, default: u32| {
                    if flags & bit == 0 {
                        return Some(default);
                    }
                    let v = be32(trun, at);
                    at += 4;
                    v
                };
                let duration = field(0x100, default_duration);
                let size = field(0x200, default_size);
                let sample_flags = field(
                    0x400,
                    if i == 0 {
                        first_flags.unwrap_or(default_flags)
                    } else {
                        default_flags
                    },
                );
                let cts = field(0x800, 0);
                let (Some(duration), Some(size), Some(sample_flags), Some(cts)) = (duration, size, sample_flags, cts)
                else {
                    break;
                };
                samples.push(ReadSample {
                    track: id,
                    dts,
                    cts: cts as i32,
                    duration,
                    sync: sample_flags & 0x1_0000 == 0,
                    offset: offset as usize,
                    size: size as usize,
                });
                dts += u64::from(duration);
                offset += u64::from(size);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::demux::VideoCodec;
    use crate::mp4::entries::EntrySource;
    use crate::mp4::fragment::{write_fragment, Run, Sample};
    use crate::mp4::init::{write_init, TrackSpec};

    #[test]
    fn reads_back_what_the_writer_wrote() {
        let mut file = Vec::new();
        let entry = EntrySource::Video {
            codec: VideoCodec::Av1,
            record: vec![0x81, 0, 0, 0],
            size: (64, 48),
        };
        write_init(&[TrackSpec { id: 1, entry }], &mut file).unwrap();
        let at = file.len();
        let run = Run {
            track: 1,
            base_dts: 40,
            with_cts: true,
            samples: vec![
                Sample {
                    duration: 33,
                    cts: 5,
                    sync: true,
                    data: &[1, 2],
                },
                Sample {
                    duration: 34,
                    cts: -2,
                    sync: false,
                    data: &[3],
                },
            ],
        };
        write_fragment(1, &[run], &mut file);
        let (tracks, samples) = read_fragmented(&file).unwrap();
        assert_eq!(
            tracks,
            [ReadTrack {
                id: 1,
                video: true,
                entry: *b"av01",
                config: vec![0x81, 0, 0, 0],
                timescale: 1000
            }]
        );
        let data: Vec<&[u8]> = samples.iter().map(|s| &file[s.offset..s.offset + s.size]).collect();
        assert_eq!(data, [&[1u8, 2][..], &[3]]);
        assert_eq!((samples[0].dts, samples[0].cts, samples[0].sync), (40, 5, true));
        assert_eq!(
            (samples[1].dts, samples[1].cts, samples[1].sync, samples[1].duration),
            (73, -2, false, 34)
        );
        assert!(at > 0);
        assert_eq!(read_fragmented(b"junk"), Err(Mp4ReadError::NoMoov));
    }
}
