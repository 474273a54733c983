//! H.264 and HEVC Annex B access units (pure): NAL units split at start codes, parameter
//! sets kept aside for the decoder configuration records (AVCDecoderConfigurationRecord,
//! HEVCDecoderConfigurationRecord), and the rest as 4-byte length-prefixed sample data.

use crate::media::avc_sps::Bits;

/// Parameter sets kept per kind (a stream normally has one of each).
const MAX_PARAMETER_SETS: usize = 4;

/// The video codecs of a TS program this server converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    Hevc,
}

/// NAL units of an Annex B byte stream (start codes 00 00 01 or 00 00 00 01), without
/// their start codes or trailing zero bytes; bytes before the first start code are skipped.
pub fn split_annex_b(data: &[u8]) -> Vec<&[u8]> {
    let mut units = Vec::new();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i + 2 < data.len() {
        if data.get(i..i + 3) == Some(&[0, 0, 1]) {
            if let Some(s) = start {
                units.push(trim_zeros(data.get(s..i).unwrap_or_default()));
            }
            i += 3;
            start = Some(i);
        } else {
            i += 1;
        }
    }
    if let Some(s) = start {
        units.push(trim_zeros(data.get(s..).unwrap_or_default()));
    }
    units.retain(|unit| !unit.is_empty());
    units
}

fn trim_zeros(unit: &[u8]) -> &[u8] {
    let end = unit.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    unit.get(..end).unwrap_or_default()
}

/// One access unit converted: the sample data (length-prefixed NAL units), whether it is a
/// random access point, and whether its parameter sets differ from the last ones seen.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sample {
    pub data: Vec<u8>,
    pub keyframe: bool,
    pub config_changed: bool,
}

/// A video stream's parameter sets (VPS only for HEVC).
#[derive(Debug, Default)]
pub struct ParameterSets {
    pub vps: Vec<Vec<u8>>,
    pub sps: Vec<Vec<u8>>,
    pub pps: Vec<Vec<u8>>,
}

impl ParameterSets {
    /// Converts an Annex B access unit; its parameter sets update `self`.
    pub fn convert(&mut self, codec: VideoCodec, data: &[u8]) -> Sample {
        let mut sample = Sample::default();
        let (mut vps, mut sps, mut pps) = (Vec::new(), Vec::new(), Vec::new());
        for unit in split_annex_b(data) {
            let Some(&first) = unit.first() else { continue };
            let kind = match codec {
                VideoCodec::H264 => NalKind::h264(first & 0x1F),
                VideoCodec::Hevc => NalKind::hevc((first >> 1) & 0x3F),
            };
            match kind {
                NalKind::Vps => push_bounded(&mut vps, unit),
                NalKind::Sps => push_bounded(&mut sps, unit),
                NalKind::Pps => push_bounded(&mut pps, unit),
                NalKind::Delimiter => {}
                NalKind::Other { keyframe } => {
                    sample.keyframe |= keyframe;
                    let len = u32::try_from(unit.len()).unwrap_or(u32::MAX);
                    sample.data.extend_from_slice(&len.to_be_bytes());
                    sample.data.extend_from_slice(unit);
                }
            }
        }
        for (new, old) in [(vps, &mut self.vps), (sps, &mut self.sps), (pps, &mut self.pps)] {
            if !new.is_empty() && new != *old {
                *old = new;
                sample.config_changed = true;
            }
        }
        sample
    }

    /// The decoder configuration record for `codec`, once an SPS and a PPS (and for HEVC a
    /// VPS) were seen.
    pub fn record(&self, codec: VideoCodec) -> Option<Vec<u8>> {
        match codec {
            VideoCodec::H264 => self.avc_record(),
            VideoCodec::Hevc => self.hevc_record(),
        }
    }

    fn avc_record(&self) -> Option<Vec<u8>> {
        let sps = self.sps.first()?;
        self.pps.first()?;
        // configurationVersion, profile, compatibility, level, 4-byte lengths.
        let mut record = vec![1, *sps.get(1)?, *sps.get(2)?, *sps.get(3)?, 0xFF];
        record.push(0xE0 | self.sps.len() as u8);
        for set in &self.sps {
            push_set(&mut record, set)?;
        }
        record.push(self.pps.len() as u8);
        for set in &self.pps {
            push_set(&mut record, set)?;
        }
        Some(record)
    }

