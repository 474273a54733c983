//! MPEG-TS packets and the program tables (pure): the 188-byte packet header with its
//! adaptation field skipped, and the PAT and PMT sections. Every read is bounded; malformed
//! input gives `None`, never a panic.

/// Bytes of one transport stream packet.
pub const PACKET_LEN: usize = 188;
/// The first byte of every packet.
pub const SYNC_BYTE: u8 = 0x47;
/// The PID of the program association table.
pub const PAT_PID: u16 = 0;

/// The header of one packet and where its payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader<'a> {
    pub pid: u16,
    /// payload_unit_start_indicator: a PES packet or a section starts here.
    pub unit_start: bool,
    pub payload: &'a [u8],
}

/// Parses one 188-byte packet; `None` for a bad sync byte, a transport error, or an
/// adaptation field longer than the packet. A packet without payload has an empty one.
pub fn parse_packet(packet: &[u8]) -> Option<PacketHeader<'_>> {
    if packet.len() != PACKET_LEN || *packet.first()? != SYNC_BYTE {
        return None;
    }
    let b1 = *packet.get(1)?;
    let b2 = *packet.get(2)?;
    let b3 = *packet.get(3)?;
    if b1 & 0x80 != 0 {
        return None; // transport_error_indicator
    }
    let pid = (u16::from(b1 & 0x1F) << 8) | u16::from(b2);
    let control = (b3 >> 4) & 0x03;
    let mut start = 4;
    if control & 0x02 != 0 {
        start += 1 + usize::from(*packet.get(4)?);
    }
    let payload = if control & 0x01 != 0 { packet.get(start..)? } else { &[] };
    Some(PacketHeader {
        pid,
        unit_start: b1 & 0x40 != 0,
        payload,
    })
}

/// The body of a PSI section (after its 8-byte header, before the CRC) from a packet
/// payload that starts one. The CRC is not checked: a corrupt table only misnames PIDs.
fn section(payload: &[u8], table_id: u8) -> Option<&[u8]> {
    let pointer = usize::from(*payload.first()?);
    let section = payload.get(1 + pointer..)?;
    if *section.first()? != table_id {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([*section.get(1)? & 0x0F, *section.get(2)?]));
    // 5 bytes of header after the length field, 4 of CRC at the end.
    section.get(8..(3 + length).checked_sub(4)?)
}

/// The PMT PID of the first program in a PAT (program number 0 is the network PID).
pub fn parse_pat(payload: &[u8]) -> Option<u16> {
    let body = section(payload, 0x00)?;
    body.chunks_exact(4).find_map(|entry| {
        let program = u16::from_be_bytes([*entry.first()?, *entry.get(1)?]);
        let pid = (u16::from(*entry.get(2)? & 0x1F) << 8) | u16::from(*entry.get(3)?);
        (program != 0).then_some(pid)
    })
}

/// The codecs this server turns into frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamType {
    H264,
    Hevc,
    AacAdts,
}

impl StreamType {
    fn from_byte(stream_type: u8) -> Option<StreamType> {
        match stream_type {
            0x1B => Some(StreamType::H264),
            0x24 => Some(StreamType::Hevc),
            0x0F => Some(StreamType::AacAdts),
            _ => None,
        }
    }
}

/// The elementary streams of a PMT this server understands: the first video and the first
/// audio stream (others are ignored).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgramMap {
    pub video: Option<(u16, StreamType)>,
    pub audio: Option<(u16, StreamType)>,
}

/// Parses a PMT section.
pub fn parse_pmt(payload: &[u8]) -> Option<ProgramMap> {
    let body = section(payload, 0x02)?;
    let info_len = usize::from(u16::from_be_bytes([*body.get(2)? & 0x0F, *body.get(3)?]));
    let mut rest = body.get(4 + info_len..)?;
    let mut map = ProgramMap::default();
    while rest.len() >= 5 {
        let stream_type = *rest.first()?;
        let pid = (u16::from(*rest.get(1)? & 0x1F) << 8) | u16::from(*rest.get(2)?);
        let es_info = usize::from(u16::from_be_bytes([*rest.get(3)? & 0x0F, *rest.get(4)?]));
        match StreamType::from_byte(stream_type) {
            Some(kind @ (StreamType::H264 | StreamType::Hevc)) if map.video.is_none() => {
                map.video = Some((pid, kind));
            }
            Some(kind @ StreamType::AacAdts) if map.audio.is_none() => map.audio = Some((pid, kind)),
            _ => {}
        }
        rest = rest.get(5 + es_info..)?;
    }
    Some(map)
}
