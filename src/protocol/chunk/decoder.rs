//! Chunk decoder: joins RTMP chunks (fmt 0-3, any csid size, extended timestamps) into messages.
//!
//! Sans-IO and streaming: `decode` takes whatever bytes have arrived, consumes complete chunk
//! headers and any payload bytes present, and returns at most one finished message per call.
//! Timestamp semantics follow FFmpeg's `rtmppkt.c` (see `ChunkDecoder::decode`).

use super::csid_map::CsidMap;

use byteorder::{BigEndian, ByteOrder, LittleEndian};

use super::limits::EXTENDED_MARKER;
use super::limits::MAX_CHUNK_SIZE;
pub use super::limits::{ChunkError, ChunkLimits};
use super::RawMessage;

/// Result of one `decode` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes of the input consumed; the caller drops exactly these and keeps the rest.
    pub consumed: usize,
    /// A message completed by the consumed bytes, if any.
    pub message: Option<RawMessage>,
}

/// Per-csid state: the last header's fields plus the unfinished message, if any.
#[derive(Debug)]
struct StreamState {
    /// Absolute timestamp of the last message started on this csid.
    timestamp: u32,
    /// Raw 24-bit timestamp field of the last header (absolute for fmt 0, delta for fmt 1/2).
    ts_field: u32,
    /// Last extended timestamp value read; meaningful when `ts_field == EXTENDED_MARKER`.
    ext_value: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
    /// Payload received so far of the unfinished message, if one is in progress.
    partial: Option<Vec<u8>>,
}

impl StreamState {
    fn extended(&self) -> bool {
        self.ts_field == EXTENDED_MARKER
    }
}

/// The chunk whose payload is being read.
#[derive(Debug, Clone, Copy)]
struct CurrentChunk {
    csid: u32,
    /// Payload bytes of this chunk still to read (always > 0 while stored).
    remaining: usize,
}

/// A parsed header that starts a new message.
#[derive(Debug)]
struct NewMessage {
    csid: u32,
    timestamp: u32,
    ts_field: u32,
    ext_value: Option<u32>,
    length: u32,
    type_id: u8,
    stream_id: u32,
}

enum Header {
    /// Header not complete yet.
    Incomplete,
    /// fmt 3 chunk continuing the message in progress on `csid`; `omitted_ext` when the peer
    /// left out the extended timestamp the previous header announced.
    Continuation { len: usize, csid: u32, omitted_ext: bool },
    /// Header starting a new message.
    New { len: usize, msg: NewMessage },
}

enum Step {
    NeedMore,
    Progress(usize),
    Message(usize, RawMessage),
}

/// Reassembles RTMP messages from the peer's chunk stream.
#[derive(Debug)]
pub struct ChunkDecoder {
    limits: ChunkLimits,
    chunk_size: u32,
    streams: CsidMap<StreamState>,
    current: Option<CurrentChunk>,
    partial_bytes: usize,
    omitted_extended: u64,
}

impl ChunkDecoder {
    pub fn new(limits: ChunkLimits) -> Self {
        Self {
            limits,
            chunk_size: super::INITIAL_CHUNK_SIZE,
            streams: CsidMap::new(),
            current: None,
            partial_bytes: 0,
            omitted_extended: 0,
        }
    }

