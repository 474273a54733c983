//! onMetaData for recordings (pure): a script tag body of a fixed size, reserved right after
//! the FLV header when a file starts and rebuilt in place with exactly the same length
//! whenever the writer refreshes it (every few seconds and at close) or `repair` rebuilds it.
//!
//! Layout: the string "onMetaData" and one ECMA array holding the publisher's fields (bounded
//! by [`MAX_PUBLISHER_FIELDS`] and [`MAX_PUBLISHER_FIELDS_BYTES`]; onMetaData resent
//! mid-stream is merged in with [`merge_fields`] and the layout swapped with `with_publisher`
//! when it fits the reserved length, which keeps [`METADATA_UPDATE_ROOM`] bytes for that),
//! the computed fields (duration, filesize, lasttimestamp, lastkeyframetimestamp,
//! lastkeyframelocation, hasVideo/hasAudio/hasMetadata/hasKeyframes, canSeekToEnd,
//! metadatacreator), the `keyframes` object {times, filepositions} and a final padding array
//! (zeros, then up to 8 nulls) that absorbs whatever room the index and the publisher's
//! fields do not use. The index has room for [`KEYFRAME_INDEX_CAPACITY`] entries; a file
//! with more keyframes keeps every second entry (and from then on every 2nd, 4th… keyframe),
//! so the index always covers the whole file at a coarser step instead of being cut short.

use crate::protocol::amf0::{self, Amf0Value};

/// Keyframe entries the reserved onMetaData has room for (18 bytes each: ~37 KiB).
pub const KEYFRAME_INDEX_CAPACITY: usize = 2048;
/// Bytes of one AMF0 number; every index entry is two of them.
const NUMBER_LEN: usize = 9;
/// Most bytes of publisher fields carried into a recording's onMetaData; later fields that
/// do not fit are left out (the publisher's own onMetaData is still in the live stream).
pub const MAX_PUBLISHER_FIELDS_BYTES: usize = 16 * 1024;
/// Most publisher fields carried into a recording's onMetaData (merges add no more).
pub const MAX_PUBLISHER_FIELDS: usize = 256;
/// Bytes the reserved onMetaData keeps beyond what the publisher's fields need when a file
/// starts, so fields merged from a mid-stream onMetaData (a new title, a longer string) fit.
pub const METADATA_UPDATE_ROOM: usize = 1024;
/// Name of the padding field that marks an onMetaData written by this server.
pub const PADDING_KEY: &str = "rtmpServerPadding";
/// Written in `metadatacreator`.
pub const CREATOR: &str = "rtmp-server";

/// Fields this module computes; the publisher's values for them are dropped, whatever their
/// case (OBS sends `fileSize`, next to which our `filesize` must be the only one).
const COMPUTED_KEYS: &[&str] = &[
    "duration",
    "filesize",
    "lasttimestamp",
    "lastkeyframetimestamp",
    "lastkeyframelocation",
    "hasVideo",
    "hasAudio",
    "hasMetadata",
    "hasKeyframes",
    "canSeekToEnd",
    "metadatacreator",
    "keyframes",
    "datasize",
    "videosize",
    "audiosize",
    PADDING_KEY,
];

/// Whether `key` names a field this module computes (ASCII case-insensitively).
fn is_computed(key: &str) -> bool {
    COMPUTED_KEYS.iter().any(|computed| computed.eq_ignore_ascii_case(key))
}

/// A keyframe index that thins itself instead of overflowing its capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyframeIndex {
    capacity: usize,
    stride: u64,
    seen: u64,
    /// (timestamp ms, file position of the keyframe's tag)
    entries: Vec<(u32, u64)>,
}

impl KeyframeIndex {
    pub fn new(capacity: usize) -> Self {
        KeyframeIndex {
            capacity: capacity.max(2),
            stride: 1,
            seen: 0,
            entries: Vec::new(),
        }
    }

    /// Records a keyframe tag at `position` with file timestamp `timestamp`.
    pub fn push(&mut self, timestamp: u32, position: u64) {
        let n = self.seen;
        self.seen += 1;
        if !n.is_multiple_of(self.stride) {
            return;
        }
        if self.entries.len() >= self.capacity {
            let kept: Vec<(u32, u64)> = self.entries.iter().copied().step_by(2).collect();
            self.entries = kept;
            self.stride *= 2;
            if !n.is_multiple_of(self.stride) {
                return;
            }
        }
        self.entries.push((timestamp, position));
    }

    pub fn entries(&self) -> &[(u32, u64)] {
        &self.entries
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// The computed part of a recording's onMetaData.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaStats {
    pub duration_ms: u32,
    pub filesize: u64,
    pub last_timestamp: u32,
    pub last_keyframe_timestamp: u32,
    pub last_keyframe_location: u64,
    pub has_audio: bool,
    pub has_video: bool,
    /// The last video tag is a keyframe.
    pub can_seek_to_end: bool,
    pub index: KeyframeIndex,
}

impl MetaStats {
    pub fn new(capacity: usize) -> Self {
        MetaStats {
            duration_ms: 0,
            filesize: 0,
            last_timestamp: 0,
            last_keyframe_timestamp: 0,
            last_keyframe_location: 0,
            has_audio: false,
            has_video: false,
            can_seek_to_end: false,
            index: KeyframeIndex::new(capacity),
        }
    }