    fn hevc_record(&self) -> Option<Vec<u8>> {
        let sps = self.sps.first()?;
        self.vps.first()?;
        self.pps.first()?;
        let info = HevcSpsInfo::parse(sps)?;
        let mut record = vec![1];
        record.extend_from_slice(&info.profile_tier_level);
        record.extend_from_slice(&[0xF0, 0x00, 0xFC]); // min_spatial_segmentation, parallelism
        record.push(0xFC | (info.chroma_format as u8 & 0x03));
        record.push(0xF8 | (info.bit_depth_luma_minus8 as u8 & 0x07));
        record.push(0xF8 | (info.bit_depth_chroma_minus8 as u8 & 0x07));
        record.extend_from_slice(&[0, 0]); // avgFrameRate
                                           // constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3.
        record.push(((info.sub_layers + 1) << 3) | (info.temporal_id_nested << 2) | 0x03);
        record.push(3);
        for (nal_type, sets) in [(32u8, &self.vps), (33, &self.sps), (34, &self.pps)] {
            record.push(0x80 | nal_type); // array_completeness
            record.extend_from_slice(&(sets.len() as u16).to_be_bytes());
            for set in sets {
                push_set(&mut record, set)?;
            }
        }
        Some(record)
    }
}

fn push_bounded(sets: &mut Vec<Vec<u8>>, unit: &[u8]) {
    if sets.len() < MAX_PARAMETER_SETS && !sets.iter().any(|s| s == unit) {
        sets.push(unit.to_vec());
    }
}

fn push_set(record: &mut Vec<u8>, set: &[u8]) -> Option<()> {
    record.extend_from_slice(&u16::try_from(set.len()).ok()?.to_be_bytes());
    record.extend_from_slice(set);
    Some(())
}

enum NalKind {
    Vps,
    Sps,
    Pps,
    Delimiter,
    Other { keyframe: bool },
}

impl NalKind {
    fn h264(nal_type: u8) -> NalKind {
        match nal_type {
            7 => NalKind::Sps,
            8 => NalKind::Pps,
            9 => NalKind::Delimiter,
            5 => NalKind::Other { keyframe: true },
            _ => NalKind::Other { keyframe: false },
        }
    }

    fn hevc(nal_type: u8) -> NalKind {
        match nal_type {
            32 => NalKind::Vps,
            33 => NalKind::Sps,
            34 => NalKind::Pps,
            35 => NalKind::Delimiter,
            16..=21 => NalKind::Other { keyframe: true },
            _ => NalKind::Other { keyframe: false },
        }
    }
}

/// What an HEVC SPS says that its configuration record repeats.
struct HevcSpsInfo {
    /// general_profile_space .. general_level_idc (12 bytes).
    profile_tier_level: [u8; 12],
    sub_layers: u8,
    temporal_id_nested: u8,
    chroma_format: u32,
    bit_depth_luma_minus8: u32,
    bit_depth_chroma_minus8: u32,
}

impl HevcSpsInfo {
    fn parse(sps: &[u8]) -> Option<HevcSpsInfo> {
        let mut bits = Bits::new(sps.get(2..)?);
        bits.bits(4)?; // sps_video_parameter_set_id
        let sub_layers = bits.bits(3)?;
        let temporal_id_nested = bits.bit()?;
        let mut profile_tier_level = [0u8; 12];
        for byte in profile_tier_level.iter_mut() {
            *byte = bits.bits(8)? as u8;
        }
        let mut present = Vec::new();
        for _ in 0..sub_layers {
            present.push((bits.bit()?, bits.bit()?));
        }
        if sub_layers > 0 {
            bits.bits(2 * (8 - sub_layers.min(8)))?;
        }
        for (profile, level) in present {
            if profile == 1 {
                bits.bits(32)?;
                bits.bits(32)?;
                bits.bits(24)?;
            }
            if level == 1 {
                bits.bits(8)?;
            }
        }
        bits.ue()?; // sps_seq_parameter_set_id
        let chroma_format = bits.ue()?;
        if chroma_format == 3 {
            bits.bit()?;
        }
        bits.ue()?; // width
        bits.ue()?; // height
        if bits.bit()? == 1 {
            for _ in 0..4 {
                bits.ue()?;
            }
        }
        let bit_depth_luma_minus8 = bits.ue()?;
        let bit_depth_chroma_minus8 = bits.ue()?;
        Some(HevcSpsInfo {
            profile_tier_level,
            sub_layers: sub_layers.min(7) as u8,
            temporal_id_nested: temporal_id_nested as u8,
            chroma_format,
            bit_depth_luma_minus8,
            bit_depth_chroma_minus8,
        })
    }
}
