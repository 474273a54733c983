//! Demuxes one FLV/RTMP audio or video payload, once (pure, sans-IO, no allocation): codec,
//! keyframe, codec configuration record, end of sequence, composition time offset and where
//! the encoder's bytes start, for legacy FLV headers and Enhanced RTMP (v1/v2: FourCC,
//! ModEx, multitrack). Malformed or truncated payloads give a sane description, never a panic.

use crate::protocol::frame_kind::FrameKind;

/// A video codec, from a legacy FLV codec id or an Enhanced RTMP FourCC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// Legacy codec id 7 or FourCC `avc1`.
    Avc,
    /// Legacy codec id 12 or FourCC `hvc1`.
    Hevc,
    /// FourCC `av01`.
    Av1,
    /// FourCC `vp09`.
    Vp9,
    /// Any other legacy codec id (0..=15), or FourCC as a big-endian u32 (as onMetaData's
    /// `videocodecid` carries it).
    Other(u32),
}

/// An audio codec, from a legacy FLV SoundFormat or an Enhanced RTMP FourCC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    /// SoundFormat 10 or FourCC `mp4a`.
    Aac,
    /// SoundFormat 2 or 14 (8 kHz), or FourCC `.mp3`.
    Mp3,
    /// FourCC `Opus`.
    Opus,
    /// FourCC `fLaC`.
    Flac,
    /// FourCC `ac-3`.
    Ac3,
    /// FourCC `ec-3`.
    Eac3,
    /// Any other legacy SoundFormat (0..=15), or FourCC as a big-endian u32.
    Other(u32),
}

/// The codec a payload names; `Unknown` for data frames and for headers too short to say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Codec {
    #[default]
    Unknown,
    Video(VideoCodec),
    Audio(AudioCodec),
}

/// Everything a muxer needs from a frame's header bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameInfo {
    pub codec: Codec,
    /// A video keyframe: frame type 1 (legacy or Enhanced RTMP, not multitrack).
    pub keyframe: bool,
    /// The frame carries the codec configuration record (legacy AVC/HEVC/AAC sequence
    /// header, Enhanced RTMP SequenceStart): `data` is that record.
    pub config: bool,
    /// End of sequence (legacy AVC/HEVC packet type 2, Enhanced RTMP SequenceEnd).
    pub end_of_sequence: bool,
    /// `data` is coded media a muxer writes as a sample (NALUs, AV1 OBUs, raw AAC, ...).
    pub coded: bool,
    /// Composition time offset in ms (pts = dts + cts): legacy AVC/HEVC NALU packets and
    /// Enhanced RTMP `avc1`/`hvc1` CodedFrames; 0 for everything else.
    pub cts: i32,
    /// Where the encoder's bytes start in the payload (never past its end).
    pub data_offset: usize,
    /// The legacy FLV codec id (video) or SoundFormat (audio); None for Enhanced RTMP.
    pub legacy_id: Option<u8>,
    /// The payload has an Enhanced RTMP header.
    pub enhanced: bool,
    /// Enhanced RTMP multitrack: `data` starts at the first track, which this does not
    /// demux (never keyframe, config or coded).
    pub multitrack: bool,
}

impl FrameInfo {
    /// The encoder's bytes of `payload` (the payload this was demuxed from).
    pub fn data<'a>(&self, payload: &'a [u8]) -> &'a [u8] {
        payload.get(self.data_offset..).unwrap_or_default()
    }

    /// The codec configuration record, when the frame carries one.
    pub fn config_record<'a>(&self, payload: &'a [u8]) -> Option<&'a [u8]> {
        self.config.then(|| self.data(payload))
    }
}

const FRAME_TYPE_KEY: u8 = 1;
/// Video info/command frame: a command byte, no media.
const FRAME_TYPE_COMMAND: u8 = 5;
const CODEC_AVC: u8 = 7;
const CODEC_HEVC_LEGACY: u8 = 12;
/// Legacy AVC/HEVC header: frame type/codec id, packet type, SI24 composition time.
const LEGACY_AVC_HEADER_LEN: usize = 5;
const AVC_PACKET_SEQUENCE_HEADER: u8 = 0;
const AVC_PACKET_NALU: u8 = 1;
const AVC_PACKET_END_OF_SEQUENCE: u8 = 2;
/// Enhanced RTMP video: the high bit of the first byte marks the extended header.
const EX_VIDEO_HEADER_BIT: u8 = 0x80;
/// Enhanced RTMP packet types (video and audio share 0..=2 and ModEx).
const EX_SEQUENCE_START: u8 = 0;
const EX_CODED_FRAMES: u8 = 1;
const EX_SEQUENCE_END: u8 = 2;
const EX_VIDEO_CODED_FRAMES_X: u8 = 3;
const EX_VIDEO_METADATA: u8 = 4;
const EX_VIDEO_MULTITRACK: u8 = 6;
const EX_AUDIO_MULTITRACK: u8 = 5;
const EX_MOD_EX: u8 = 7;
/// AvMultitrackType whose tracks each name their own FourCC.
const MULTITRACK_MANY_CODECS: u8 = 2;
const SOUND_FORMAT_MP3: u8 = 2;
const SOUND_FORMAT_EX_HEADER: u8 = 9;
const SOUND_FORMAT_AAC: u8 = 10;
const SOUND_FORMAT_MP3_8K: u8 = 14;
const AAC_HEADER_LEN: usize = 2;
const AAC_PACKET_SEQUENCE_HEADER: u8 = 0;
const AAC_PACKET_RAW: u8 = 1;

