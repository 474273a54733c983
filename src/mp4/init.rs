//! The file's start: `ftyp` and `moov` (one `trak` per track, empty sample tables, `mvex`
//! with `mehd` and a `trex` per track), all in a 1 kHz timescale, and where its duration
//! fields are (so a muxer or a repair rewrites them in place).

use super::boxes::{be32, begin, begin_full, child, children, end, u16, u32};
use super::entries::{EntryError, EntrySource};

/// Every track's (and the movie's) timescale: milliseconds, as RTMP timestamps are.
pub const TIMESCALE: u32 = 1000;

/// One track of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSpec {
    pub id: u32,
    pub entry: EntrySource,
}

impl TrackSpec {
    fn is_video(&self) -> bool {
        matches!(self.entry, EntrySource::Video { .. })
    }
}

/// `ftyp` then `moov`.
pub fn write_init(tracks: &[TrackSpec], out: &mut Vec<u8>) -> Result<(), EntryError> {
    let ftyp = begin(out, b"ftyp");
    out.extend_from_slice(b"iso6");
    u32(out, 0x200);
    for brand in [b"iso6", b"isom", b"iso2", b"mp41"] {
        out.extend_from_slice(brand);
    }
    end(out, ftyp);
    let moov = begin(out, b"moov");
    let mvhd = begin_full(out, b"mvhd", 0, 0);
    u32(out, 0);
    u32(out, 0);
    u32(out, TIMESCALE);
    u32(out, 0); // duration
    u32(out, 0x0001_0000); // rate
    u16(out, 0x0100); // volume
    out.extend_from_slice(&[0; 10]);
    matrix(out);
    out.extend_from_slice(&[0; 24]);
    u32(out, tracks.iter().map(|t| t.id).max().unwrap_or(0) + 1);
    end(out, mvhd);
    for track in tracks {
        trak(track, out)?;
    }
    let mvex = begin(out, b"mvex");
    let mehd = begin_full(out, b"mehd", 0, 0);
    u32(out, 0);
    end(out, mehd);
    for track in tracks {
        let trex = begin_full(out, b"trex", 0, 0);
        u32(out, track.id);
        u32(out, 1);
        u32(out, 0);
        u32(out, 0);
        u32(out, 0);
        end(out, trex);
    }
    end(out, mvex);
    end(out, moov);
    Ok(())
}

fn matrix(out: &mut Vec<u8>) {
    for v in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000u32] {
        u32(out, v);
    }
}

fn trak(track: &TrackSpec, out: &mut Vec<u8>) -> Result<(), EntryError> {
    let video = track.is_video();
    let trak = begin(out, b"trak");
    let tkhd = begin_full(out, b"tkhd", 0, 3);
    u32(out, 0);
    u32(out, 0);
    u32(out, track.id);
    u32(out, 0);
    u32(out, 0); // duration
    out.extend_from_slice(&[0; 8]);
    u16(out, 0); // layer
    u16(out, u16::from(!video)); // alternate group
    u16(out, if video { 0 } else { 0x0100 });
    u16(out, 0);
    matrix(out);
    let (w, h) = track.entry.picture_size();
    u32(out, w.min(0xFFFF) << 16);
    u32(out, h.min(0xFFFF) << 16);
    end(out, tkhd);
    let mdia = begin(out, b"mdia");
    let mdhd = begin_full(out, b"mdhd", 0, 0);
    u32(out, 0);
    u32(out, 0);
    u32(out, TIMESCALE);
    u32(out, 0); // duration
    u16(out, 0x55C4); // und
    u16(out, 0);
    end(out, mdhd);
    let hdlr = begin_full(out, b"hdlr", 0, 0);
    u32(out, 0);
    out.extend_from_slice(if video { b"vide" } else { b"soun" });
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(if video { b"VideoHandler\0" } else { b"SoundHandler\0" });
    end(out, hdlr);
    let minf = begin(out, b"minf");
    if video {
        let vmhd = begin_full(out, b"vmhd", 0, 1);
        out.extend_from_slice(&[0; 8]);
        end(out, vmhd);
    } else {
        let smhd = begin_full(out, b"smhd", 0, 0);
        u32(out, 0);
        end(out, smhd);
    }
    let dinf = begin(out, b"dinf");
    let dref = begin_full(out, b"dref", 0, 0);
    u32(out, 1);
    let url = begin_full(out, b"url ", 0, 1);
    end(out, url);
    end(out, dref);
    end(out, dinf);
    let stbl = begin(out, b"stbl");
    let stsd = begin_full(out, b"stsd", 0, 0);
    u32(out, 1);
    track.entry.write(out)?;
    end(out, stsd);
    for kind in [b"stts", b"stsc", b"stco"] {
        let b = begin_full(out, kind, 0, 0);
        u32(out, 0);
        end(out, b);
    }
    let stsz = begin_full(out, b"stsz", 0, 0);
    u32(out, 0);
    u32(out, 0);
    end(out, stsz);
    end(out, stbl);
    end(out, minf);
    end(out, mdia);
    end(out, trak);
    Ok(())
}

