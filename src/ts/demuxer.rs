//! `TsDemuxer`: an MPEG transport stream in, the frames of an RTMP publish out (pure,
//! sans-IO). Bytes arrive in any chunking; PAT and PMT pick the first H.264/HEVC and AAC
//! streams, PES packets are reassembled (bounded), and each access unit becomes an FLV tag
//! body: AVC legacy or HEVC Enhanced RTMP (`hvc1`) with composition offsets, AAC raw frames,
//! each stream's sequence header before its first frame and again when it changes.

use super::adts::{split_adts, SAMPLES_PER_FRAME};
use super::clock::Clock;
use super::interleave::Interleaver;
use super::nal::{ParameterSets, VideoCodec};
use super::packet::{parse_packet, parse_pat, parse_pmt, ProgramMap, StreamType, PACKET_LEN, PAT_PID, SYNC_BYTE};
use super::pes::{decode_time, Pes, PesAssembler};
use crate::media::FrameKind;

/// One frame for the registry: what an RTMP publisher's audio or video message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsFrame {
    pub kind: FrameKind,
    /// Decode time in ms since the stream's first timestamp.
    pub timestamp: u32,
    /// The FLV tag body.
    pub payload: Vec<u8>,
}

/// What the demuxer met that it could not use, for statistics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DemuxStats {
    /// Bytes skipped to find the next sync byte.
    pub skipped_bytes: u64,
    /// Packets or PES packets that did not parse, or were over the size bound.
    pub bad_packets: u64,
}

/// The demuxer's state for one transport stream.
#[derive(Debug, Default)]
pub struct TsDemuxer {
    /// A partial packet (less than 188 bytes) carried to the next `push`.
    pending: Vec<u8>,
    pmt_pid: Option<u16>,
    map: ProgramMap,
    video: PesAssembler,
    audio: PesAssembler,
    clock: Clock,
    params: ParameterSets,
    /// True once the video sequence header went out (frames before it are dropped).
    video_configured: bool,
    audio_config: Option<[u8; 2]>,
    interleaver: Interleaver,
    stats: DemuxStats,
}

impl TsDemuxer {
    pub fn new() -> TsDemuxer {
        TsDemuxer::default()
    }

    pub fn stats(&self) -> DemuxStats {
        let mut stats = self.stats;
        stats.bad_packets += self.video.dropped + self.audio.dropped;
        stats
    }