    /// Applies the peer's Set Chunk Size to the chunks that follow (valid: 1..=`MAX_CHUNK_SIZE`).
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), ChunkError> {
        if size == 0 || size > MAX_CHUNK_SIZE {
            return Err(ChunkError::InvalidChunkSize(size));
        }
        self.chunk_size = size;
        Ok(())
    }

    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Drops the unfinished message on `csid` (Abort Message). Its header state is kept, so the
    /// next fmt 1/2/3 chunk on `csid` starts a new message. Unknown csids are ignored.
    pub fn abort(&mut self, csid: u32) {
        if let Some(partial) = self.streams.get_mut(&csid).and_then(|s| s.partial.take()) {
            self.partial_bytes = self.partial_bytes.saturating_sub(partial.len());
        }
    }

    /// Payload bytes currently held in unfinished messages.
    pub fn partial_bytes(&self) -> usize {
        self.partial_bytes
    }

    /// Number of chunk streams with state.
    pub fn chunk_stream_count(&self) -> usize {
        self.streams.len()
    }

    /// fmt 3 continuation chunks that omitted the repeated extended timestamp.
    pub fn omitted_extended_timestamps(&self) -> u64 {
        self.omitted_extended
    }

    /// Consumes bytes from `input`: any number of whole chunk headers and payload bytes, stopping
    /// after the first message that completes or at an incomplete chunk header (at most
    /// `MAX_HEADER_LEN` bytes, which the caller keeps and passes again with more). `consumed` may
    /// be 0 only when `message` is `None` and more input is needed. Callers loop while
    /// `consumed > 0 || message.is_some()`.
    ///
    /// Timestamps (FFmpeg semantics): fmt 0 is absolute; fmt 1/2 add their delta to the csid's
    /// previous timestamp (wrapping); fmt 3 starting a new message adds the previous header's field
    /// (so fmt 0 at 1000 followed by a fmt 3 message gives 2000); fmt 3 continuations change nothing.
    ///
    /// Extended timestamps on fmt 3: when the csid's last header used one, a fmt 3 chunk starting a
    /// message always carries 4 extended bytes. A fmt 3 continuation chunk should repeat them
    /// (FFmpeg, librtmp, Flash), but some encoders omit them; like SRS, the 4 bytes are consumed only
    /// if they equal the stored extended value, otherwise they are treated as payload.
    ///
    /// A header other than fmt 3 on a csid whose message is unfinished (as SRS): fmt 0 is an error
    /// (`NewMessageMidMessage`), so is a fmt 1 with another length (`LengthChangedMidMessage`);
    /// a fmt 1 with the same length or a fmt 2 only repeats the header and continues the message.
    ///
    /// Errors are fatal for the connection. If bytes were consumed earlier in the same call, the
    /// call returns them as `Ok` first and the error comes back on the next call.
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, ChunkError> {
        let mut consumed = 0usize;
        while let Some(rest) = input.get(consumed..) {
            if rest.is_empty() {
                break;
            }
            match self.step(rest) {
                Ok(Step::NeedMore) => break,
                Ok(Step::Progress(n)) => consumed = consumed.saturating_add(n),
                Ok(Step::Message(n, message)) => {
                    return Ok(Decoded {
                        consumed: consumed.saturating_add(n),
                        message: Some(message),
                    })
                }
                Err(_) if consumed > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(Decoded {
            consumed,
            message: None,
        })
    }

    /// One header or one run of payload bytes. Leaves state untouched on error.
    fn step(&mut self, input: &[u8]) -> Result<Step, ChunkError> {
        match self.current {
            Some(current) => self.read_payload(current, input),
            None => match self.parse_header(input)? {
                Header::Incomplete => Ok(Step::NeedMore),
                Header::Continuation { len, csid, omitted_ext } => {
                    if omitted_ext {
                        self.omitted_extended = self.omitted_extended.saturating_add(1);
                    }
                    self.start_continuation(csid);
                    Ok(Step::Progress(len))
                }
                Header::New { len, msg } => {
                    self.validate_new(&msg)?;
                    Ok(match self.start_message(msg) {
                        Some(message) => Step::Message(len, message),
                        None => Step::Progress(len),
                    })
                }
            },
        }
    }

    fn read_payload(&mut self, current: CurrentChunk, input: &[u8]) -> Result<Step, ChunkError> {
        let n = current.remaining.min(input.len());
        let bytes = input.get(..n).unwrap_or(&[]);
        let remaining = current.remaining.saturating_sub(n);
        self.current = (remaining > 0).then_some(CurrentChunk {
            csid: current.csid,
            remaining,
        });
        let Some(state) = self.streams.get_mut(&current.csid) else {
            return Ok(Step::Progress(n));
        };
        let Some(partial) = state.partial.as_mut() else {
            // Aborted mid-chunk: skip the rest of this chunk's payload.
            return Ok(Step::Progress(n));
        };
        let total = self.partial_bytes.saturating_add(n);
        if total > self.limits.max_partial_bytes {
            self.current = Some(current);
            return Err(ChunkError::PartialBytesExceeded {
                limit: self.limits.max_partial_bytes,
            });
        }
        let length = usize::try_from(state.length).unwrap_or(usize::MAX);
        // The only message in progress may size itself by all the input that has arrived
        // (usually the whole message: one allocation, no regrowth); with several in progress
        // each grows by what it received, so one read can't reserve for many.
        let arrived = if self.partial_bytes == 0 { input.len() } else { n };
        reserve_bounded(partial, n, length, arrived);
        partial.extend_from_slice(bytes);
        self.partial_bytes = total;
        if partial.len() < length {
            return Ok(Step::Progress(n));
        }
        // A message always ends on a chunk boundary, so `current` is already None here.
        self.current = None;
        let buf = state.partial.take().unwrap_or_default();
        self.partial_bytes = self.partial_bytes.saturating_sub(buf.len());
        Ok(Step::Message(
            n,
            RawMessage {
                csid: current.csid,
                timestamp: state.timestamp,
                type_id: state.type_id,
                stream_id: state.stream_id,
                payload: buf,
            },
        ))
    }

    fn parse_header(&self, input: &[u8]) -> Result<Header, ChunkError> {
        let Some(&first) = input.first() else {
            return Ok(Header::Incomplete);
        };
        let fmt = first >> 6;
        let (csid, mut pos) = match first & 0x3F {
            0 => match input.get(1) {
                Some(&b) => (u32::from(b).saturating_add(64), 2usize),
                None => return Ok(Header::Incomplete),
            },
            1 => match (input.get(1), input.get(2)) {
                (Some(&b1), Some(&b2)) => {
                    let low = u32::from(u16::from_le_bytes([b1, b2]));
                    (low.saturating_add(64), 3usize)
                }
                _ => return Ok(Header::Incomplete),
            },
            n => (u32::from(n), 1usize),
        };
        let state = self.streams.get(&csid);
        if fmt != 0 && state.is_none() {
            return Err(ChunkError::NoPreviousHeader { csid });
        }
        let header_len = match fmt {
            0 => 11,
            1 => 7,
            2 => 3,
            _ => 0,
        };
        let Some(mh) = input.get(pos..).and_then(|r| r.get(..header_len)) else {
            return Ok(Header::Incomplete);
        };
        pos = pos.saturating_add(header_len);

        let in_progress = state.is_some_and(|s| s.partial.is_some());
        if fmt != 3 && in_progress {
            return mid_message_header(fmt, csid, mh, state, input, pos);
        }
        if fmt == 3 && in_progress {
            let mut omitted_ext = false;
            if let Some(s) = state.filter(|s| s.extended()) {
                let Some(ext) = read_ext(input, pos) else {
                    return Ok(Header::Incomplete);
                };
                if ext == s.ext_value {
                    pos = pos.saturating_add(4);
                } else {
                    omitted_ext = true;
                }
            }
            return Ok(Header::Continuation {
                len: pos,
                csid,
                omitted_ext,
            });
        }

        let ts_field = match (mh.get(0..3), state) {
            (Some(b), _) => BigEndian::read_u24(b),
            (None, Some(s)) => s.ts_field,
            (None, None) => 0,
        };
        let ext_value = if ts_field == EXTENDED_MARKER {
            let Some(ext) = read_ext(input, pos) else {
                return Ok(Header::Incomplete);
            };
            pos = pos.saturating_add(4);
            Some(ext)
        } else {
            None
        };
        let value = ext_value.unwrap_or(ts_field);
        let prev = |f: fn(&StreamState) -> u32| state.map_or(0, f);
        let msg = NewMessage {
            csid,
            timestamp: if fmt == 0 {
                value
            } else {
                prev(|s| s.timestamp).wrapping_add(value)
            },
            ts_field,
            ext_value,
            length: match mh.get(3..6) {
                Some(b) => BigEndian::read_u24(b),
                None => prev(|s| s.length),
            },
            type_id: match mh.get(6) {
                Some(&t) => t,
                None => state.map_or(0, |s| s.type_id),
            },
            stream_id: match mh.get(7..11) {
                Some(b) => LittleEndian::read_u32(b),
                None => prev(|s| s.stream_id),
            },
        };
        Ok(Header::New { len: pos, msg })
    }

    fn validate_new(&self, msg: &NewMessage) -> Result<(), ChunkError> {
        let length = usize::try_from(msg.length).unwrap_or(usize::MAX);
        if length > self.limits.max_message_size {
            return Err(ChunkError::MessageTooLarge {
                csid: msg.csid,
                length,
                limit: self.limits.max_message_size,
            });
        }
        if !self.streams.contains_key(&msg.csid) && self.streams.len() >= self.limits.max_chunk_streams {
            return Err(ChunkError::TooManyChunkStreams {
                limit: self.limits.max_chunk_streams,
            });
        }
        Ok(())
    }

    fn start_continuation(&mut self, csid: u32) {
        let chunk_size = usize::try_from(self.chunk_size).unwrap_or(usize::MAX);
        let remaining = self.streams.get(&csid).and_then(|s| {
            let held = s.partial.as_ref()?.len();
            let length = usize::try_from(s.length).ok()?;
            Some(length.saturating_sub(held).min(chunk_size))
        });
        if let Some(remaining) = remaining.filter(|&r| r > 0) {
            self.current = Some(CurrentChunk { csid, remaining });
        }
    }

    /// Commits a validated new-message header; returns the message if it is empty.
    fn start_message(&mut self, msg: NewMessage) -> Option<RawMessage> {
        let old = self.streams.insert(
            msg.csid,
            StreamState {
                timestamp: msg.timestamp,
                ts_field: msg.ts_field,
                ext_value: 0,
                length: msg.length,
                type_id: msg.type_id,
                stream_id: msg.stream_id,
                partial: None,
            },
        );
        let state = self.streams.get_mut(&msg.csid)?;
        if let Some(old) = old {
            state.ext_value = old.ext_value;
        }
        if let Some(ext) = msg.ext_value {
            state.ext_value = ext;
        }
        if msg.length == 0 {
            return Some(RawMessage {
                csid: msg.csid,
                timestamp: msg.timestamp,
                type_id: msg.type_id,
                stream_id: msg.stream_id,
                payload: Vec::new(),
            });
        }
        state.partial = Some(Vec::new());
        let chunk_size = usize::try_from(self.chunk_size).unwrap_or(usize::MAX);
        let length = usize::try_from(msg.length).unwrap_or(usize::MAX);
        self.current = Some(CurrentChunk {
            csid: msg.csid,
            remaining: length.min(chunk_size),
        });
        None
    }
}

/// A fmt 0/1/2 header (message header `mh`, ending at `pos`) on `csid` while its message is
/// unfinished: an error, or (fmt 1 with the same length, fmt 2) a continuation whose header
/// fields and extended timestamp are skipped.
fn mid_message_header(
    fmt: u8,
    csid: u32,
    mh: &[u8],
    state: Option<&StreamState>,
    input: &[u8],
    pos: usize,
) -> Result<Header, ChunkError> {
    if fmt == 0 {
        return Err(ChunkError::NewMessageMidMessage { csid });
    }
    let expected = state.map_or(0, |s| s.length);
    if let Some(b) = mh.get(3..6) {
        let length = BigEndian::read_u24(b);
        if length != expected {
            return Err(ChunkError::LengthChangedMidMessage { csid, length, expected });
        }
    }
    let mut len = pos;
    if mh.get(0..3).map(BigEndian::read_u24) == Some(EXTENDED_MARKER) {
        if read_ext(input, pos).is_none() {
            return Ok(Header::Incomplete);
        }
        len = pos.saturating_add(4);
    }
    Ok(Header::Continuation {
        len,
        csid,
        omitted_ext: false,
    })
}

/// The 4-byte big-endian extended timestamp at `pos`, if present.
fn read_ext(input: &[u8], pos: usize) -> Option<u32> {
    input.get(pos..).and_then(|r| r.get(..4)).map(BigEndian::read_u32)
}

/// Grows `buf` for `n` more bytes, doubling, but never reserving past the announced `length`
/// nor more than twice what arrived (`arrived`: the input bytes present from this payload on,
/// at least `n`): a peer's announced length alone allocates nothing (issue 7: never allocate
/// more than has arrived). A message's last growth step lands exactly on its length, so the
/// finished payload has no spare capacity.
fn reserve_bounded(buf: &mut Vec<u8>, n: usize, length: usize, arrived: usize) {
    let needed = buf.len().saturating_add(n);
    if needed <= buf.capacity() {
        return;
    }
    let target = buf
        .capacity()
        .saturating_mul(2)
        .max(needed)
        .max(buf.len().saturating_add(arrived))
        .min(length.max(needed));
    buf.reserve_exact(target.saturating_sub(buf.len()));
}

#[cfg(test)]
#[path = "decoder_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "decoder_hostile_tests.rs"]
mod hostile_tests;