/// Demuxes a payload of the given kind (data frames: all of it is data, codec unknown).
pub fn demux(kind: FrameKind, payload: &[u8]) -> FrameInfo {
    match kind {
        FrameKind::Video => video(payload),
        FrameKind::Audio => audio(payload),
        FrameKind::Data => FrameInfo::default(),
    }
}

/// Demuxes a video tag body (legacy FLV or Enhanced RTMP).
pub fn video(payload: &[u8]) -> FrameInfo {
    match payload.first() {
        None => FrameInfo::default(),
        Some(&first) if first & EX_VIDEO_HEADER_BIT != 0 => enhanced_video(first, payload),
        Some(&first) => legacy_video(first, payload),
    }
}

/// Demuxes an audio tag body (legacy FLV or Enhanced RTMP).
pub fn audio(payload: &[u8]) -> FrameInfo {
    match payload.first() {
        None => FrameInfo::default(),
        Some(&first) if first >> 4 == SOUND_FORMAT_EX_HEADER => enhanced_audio(first, payload),
        Some(&first) => legacy_audio(first, payload),
    }
}

fn legacy_video(first: u8, payload: &[u8]) -> FrameInfo {
    let frame_type = first >> 4;
    let id = first & 0x0F;
    let codec = match id {
        CODEC_AVC => VideoCodec::Avc,
        CODEC_HEVC_LEGACY => VideoCodec::Hevc,
        other => VideoCodec::Other(u32::from(other)),
    };
    let mut info = FrameInfo {
        codec: Codec::Video(codec),
        keyframe: frame_type == FRAME_TYPE_KEY,
        data_offset: 1,
        legacy_id: Some(id),
        ..FrameInfo::default()
    };
    if frame_type == FRAME_TYPE_COMMAND {
        info.data_offset = payload.len();
        return info;
    }
    if !matches!(codec, VideoCodec::Avc | VideoCodec::Hevc) {
        info.coded = true;
        return info;
    }
    info.data_offset = LEGACY_AVC_HEADER_LEN.min(payload.len());
    let complete = payload.len() >= LEGACY_AVC_HEADER_LEN;
    match payload.get(1).copied() {
        // Set by the packet type alone, as the flag always was (an empty record is the
        // muxer's to refuse).
        Some(AVC_PACKET_SEQUENCE_HEADER) => info.config = true,
        Some(AVC_PACKET_NALU) if complete => {
            info.coded = true;
            info.cts = Reader::at(payload, 2).si24().unwrap_or(0);
        }
        Some(AVC_PACKET_END_OF_SEQUENCE) => info.end_of_sequence = true,
        _ => {}
    }
    info
}

/// The start of an Enhanced RTMP tag: its description so far (no data yet: the data ends
/// where the payload does), a reader past the first byte, and the packet type after any
/// ModEx blocks (`None` when the payload ends first).
fn enhanced_start(first: u8, payload: &[u8]) -> (FrameInfo, Reader<'_>, Option<u8>) {
    let info = FrameInfo {
        data_offset: payload.len(),
        enhanced: true,
        ..FrameInfo::default()
    };
    let mut reader = Reader::at(payload, 1);
    let packet_type = reader.packet_type_after_mod_ex(first & 0x0F);
    (info, reader, packet_type)
}

fn enhanced_video(first: u8, payload: &[u8]) -> FrameInfo {
    let frame_type = (first >> 4) & 0x07;
    let (mut info, mut reader, packet_type) = enhanced_start(first, payload);
    info.keyframe = frame_type == FRAME_TYPE_KEY;
    let Some(packet_type) = packet_type else {
        return info;
    };
    if packet_type != EX_VIDEO_METADATA && frame_type == FRAME_TYPE_COMMAND {
        return info; // a command byte follows, no FourCC, no media
    }
    if packet_type == EX_VIDEO_MULTITRACK {
        info.keyframe = false;
        return multitrack(info, reader, |fourcc| Codec::Video(VideoCodec::from_fourcc(fourcc)));
    }
    let Some(fourcc) = reader.fourcc() else {
        return info;
    };
    let codec = VideoCodec::from_fourcc(fourcc);
    info.codec = Codec::Video(codec);
    match packet_type {
        EX_SEQUENCE_START => info.config = true,
        EX_CODED_FRAMES if matches!(codec, VideoCodec::Avc | VideoCodec::Hevc) => {
            let Some(cts) = reader.si24() else {
                return info;
            };
            info.cts = cts;
            info.coded = true;
        }
        EX_CODED_FRAMES | EX_VIDEO_CODED_FRAMES_X => info.coded = true,
        EX_SEQUENCE_END => info.end_of_sequence = true,
        _ => {} // Metadata (AMF), MPEG2TSSequenceStart, reserved
    }
    info.data_offset = reader.pos;
    info
}

