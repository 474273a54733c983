//! One movie fragment: `moof` (`mfhd`, then per track `traf` with `tfhd`
//! default-base-is-moof, `tfdt` and a version-1 `trun` giving each sample's duration, size,
//! flags and, for video, its signed composition offset) followed by its `mdat`.

use super::boxes::{begin, begin_full, end, u32, u64};

/// Sample flags: a sync sample (depends on no other).
pub const FLAGS_SYNC: u32 = 0x0200_0000;
/// Sample flags: a non-sync sample (depends on others).
pub const FLAGS_NON_SYNC: u32 = 0x0101_0000;
const TRUN_DATA_OFFSET: u32 = 0x1;
const TRUN_DURATION: u32 = 0x100;
const TRUN_SIZE: u32 = 0x200;
const TRUN_FLAGS: u32 = 0x400;
const TRUN_CTS: u32 = 0x800;
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;

/// One sample of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample<'a> {
    pub duration: u32,
    pub cts: i32,
    pub sync: bool,
    pub data: &'a [u8],
}

/// A track's samples in a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run<'a> {
    pub track: u32,
    /// Decode time of the first sample.
    pub base_dts: u64,
    /// Writes composition offsets (video).
    pub with_cts: bool,
    pub samples: Vec<Sample<'a>>,
}

/// Appends `moof` + `mdat` for the non-empty runs; returns the bytes appended.
pub fn write_fragment(sequence: u32, runs: &[Run<'_>], out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let moof = begin(out, b"moof");
    let mfhd = begin_full(out, b"mfhd", 0, 0);
    u32(out, sequence);
    end(out, mfhd);
    let mut offset_fields = Vec::new();
    for run in runs.iter().filter(|r| !r.samples.is_empty()) {
        let traf = begin(out, b"traf");
        let tfhd = begin_full(out, b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF);
        u32(out, run.track);
        end(out, tfhd);
        let tfdt = begin_full(out, b"tfdt", 1, 0);
        u64(out, run.base_dts);
        end(out, tfdt);
        let cts = if run.with_cts { TRUN_CTS } else { 0 };
        let flags = TRUN_DATA_OFFSET | TRUN_DURATION | TRUN_SIZE | TRUN_FLAGS | cts;
        let trun = begin_full(out, b"trun", 1, flags);
        u32(out, u32::try_from(run.samples.len()).unwrap_or(u32::MAX));
        offset_fields.push(out.len());
        u32(out, 0);
        for s in &run.samples {
            u32(out, s.duration);
            u32(out, u32::try_from(s.data.len()).unwrap_or(u32::MAX));
            u32(out, if s.sync { FLAGS_SYNC } else { FLAGS_NON_SYNC });
            if run.with_cts {
                out.extend_from_slice(&s.cts.to_be_bytes());
            }
        }
        end(out, trun);
        end(out, traf);
    }
    end(out, moof);
    let moof_len = out.len() - moof;
    let mdat = begin(out, b"mdat");
    let mut data_offset = moof_len + 8;
    for (field, run) in offset_fields
        .into_iter()
        .zip(runs.iter().filter(|r| !r.samples.is_empty()))
    {
        let value = u32::try_from(data_offset).unwrap_or(u32::MAX);
        if let Some(place) = out.get_mut(field..field + 4) {
            place.copy_from_slice(&value.to_be_bytes());
        }
        for s in &run.samples {
            out.extend_from_slice(s.data);
            data_offset += s.data.len();
        }
    }
    end(out, mdat);
    out.len() - start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fragment_has_moof_then_mdat_with_offsets_into_it() {
        let runs = [
            Run {
                track: 1,
                base_dts: 40,
                with_cts: true,
                samples: vec![
                    Sample {
                        duration: 33,
                        cts: 66,
                        sync: true,
                        data: &[1, 2, 3],
                    },
                    Sample {
                        duration: 34,
                        cts: -1,
                        sync: false,
                        data: &[4],
                    },
                ],
            },
            Run {
                track: 2,
                base_dts: 0,
                with_cts: false,
                samples: vec![],
            },
            Run {
                track: 2,
                base_dts: 21,
                with_cts: false,
                samples: vec![Sample {
                    duration: 23,
                    cts: 0,
                    sync: true,
                    data: &[9, 9],
                }],
            },
        ];
        let mut out = vec![0xEE];
        let n = write_fragment(7, &runs, &mut out);
        assert_eq!(n, out.len() - 1);
        let f = &out[1..];
        let moof_len = 8 + 16 + (8 + 16 + 20 + 20 + 2 * 16) + (8 + 16 + 20 + 20 + 12);
        let expected_moof = [
            &(moof_len as u32).to_be_bytes()[..],
            b"moof",
            &[0, 0, 0, 16],
            b"mfhd",
            &[0, 0, 0, 0, 0, 0, 0, 7],
            &[0, 0, 0, 96],
            b"traf",
            &[0, 0, 0, 16],
            b"tfhd",
            &[0, 2, 0, 0, 0, 0, 0, 1],
            &[0, 0, 0, 20],
            b"tfdt",
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40],
            &[0, 0, 0, 52],
            b"trun",
            &[1, 0, 0x0F, 0x01, 0, 0, 0, 2],
            &((moof_len + 8) as u32).to_be_bytes(),
            &[0, 0, 0, 33, 0, 0, 0, 3, 2, 0, 0, 0, 0, 0, 0, 66],
            &[0, 0, 0, 34, 0, 0, 0, 1, 1, 1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF],
            &[0, 0, 0, 76],
            b"traf",
            &[0, 0, 0, 16],
            b"tfhd",
            &[0, 2, 0, 0, 0, 0, 0, 2],
            &[0, 0, 0, 20],
            b"tfdt",
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 21],
            &[0, 0, 0, 32],
            b"trun",
            &[1, 0, 0x07, 0x01, 0, 0, 0, 1],
            &((moof_len + 8 + 4) as u32).to_be_bytes(),
            &[0, 0, 0, 23, 0, 0, 0, 2, 2, 0, 0, 0],
        ]
        .concat();
        assert_eq!(&f[..moof_len], &expected_moof[..]);
        assert_eq!(
            &f[moof_len..],
            [&[0, 0, 0, 14][..], b"mdat", &[1, 2, 3, 4, 9, 9]].concat()
        );
    }
}
