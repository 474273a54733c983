//! Picture size from an AVC sequence header (pure): the first SPS of an FLV
//! AVCDecoderConfigurationRecord, parsed as far as its frame size and cropping. Used when a
//! publisher's onMetaData lacks width/height, which players and `flvmeta --check` want.
//! Hostile input only ever yields `None`: every read is bounded, nothing indexes.

/// Largest Exp-Golomb prefix accepted (a 32-bit value).
const MAX_LEADING_ZEROS: u32 = 31;
/// Most entries accepted in the POC cycle (the standard allows 255).
const MAX_POC_CYCLE: u32 = 255;

/// An RBSP bit reader (also used by `hevc_sps`).
pub(crate) struct Bits {
    data: Vec<u8>,
    pos: usize,
}

impl Bits {
    /// RBSP of a NAL unit body: emulation prevention bytes (00 00 03) removed.
    pub(crate) fn new(nal: &[u8]) -> Bits {
        let mut data = Vec::with_capacity(nal.len());
        let mut zeros = 0;
        for &byte in nal {
            if zeros >= 2 && byte == 3 {
                zeros = 0;
                continue;
            }
            zeros = if byte == 0 { zeros + 1 } else { 0 };
            data.push(byte);
        }
        Bits { data, pos: 0 }
    }

    pub(crate) fn bit(&mut self) -> Option<u32> {
        let byte = self.data.get(self.pos / 8)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Some(u32::from(bit))
    }

    pub(crate) fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |acc, _| Some((acc << 1) | self.bit()?))
    }

    pub(crate) fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > MAX_LEADING_ZEROS {
                return None;
            }
        }
        let rest = self.bits(zeros)?;
        ((1u64 << zeros) - 1 + u64::from(rest)).try_into().ok()
    }

    fn se(&mut self) -> Option<i64> {
        let k = i64::from(self.ue()?);
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

/// Width and height of the picture described by an FLV AVC sequence header tag body
/// (`0x17 0x00 cts[3]` then the AVCDecoderConfigurationRecord).
pub fn avc_picture_size(tag_body: &[u8]) -> Option<(u32, u32)> {
    avc_record_picture_size(tag_body.get(5..)?)
}

/// Width and height of the picture an AVCDecoderConfigurationRecord describes.
pub fn avc_record_picture_size(record: &[u8]) -> Option<(u32, u32)> {
    let sps_count = record.get(5)? & 0x1F;
    if sps_count == 0 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([*record.get(6)?, *record.get(7)?]));
    let nal = record.get(8..8 + len)?;
    // Skip the NAL header byte (type 7).
    if nal.first()? & 0x1F != 7 {
        return None;
    }
    sps_size(&mut Bits::new(nal.get(1..)?))
}

fn skip_scaling_list(bits: &mut Bits, size: u32) -> Option<()> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            next = (last + bits.se()? + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

fn sps_size(bits: &mut Bits) -> Option<(u32, u32)> {
    let profile = bits.bits(8)?;
    bits.bits(16)?; // constraint flags, level
    bits.ue()?; // seq_parameter_set_id
    let mut chroma_format = 1;
    let mut separate_planes = false;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format = bits.ue()?;
        if chroma_format == 3 {
            separate_planes = bits.bit()? == 1;
        }
        bits.ue()?; // bit_depth_luma_minus8
        bits.ue()?; // bit_depth_chroma_minus8
        bits.bit()?; // qpprime_y_zero_transform_bypass
        if bits.bit()? == 1 {
            let lists = if chroma_format == 3 { 12 } else { 8 };
            for i in 0..lists {
                if bits.bit()? == 1 {
                    skip_scaling_list(bits, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    bits.ue()?; // log2_max_frame_num_minus4
    match bits.ue()? {
        0 => {
            bits.ue()?;
        }
        1 => {
            bits.bit()?;
            bits.se()?;
            bits.se()?;
            let cycle = bits.ue()?;
            if cycle > MAX_POC_CYCLE {
                return None;
            }
            for _ in 0..cycle {
                bits.se()?;
            }
        }
        _ => {}
    }
    bits.ue()?; // max_num_ref_frames
    bits.bit()?; // gaps_in_frame_num_allowed
    let width_mbs = u64::from(bits.ue()?) + 1;
    let height_units = u64::from(bits.ue()?) + 1;
    let frame_mbs_only = u64::from(bits.bit()?);
    if frame_mbs_only == 0 {
        bits.bit()?;
    }
    bits.bit()?; // direct_8x8_inference
    let mut crop = [0u64; 4];
    if bits.bit()? == 1 {
        for value in crop.iter_mut() {
            *value = u64::from(bits.ue()?);
        }
    }
    let (unit_x, unit_y) = match (chroma_format, separate_planes) {
        (0, _) | (3, true) => (1, 2 - frame_mbs_only),
        (1, _) => (2, 2 * (2 - frame_mbs_only)),
        (2, _) => (2, 2 - frame_mbs_only),
        _ => (1, 2 - frame_mbs_only),
    };
    let [left, right, top, bottom] = crop;
    let width = (width_mbs * 16).checked_sub(unit_x * (left + right))?;
    let height = ((2 - frame_mbs_only) * height_units * 16).checked_sub(unit_y * (top + bottom))?;
    Some((u32::try_from(width).ok()?, u32::try_from(height).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::reader::read_all;

    /// The AVC sequence header tag of the fixture clip.
    fn fixture_sequence_header() -> crate::flv::reader::FlvTag<'static> {
        let clip: &'static [u8] = include_bytes!("../../tests/fixtures/clip2s.flv");
        let (_, tags) = read_all(clip).unwrap();
        tags.into_iter()
            .find(|t| t.tag_type == 9 && t.body.get(1) == Some(&0))
            .unwrap()
    }

    #[test]
    fn fixture_clip_sequence_header_gives_its_picture_size() {
        let header = fixture_sequence_header();
        assert_eq!(avc_picture_size(header.body), Some((160, 120)));
    }

    #[test]
    fn garbage_and_truncated_headers_give_none() {
        let header = fixture_sequence_header();
        for cut in 0..header.body.len().min(24) {
            assert_eq!(avc_picture_size(&header.body[..cut]), None, "cut at {cut}");
        }
        assert_eq!(avc_picture_size(&[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]), None);
        assert_eq!(avc_picture_size(&[0xFF; 64]), None);
        let mut zeros = vec![0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xFF, 0xE1, 0, 40, 0x67];
        zeros.extend([0u8; 39]);
        assert_eq!(avc_picture_size(&zeros), None);
    }
}