fn legacy_audio(first: u8, payload: &[u8]) -> FrameInfo {
    let format = first >> 4;
    let codec = match format {
        SOUND_FORMAT_AAC => AudioCodec::Aac,
        SOUND_FORMAT_MP3 | SOUND_FORMAT_MP3_8K => AudioCodec::Mp3,
        other => AudioCodec::Other(u32::from(other)),
    };
    let mut info = FrameInfo {
        codec: Codec::Audio(codec),
        data_offset: 1,
        legacy_id: Some(format),
        ..FrameInfo::default()
    };
    if codec != AudioCodec::Aac {
        info.coded = true;
        return info;
    }
    info.data_offset = AAC_HEADER_LEN.min(payload.len());
    match payload.get(1).copied() {
        Some(AAC_PACKET_SEQUENCE_HEADER) => info.config = true,
        Some(AAC_PACKET_RAW) => info.coded = true,
        _ => {}
    }
    info
}

fn enhanced_audio(first: u8, payload: &[u8]) -> FrameInfo {
    let (mut info, mut reader, packet_type) = enhanced_start(first, payload);
    let Some(packet_type) = packet_type else {
        return info;
    };
    if packet_type == EX_AUDIO_MULTITRACK {
        return multitrack(info, reader, |fourcc| Codec::Audio(AudioCodec::from_fourcc(fourcc)));
    }
    let Some(fourcc) = reader.fourcc() else {
        return info;
    };
    info.codec = Codec::Audio(AudioCodec::from_fourcc(fourcc));
    match packet_type {
        EX_SEQUENCE_START => info.config = true,
        EX_CODED_FRAMES => info.coded = true,
        EX_SEQUENCE_END => info.end_of_sequence = true,
        _ => {} // MultichannelConfig, reserved
    }
    info.data_offset = reader.pos;
    info
}

/// The multitrack header after the packet type: AvMultitrackType and the tracks' packet
/// type, then one FourCC unless every track names its own.
fn multitrack(mut info: FrameInfo, mut reader: Reader<'_>, codec: impl Fn([u8; 4]) -> Codec) -> FrameInfo {
    info.multitrack = true;
    let Some(byte) = reader.u8() else {
        return info;
    };
    if byte >> 4 != MULTITRACK_MANY_CODECS {
        let Some(fourcc) = reader.fourcc() else {
            return info;
        };
        info.codec = codec(fourcc);
    }
    info.data_offset = reader.pos;
    info
}

impl VideoCodec {
    fn from_fourcc(fourcc: [u8; 4]) -> VideoCodec {
        match &fourcc {
            b"avc1" => VideoCodec::Avc,
            b"hvc1" => VideoCodec::Hevc,
            b"av01" => VideoCodec::Av1,
            b"vp09" => VideoCodec::Vp9,
            _ => VideoCodec::Other(u32::from_be_bytes(fourcc)),
        }
    }
}

impl AudioCodec {
    fn from_fourcc(fourcc: [u8; 4]) -> AudioCodec {
        match &fourcc {
            b"mp4a" => AudioCodec::Aac,
            b".mp3" => AudioCodec::Mp3,
            b"Opus" => AudioCodec::Opus,
            b"fLaC" => AudioCodec::Flac,
            b"ac-3" => AudioCodec::Ac3,
            b"ec-3" => AudioCodec::Eac3,
            _ => AudioCodec::Other(u32::from_be_bytes(fourcc)),
        }
    }
}

/// Bounded reads from a payload: every read past its end is None.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn at(bytes: &'a [u8], pos: usize) -> Reader<'a> {
        Reader { bytes, pos }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(slice)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        let bytes: [u8; 2] = self.take(2)?.try_into().ok()?;
        Some(u16::from_be_bytes(bytes))
    }

    fn fourcc(&mut self) -> Option<[u8; 4]> {
        self.take(4)?.try_into().ok()
    }

    /// A signed 24-bit big-endian integer (a composition time offset).
    fn si24(&mut self) -> Option<i32> {
        let [a, b, c]: [u8; 3] = self.take(3)?.try_into().ok()?;
        Some(i32::from_be_bytes([a, b, c, 0]) >> 8)
    }

    /// Skips Enhanced RTMP v2 ModEx blocks (size, data, then a byte whose high nibble is
    /// the ModEx type and low nibble the next packet type); returns the packet type after
    /// them. Each block consumes at least three bytes, so the loop ends with the payload.
    fn packet_type_after_mod_ex(&mut self, mut packet_type: u8) -> Option<u8> {
        while packet_type == EX_MOD_EX {
            let mut size = usize::from(self.u8()?) + 1;
            if size == 256 {
                size = usize::from(self.u16()?) + 1;
            }
            self.take(size)?;
            packet_type = self.u8()? & 0x0F;
        }
        Some(packet_type)
    }
}

#[cfg(test)]
#[path = "demux_tests.rs"]
mod tests;
