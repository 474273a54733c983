//! Picture size from an HEVC sequence header (pure): the SPS in an
//! HEVCDecoderConfigurationRecord (legacy FLV codec id 12 or Enhanced RTMP `hvc1`), parsed
//! as far as its luma size and conformance window. Hostile input only ever yields `None`:
//! every read is bounded, nothing indexes.

use super::avc_sps::Bits;

/// Bytes of the record's fixed part before `numOfArrays`.
const RECORD_FIXED_LEN: usize = 22;
/// Bytes before the record in a tag body: legacy (header, packet type, composition time)
/// and Enhanced RTMP SequenceStart (header, FourCC) both have five.
const RECORD_OFFSET: usize = 5;
const NAL_TYPE_SPS: u8 = 33;
/// HEVC NAL units start with a two-byte header.
const NAL_HEADER_LEN: usize = 2;
/// The standard allows at most 7 sub-layers beyond the first.
const MAX_SUB_LAYERS_MINUS1: u32 = 6;
/// Bits of a profile (general or sub-layer) before its level byte.
const PROFILE_BITS: u32 = 88;

/// Width and height of the picture an HEVC sequence header tag body describes.
pub fn hevc_picture_size(tag_body: &[u8]) -> Option<(u32, u32)> {
    hevc_record_picture_size(tag_body.get(RECORD_OFFSET..)?)
}

/// Width and height of the picture an HEVCDecoderConfigurationRecord describes.
pub fn hevc_record_picture_size(record: &[u8]) -> Option<(u32, u32)> {
    let arrays = *record.get(RECORD_FIXED_LEN)?;
    let mut pos = RECORD_FIXED_LEN + 1;
    for _ in 0..arrays {
        let nal_type = record.get(pos)? & 0x3F;
        let count = u16::from_be_bytes([*record.get(pos + 1)?, *record.get(pos + 2)?]);
        pos += 3;
        for _ in 0..count {
            let len = usize::from(u16::from_be_bytes([*record.get(pos)?, *record.get(pos + 1)?]));
            let nal = record.get(pos + 2..pos + 2 + len)?;
            if nal_type == NAL_TYPE_SPS {
                return sps_size(&mut Bits::new(nal.get(NAL_HEADER_LEN..)?));
            }
            pos += 2 + len;
        }
    }
    None
}

fn skip(bits: &mut Bits, n: u32) -> Option<()> {
    for _ in 0..n {
        bits.bit()?;
    }
    Some(())
}

fn sps_size(bits: &mut Bits) -> Option<(u32, u32)> {
    bits.bits(4)?; // sps_video_parameter_set_id
    let sub_layers = bits.bits(3)?;
    if sub_layers > MAX_SUB_LAYERS_MINUS1 {
        return None;
    }
    bits.bit()?; // sps_temporal_id_nesting_flag
                 // profile_tier_level: the general profile and level, then per sub-layer flags.
    skip(bits, PROFILE_BITS + 8)?;
    let mut present = Vec::new();
    for _ in 0..sub_layers {
        present.push((bits.bit()? == 1, bits.bit()? == 1));
    }
    if sub_layers > 0 {
        skip(bits, 2 * (8 - sub_layers))?;
    }
    for (profile, level) in present {
        if profile {
            skip(bits, PROFILE_BITS)?;
        }
        if level {
            skip(bits, 8)?;
        }
    }
    bits.ue()?; // sps_seq_parameter_set_id
    let chroma_format = bits.ue()?;
    let separate_planes = chroma_format == 3 && bits.bit()? == 1;
    let width = u64::from(bits.ue()?);
    let height = u64::from(bits.ue()?);
    let mut window = [0u64; 4];
    if bits.bit()? == 1 {
        for value in window.iter_mut() {
            *value = u64::from(bits.ue()?);
        }
    }
    let (unit_x, unit_y) = match (chroma_format, separate_planes) {
        (1, _) => (2, 2),
        (2, _) => (2, 1),
        _ => (1, 1),
    };
    let [left, right, top, bottom] = window;
    let width = width.checked_sub(unit_x * (left.checked_add(right)?))?;
    let height = height.checked_sub(unit_y * (top.checked_add(bottom)?))?;
    Some((u32::try_from(width).ok()?, u32::try_from(height).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// VPS, SPS and PPS libx265 wrote for a 320x240 and a 330x250 (cropped) picture.
    const VPS: &str = "40010c01ffff01600000030090000003000003003c959809";
    const SPS_320X240: &str = "42010101600000030090000003000003003ca00a080f165959a4932bc05a020000030002000003001e10";
    const SPS_330X250: &str =
        "42010101600000030090000003000003003ca00a88040724996566924caf0168080000030008000003007840";
    const PPS: &str = "4401c172b46240";

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A legacy FLV HEVC sequence header tag body holding these parameter sets.
    fn tag_body(sps: &str) -> Vec<u8> {
        let mut body = vec![0x1C, 0, 0, 0, 0, 1];
        body.extend([0u8; RECORD_FIXED_LEN - 1]);
        body.push(3);
        for (nal_type, nal) in [(32u8, VPS), (33, sps), (34, PPS)] {
            let nal = hex(nal);
            body.push(0x80 | nal_type);
            body.extend(1u16.to_be_bytes());
            body.extend((nal.len() as u16).to_be_bytes());
            body.extend(nal);
        }
        body
    }

    #[test]
    fn x265_sequence_headers_give_their_picture_size() {
        assert_eq!(hevc_picture_size(&tag_body(SPS_320X240)), Some((320, 240)));
        assert_eq!(
            hevc_picture_size(&tag_body(SPS_330X250)),
            Some((330, 250)),
            "conformance window applied"
        );
        // What the API uses: legacy codec id 12 and the same record behind an Enhanced
        // RTMP SequenceStart header.
        use crate::media::{Frame, FrameKind};
        let picture_size =
            |body: Vec<u8>| crate::media::describe::picture_size(&Frame::new(FrameKind::Video, 0, body.into()));
        assert_eq!(picture_size(tag_body(SPS_320X240)), Some((320, 240)));
        let mut enhanced = b"\x90hvc1".to_vec();
        enhanced.extend_from_slice(&tag_body(SPS_320X240)[5..]);
        assert_eq!(picture_size(enhanced), Some((320, 240)));
    }

    #[test]
    fn truncated_and_garbage_records_give_none() {
        let body = tag_body(SPS_330X250);
        for cut in 0..body.len() - hex(PPS).len() - 5 {
            assert_eq!(hevc_picture_size(&body[..cut]), None, "cut at {cut}");
        }
        assert_eq!(hevc_picture_size(&[0xFF; 64]), None);
        assert_eq!(hevc_picture_size(&[0u8; 64]), None);
    }
}