    /// Notes a video tag at `position`. Every keyframe-typed tag (a sequence header too, as
    /// yamdi and flvmeta count them) is indexed unless the previous indexed one has the same
    /// timestamp, so the index matches what `flvmeta --check` computes.
    pub fn note_video(&mut self, timestamp: u32, position: u64, keyframe: bool) {
        self.has_video = true;
        self.can_seek_to_end = keyframe;
        if !keyframe {
            return;
        }
        let duplicate = self.last_keyframe_location != 0 && self.last_keyframe_timestamp == timestamp;
        if !duplicate {
            self.index.push(timestamp, position);
            self.last_keyframe_timestamp = timestamp;
            self.last_keyframe_location = position;
        }
    }
}

/// The fixed shape of one file's onMetaData: publisher fields and total body length.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataLayout {
    publisher: Vec<(String, Amf0Value)>,
    capacity: usize,
    body_len: usize,
}

impl MetadataLayout {
    /// A layout carrying `publisher` fields (minus computed ones, bounded) with room for
    /// `capacity` keyframes and [`METADATA_UPDATE_ROOM`] bytes for mid-stream updates.
    pub fn new(publisher: &[(String, Amf0Value)], capacity: usize) -> Self {
        let mut layout = MetadataLayout::unmeasured(publisher, capacity);
        layout.body_len = layout.min_len().saturating_add(METADATA_UPDATE_ROOM);
        layout
    }

    /// A layout carrying `publisher` fields in a body of exactly `body_len` bytes (an
    /// existing reserved tag); None when they and a full index do not fit.
    pub fn fitting(publisher: &[(String, Amf0Value)], capacity: usize, body_len: usize) -> Option<Self> {
        let mut layout = MetadataLayout::unmeasured(publisher, capacity);
        if layout.min_len() > body_len {
            return None;
        }
        layout.body_len = body_len;
        Some(layout)
    }

    /// This layout with other publisher fields (a mid-stream update), same capacity and
    /// length; None when they do not fit.
    pub fn with_publisher(&self, publisher: &[(String, Amf0Value)]) -> Option<Self> {
        MetadataLayout::fitting(publisher, self.capacity, self.body_len)
    }

    /// The kept publisher fields, and a body length still to be set.
    fn unmeasured(publisher: &[(String, Amf0Value)], capacity: usize) -> Self {
        let mut kept = Vec::new();
        let mut used = 0usize;
        for (key, value) in publisher {
            if is_computed(key) {
                continue;
            }
            used = used.saturating_add(field_len(key, value));
            if used > MAX_PUBLISHER_FIELDS_BYTES || kept.len() >= MAX_PUBLISHER_FIELDS {
                break;
            }
            kept.push((key.clone(), value.clone()));
        }
        MetadataLayout {
            publisher: kept,
            capacity: capacity.max(2),
            body_len: 0,
        }
    }

    /// Bytes of the body with a full index and an empty padding array: the body with an
    /// empty index plus two numbers per entry (cheap enough for every onMetaData update).
    fn min_len(&self) -> usize {
        let empty = self.encode_unpadded(&MetaStats::new(self.capacity), &[]).len();
        empty.saturating_add(self.capacity.saturating_mul(2 * NUMBER_LEN))
    }