    /// Feeds bytes of the transport stream; the frames they complete are appended to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<TsFrame>) {
        if !self.pending.is_empty() {
            let need = PACKET_LEN - self.pending.len();
            let take = need.min(data.len());
            self.pending.extend_from_slice(data.get(..take).unwrap_or_default());
            data = data.get(take..).unwrap_or_default();
            if self.pending.len() < PACKET_LEN {
                return;
            }
            let packet = std::mem::take(&mut self.pending);
            if packet.first() == Some(&SYNC_BYTE) {
                self.packet(&packet, out);
            } else {
                self.stats.skipped_bytes += PACKET_LEN as u64;
            }
        }
        while !data.is_empty() {
            if data.first() != Some(&SYNC_BYTE) {
                let skip = data.iter().position(|&b| b == SYNC_BYTE).unwrap_or(data.len());
                self.stats.skipped_bytes += skip as u64;
                data = data.get(skip..).unwrap_or_default();
                continue;
            }
            // A sync byte not followed by one a packet later is a byte of garbage.
            if data.get(PACKET_LEN).is_some_and(|&b| b != SYNC_BYTE) {
                self.stats.skipped_bytes += 1;
                data = data.get(1..).unwrap_or_default();
                continue;
            }
            match (data.get(..PACKET_LEN), data.get(PACKET_LEN..)) {
                (Some(packet), Some(rest)) => {
                    self.packet(packet, out);
                    data = rest;
                }
                _ => {
                    self.pending.extend_from_slice(data);
                    return;
                }
            }
        }
    }

    /// Ends the stream: the PES packets in progress are flushed.
    pub fn finish(&mut self, out: &mut Vec<TsFrame>) {
        if let Some(pes) = self.video.finish() {
            self.on_video(pes, out);
        }
        if let Some(pes) = self.audio.finish() {
            self.on_audio(pes, out);
        }
        self.interleaver.drain(out);
    }

    fn packet(&mut self, packet: &[u8], out: &mut Vec<TsFrame>) {
        let Some(header) = parse_packet(packet) else {
            self.stats.bad_packets += 1;
            return;
        };
        if header.pid == PAT_PID {
            if header.unit_start {
                if let Some(pid) = parse_pat(header.payload) {
                    self.pmt_pid = Some(pid);
                }
            }
        } else if Some(header.pid) == self.pmt_pid {
            if header.unit_start {
                if let Some(map) = parse_pmt(header.payload) {
                    if map != self.map {
                        self.map = map;
                        self.video = PesAssembler::default();
                        self.audio = PesAssembler::default();
                    }
                }
            }
        } else if Some(header.pid) == self.map.video.map(|(pid, _)| pid) {
            self.observe_start(header.unit_start, header.payload);
            if let Some(pes) = self.video.push(header.unit_start, header.payload) {
                self.on_video(pes, out);
            }
        } else if Some(header.pid) == self.map.audio.map(|(pid, _)| pid) {
            self.observe_start(header.unit_start, header.payload);
            if let Some(pes) = self.audio.push(header.unit_start, header.payload) {
                self.on_audio(pes, out);
            }
        }
    }

    /// Sets the clock going at the first PES packet that starts (in stream order, while a
    /// packet completes only at the next start of its stream).
    fn observe_start(&mut self, unit_start: bool, payload: &[u8]) {
        if unit_start {
            if let Some(ts) = decode_time(payload) {
                self.clock.unwrap(ts);
            }
        }
    }

    /// Hands a frame to the interleaver (both tracks present) or straight out.
    fn emit(&mut self, out: &mut Vec<TsFrame>, frame: TsFrame) {
        let both = self.map.video.is_some() && self.map.audio.is_some();
        self.interleaver.push(frame, both, out);
    }

    fn on_video(&mut self, pes: Pes, out: &mut Vec<TsFrame>) {
        let codec = match self.map.video {
            Some((_, StreamType::H264)) => VideoCodec::H264,
            Some((_, StreamType::Hevc)) => VideoCodec::Hevc,
            _ => return,
        };
        let Some(pts) = pes.pts else { return };
        // The decode time first: the first one seen is the timeline's zero.
        let dts = self.clock.unwrap(pes.dts.unwrap_or(pts));
        let pts = self.clock.unwrap(pts);
        let timestamp = self.clock.ms(dts);
        let cts = ((pts - dts) / 90).clamp(-(1 << 23), (1 << 23) - 1) as i32;
        let sample = self.params.convert(codec, &pes.data);
        if sample.config_changed {
            if let Some(record) = self.params.record(codec) {
                self.emit(
                    out,
                    TsFrame {
                        kind: FrameKind::Video,
                        timestamp,
                        payload: video_tag(codec, true, Packet::Config, &record),
                    },
                );
                self.video_configured = true;
            }
        }
        if !self.video_configured || sample.data.is_empty() {
            return;
        }
        self.emit(
            out,
            TsFrame {
                kind: FrameKind::Video,
                timestamp,
                payload: video_tag(codec, sample.keyframe, Packet::Frame(cts), &sample.data),
            },
        );
    }

    fn on_audio(&mut self, pes: Pes, out: &mut Vec<TsFrame>) {
        if !matches!(self.map.audio, Some((_, StreamType::AacAdts))) {
            return;
        }
        let Some(pts) = pes.pts else { return };
        let pts = self.clock.unwrap(pts);
        for (index, frame) in split_adts(&pes.data).into_iter().enumerate() {
            let offset = index as i64 * i64::from(SAMPLES_PER_FRAME) * 90_000 / i64::from(frame.sample_rate);
            let timestamp = self.clock.ms(pts + offset);
            if self.audio_config != Some(frame.config) {
                self.audio_config = Some(frame.config);
                self.emit(
                    out,
                    TsFrame {
                        kind: FrameKind::Audio,
                        timestamp,
                        payload: [&[0xAF, 0x00][..], &frame.config[..]].concat(),
                    },
                );
            }
            self.emit(
                out,
                TsFrame {
                    kind: FrameKind::Audio,
                    timestamp,
                    payload: [&[0xAF, 0x01][..], frame.data].concat(),
                },
            );
        }
    }
}

enum Packet {
    Config,
    /// Coded frames with their composition time offset (ms).
    Frame(i32),
}

/// An FLV video tag body: legacy AVC (codec id 7) or Enhanced RTMP `hvc1`.
fn video_tag(codec: VideoCodec, keyframe: bool, packet: Packet, data: &[u8]) -> Vec<u8> {
    let frame_type: u8 = if keyframe { 1 } else { 2 };
    let mut tag = Vec::with_capacity(data.len() + 8);
    match codec {
        VideoCodec::H264 => {
            tag.push((frame_type << 4) | 7);
            match packet {
                Packet::Config => tag.extend_from_slice(&[0, 0, 0, 0]),
                Packet::Frame(cts) => {
                    tag.push(1);
                    tag.extend_from_slice(cts.to_be_bytes().get(1..).unwrap_or_default());
                }
            }
        }
        VideoCodec::Hevc => {
            let packet_type = match packet {
                Packet::Config => 0,
                Packet::Frame(_) => 1,
            };
            tag.push(0x80 | (frame_type << 4) | packet_type);
            tag.extend_from_slice(b"hvc1");
            if let Packet::Frame(cts) = packet {
                tag.extend_from_slice(cts.to_be_bytes().get(1..).unwrap_or_default());
            }
        }
    }
    tag.extend_from_slice(data);
    tag
}