/// A 32-bit duration field of the `moov`: its offset in the moov box and the track it is
/// for (None: the movie's `mvhd`/`mehd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationField {
    pub offset: usize,
    pub track: Option<u32>,
}

/// The version-0 duration fields of a whole `moov` box (`mvhd`, `mehd`, each `tkhd` and
/// `mdhd`). Version-1 boxes (not written here) are left out.
pub fn duration_fields(moov: &[u8]) -> Vec<DurationField> {
    let mut fields = Vec::new();
    let base = |body: &[u8]| body.as_ptr() as usize - moov.as_ptr() as usize;
    let Some(body) = moov.get(8..) else { return fields };
    let v0 = |b: &[u8]| b.first() == Some(&0);
    if let Some(mvhd) = child(body, b"mvhd").filter(|b| v0(b) && b.len() >= 20) {
        fields.push(DurationField {
            offset: base(mvhd) + 16,
            track: None,
        });
    }
    if let Some(mehd) = child(body, b"mvex")
        .and_then(|m| child(m, b"mehd"))
        .filter(|b| v0(b) && b.len() >= 8)
    {
        fields.push(DurationField {
            offset: base(mehd) + 4,
            track: None,
        });
    }
    for (kind, trak) in children(body) {
        if &kind != b"trak" {
            continue;
        }
        let Some(tkhd) = child(trak, b"tkhd").filter(|b| v0(b) && b.len() >= 24) else {
            continue;
        };
        let id = be32(tkhd, 12);
        fields.push(DurationField {
            offset: base(tkhd) + 20,
            track: id,
        });
        if let Some(mdhd) = child(trak, b"mdia")
            .and_then(|m| child(m, b"mdhd"))
            .filter(|b| v0(b) && b.len() >= 20)
        {
            fields.push(DurationField {
                offset: base(mdhd) + 16,
                track: id,
            });
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::demux::{AudioCodec, VideoCodec};

    #[test]
    fn init_has_ftyp_moov_and_findable_durations() {
        let tracks = [
            TrackSpec {
                id: 1,
                entry: EntrySource::Video {
                    codec: VideoCodec::Vp9,
                    record: vec![1],
                    size: (320, 240),
                },
            },
            TrackSpec {
                id: 2,
                entry: EntrySource::Audio {
                    codec: AudioCodec::Mp3,
                    config: None,
                    first: vec![],
                },
            },
        ];
        let mut out = Vec::new();
        write_init(&tracks, &mut out).unwrap();
        assert_eq!(&out[..16], [&[0, 0, 0, 32][..], b"ftypiso6", &[0, 0, 2, 0]].concat());
        let moov = &out[32..];
        assert_eq!(&moov[4..8], b"moov");
        assert_eq!(be32(moov, 0).unwrap() as usize, moov.len());
        let fields = duration_fields(moov);
        let tracks: Vec<Option<u32>> = fields.iter().map(|f| f.track).collect();
        assert_eq!(tracks, [None, None, Some(1), Some(1), Some(2), Some(2)]);
        for f in &fields {
            assert_eq!(be32(moov, f.offset), Some(0));
        }
        assert_eq!(
            &moov[fields[0].offset - 4..fields[0].offset],
            &TIMESCALE.to_be_bytes(),
            "mvhd timescale"
        );
        assert_eq!(
            &moov[fields[2].offset - 8..fields[2].offset - 4],
            &[0, 0, 0, 1],
            "tkhd track id"
        );
        assert!(child(&moov[8..], b"mvex").and_then(|m| child(m, b"trex")).is_some());
        assert!(duration_fields(&[0, 0]).is_empty());
    }
}