    /// Bytes of the onMetaData tag body (constant for the layout).
    pub fn body_len(&self) -> usize {
        self.body_len
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn publisher_fields(&self) -> &[(String, Amf0Value)] {
        &self.publisher
    }

    fn fields(&self, stats: &MetaStats, entries: &[(u32, u64)]) -> Vec<(String, Amf0Value)> {
        let seconds = |ms: u32| f64::from(ms) / 1000.0;
        let mut fields = self.publisher.clone();
        let computed = [
            ("duration", Amf0Value::Number(seconds(stats.duration_ms))),
            ("filesize", Amf0Value::Number(stats.filesize as f64)),
            ("lasttimestamp", Amf0Value::Number(seconds(stats.last_timestamp))),
            (
                "lastkeyframetimestamp",
                Amf0Value::Number(seconds(stats.last_keyframe_timestamp)),
            ),
            (
                "lastkeyframelocation",
                Amf0Value::Number(stats.last_keyframe_location as f64),
            ),
            ("hasVideo", Amf0Value::Boolean(stats.has_video)),
            ("hasAudio", Amf0Value::Boolean(stats.has_audio)),
            ("hasMetadata", Amf0Value::Boolean(true)),
            ("hasKeyframes", Amf0Value::Boolean(!entries.is_empty())),
            ("canSeekToEnd", Amf0Value::Boolean(stats.can_seek_to_end)),
            ("metadatacreator", Amf0Value::String(CREATOR.to_owned())),
        ];
        fields.extend(computed.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let times = entries.iter().map(|(t, _)| Amf0Value::Number(seconds(*t))).collect();
        let positions = entries.iter().map(|(_, p)| Amf0Value::Number(*p as f64)).collect();
        fields.push((
            "keyframes".to_owned(),
            amf0::object(&[
                ("times", Amf0Value::StrictArray(times)),
                ("filepositions", Amf0Value::StrictArray(positions)),
            ]),
        ));
        fields
    }

    /// The body with an empty padding field.
    fn encode_unpadded(&self, stats: &MetaStats, entries: &[(u32, u64)]) -> Vec<u8> {
        self.encode_with_padding(stats, entries, 0)
    }

    fn encode_with_padding(&self, stats: &MetaStats, entries: &[(u32, u64)], padding: usize) -> Vec<u8> {
        let mut fields = self.fields(stats, entries);
        // Padding is a strict array of zeros (9 bytes each) and nulls (1 byte each) for the
        // rest: FFmpeg reads neither long strings nor strings of 256 bytes or more in
        // onMetaData.
        let mut filler = vec![Amf0Value::Number(0.0); padding / NUMBER_LEN];
        filler.extend(std::iter::repeat_n(Amf0Value::Null, padding % NUMBER_LEN));
        fields.push((PADDING_KEY.to_owned(), Amf0Value::StrictArray(filler)));
        let mut body = Vec::with_capacity(self.body_len);
        amf0::encode(&Amf0Value::String("onMetaData".to_owned()), &mut body);
        amf0::encode(&Amf0Value::EcmaArray(fields), &mut body);
        body
    }

    /// The onMetaData body for `stats`, exactly `body_len()` bytes long.
    pub fn build(&self, stats: &MetaStats) -> Vec<u8> {
        let entries = stats.index.entries();
        let entries = entries.get(..self.capacity.min(entries.len())).unwrap_or(&[]);
        let unpadded = self.encode_unpadded(stats, entries);
        // The layout's length is at least that of a full index and an empty padding array,
        // and the padding fills any number of bytes, so the body is always `body_len` long.
        let padding = self.body_len.saturating_sub(unpadded.len());
        self.encode_with_padding(stats, entries, padding)
    }
}

/// Encoded bytes of one ECMA array entry (key and value).
fn field_len(key: &str, value: &Amf0Value) -> usize {
    let mut encoded = Vec::new();
    amf0::encode(value, &mut encoded);
    2 + key.len() + encoded.len()
}

/// Merges a mid-stream onMetaData's fields into `fields`: a key already there (ASCII
/// case-insensitively) gets the new value, a new key is appended, fields the server
/// computes are skipped. The result stays within
/// [`MAX_PUBLISHER_FIELDS`] and [`MAX_PUBLISHER_FIELDS_BYTES`]; returns how many updated
/// fields were left out to stay there.
pub fn merge_fields(fields: &mut Vec<(String, Amf0Value)>, update: &[(String, Amf0Value)]) -> usize {
    let mut used: usize = fields.iter().map(|(k, v)| field_len(k, v)).sum();
    let mut left_out = 0;
    for (key, value) in update.iter().filter(|(k, _)| !is_computed(k)) {
        let len = field_len(key, value);
        match fields.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some(field) => {
                let grown = used.saturating_sub(field_len(&field.0, &field.1)).saturating_add(len);
                if grown > MAX_PUBLISHER_FIELDS_BYTES {
                    left_out += 1;
                    continue;
                }
                used = grown;
                *field = (key.clone(), value.clone());
            }
            None => {
                let grown = used.saturating_add(len);
                if grown > MAX_PUBLISHER_FIELDS_BYTES || fields.len() >= MAX_PUBLISHER_FIELDS {
                    left_out += 1;
                    continue;
                }
                used = grown;
                fields.push((key.clone(), value.clone()));
            }
        }
    }
    left_out
}

/// The fields of an onMetaData script body ("onMetaData" then an object or ECMA array);
/// None for any other script data.
pub fn parse_onmetadata(body: &[u8], max_depth: usize) -> Option<Vec<(String, Amf0Value)>> {
    let (name, used) = amf0::decode_value(body, max_depth).ok()?;
    if name.as_str() != Some("onMetaData") {
        return None;
    }
    let (value, _) = amf0::decode_value(body.get(used..)?, max_depth).ok()?;
    value.properties().map(<[_]>::to_vec)
}

/// True when a script body is an onMetaData written by this server (it has the padding field).
pub fn is_reserved(fields: &[(String, Amf0Value)]) -> bool {
    fields.iter().any(|(k, _)| k == PADDING_KEY)
}

#[cfg(test)]
#[path = "metadata_tests.rs"]
mod tests;
