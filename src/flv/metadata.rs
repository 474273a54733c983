//! onMetaData for recordings (pure): a script tag body of a fixed size, reserved right after
//! the FLV header when a file starts and rebuilt in place with exactly the same length
//! whenever the writer refreshes it (every few seconds and at close) or `repair` rebuilds it.
//!
//! Layout: the string "onMetaData" and one ECMA array holding the publisher's fields (fixed
//! when the file starts, bounded by [`MAX_PUBLISHER_FIELDS_BYTES`]), the computed fields
//! (duration, filesize, lasttimestamp, lastkeyframetimestamp, lastkeyframelocation,
//! hasVideo/hasAudio/hasMetadata/hasKeyframes, canSeekToEnd, metadatacreator), the `keyframes`
//! object {times, filepositions} and a final padding array of zeros that absorbs the room the
//! index does not use yet. The index has room for [`KEYFRAME_INDEX_CAPACITY`] entries; a file
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
    /// A layout carrying `publisher` fields (minus computed ones, bounded in size) with room
    /// for `capacity` keyframes.
    pub fn new(publisher: &[(String, Amf0Value)], capacity: usize) -> Self {
        let mut kept = Vec::new();
        let mut used = 0usize;
        for (key, value) in publisher {
            if is_computed(key) {
                continue;
            }
            let mut encoded = Vec::new();
            amf0::encode(&Amf0Value::Object(vec![(key.clone(), value.clone())]), &mut encoded);
            used = used.saturating_add(encoded.len());
            if used > MAX_PUBLISHER_FIELDS_BYTES {
                break;
            }
            kept.push((key.clone(), value.clone()));
        }
        let mut layout = MetadataLayout {
            publisher: kept,
            capacity: capacity.max(2),
            body_len: 0,
        };
        let full = vec![(0u32, 0u64); layout.capacity];
        layout.body_len = layout.encode_unpadded(&MetaStats::new(layout.capacity), &full).len();
        layout
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
        // Padding is a strict array of zeros (9 bytes each): FFmpeg reads neither long
        // strings nor strings of 256 bytes or more in onMetaData.
        let zeros = vec![Amf0Value::Number(0.0); padding / NUMBER_LEN];
        fields.push((PADDING_KEY.to_owned(), Amf0Value::StrictArray(zeros)));
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
        // The layout's length was measured with a full index and an empty padding value;
        // numbers are always 9 bytes, so the unused index room is exactly the padding.
        let padding = self.body_len.saturating_sub(unpadded.len());
        self.encode_with_padding(stats, entries, padding)
    }
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
mod tests {
    use super::*;

    fn publisher() -> Vec<(String, Amf0Value)> {
        vec![
            ("width".to_owned(), Amf0Value::Number(320.0)),
            ("duration".to_owned(), Amf0Value::Number(0.0)),
            ("encoder".to_owned(), Amf0Value::String("Lavf".to_owned())),
        ]
    }

    #[test]
    fn body_length_is_the_same_for_every_index_size() {
        let layout = MetadataLayout::new(&publisher(), 16);
        let mut stats = MetaStats::new(16);
        let empty = layout.build(&stats);
        assert_eq!(empty.len(), layout.body_len());
        for i in 0..40u32 {
            stats.index.push(i * 1000, 1000 + u64::from(i) * 5000);
            assert_eq!(layout.build(&stats).len(), layout.body_len(), "after {i} keyframes");
        }
    }

    #[test]
    fn built_body_decodes_with_publisher_and_computed_fields() {
        let layout = MetadataLayout::new(&publisher(), 8);
        let mut stats = MetaStats::new(8);
        stats.duration_ms = 5960;
        stats.filesize = 12345;
        stats.has_video = true;
        stats.index.push(0, 100);
        stats.index.push(1000, 2000);
        let fields = parse_onmetadata(&layout.build(&stats), 8).unwrap();
        let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(get("width"), Some(Amf0Value::Number(320.0)));
        assert_eq!(get("duration"), Some(Amf0Value::Number(5.96)));
        assert_eq!(fields.iter().filter(|(k, _)| k == "duration").count(), 1);
        assert_eq!(get("filesize"), Some(Amf0Value::Number(12345.0)));
        assert_eq!(get("hasKeyframes"), Some(Amf0Value::Boolean(true)));
        let keyframes = get("keyframes").unwrap();
        assert_eq!(
            keyframes.get("filepositions"),
            Some(&Amf0Value::StrictArray(vec![
                Amf0Value::Number(100.0),
                Amf0Value::Number(2000.0)
            ]))
        );
        assert!(is_reserved(&fields));
    }

    #[test]
    fn a_full_index_thins_to_every_other_entry_and_keeps_covering_the_file() {
        let mut index = KeyframeIndex::new(4);
        for i in 0..9u32 {
            index.push(i, u64::from(i));
        }
        // 0..3 fill it; 4 thins to 0,2 and stride 2; 4,6 added; 8 thins to 0,4 stride 4 then 8.
        assert_eq!(index.entries(), &[(0, 0), (4, 4), (8, 8)]);
        assert!(index.entries().len() <= index.capacity());
    }

    #[test]
    fn oversized_publisher_fields_are_bounded() {
        let big: Vec<(String, Amf0Value)> = (0..100)
            .map(|i| (format!("k{i}"), Amf0Value::String("x".repeat(1000))))
            .collect();
        let layout = MetadataLayout::new(&big, 4);
        assert!(layout.publisher_fields().len() < 20);
        assert!(layout.body_len() < MAX_PUBLISHER_FIELDS_BYTES + 1024);
    }

    #[test]
    fn publisher_fields_the_server_computes_are_dropped_whatever_their_case() {
        // "onMetaData", ECMA array of 3: fileSize 0 (as OBS sends it), DURATION 9, width 320.
        let mut body = vec![0x02, 0x00, 0x0A];
        body.extend_from_slice(b"onMetaData");
        body.extend_from_slice(&[0x08, 0, 0, 0, 3]);
        for (key, value) in [("fileSize", 0.0f64), ("DURATION", 9.0), ("width", 320.0)] {
            body.extend_from_slice(&(key.len() as u16).to_be_bytes());
            body.extend_from_slice(key.as_bytes());
            body.push(0x00);
            body.extend_from_slice(&value.to_be_bytes());
        }
        body.extend_from_slice(&[0, 0, 0x09]);
        let publisher = parse_onmetadata(&body, 8).unwrap();
        let layout = MetadataLayout::new(&publisher, 4);
        let kept: Vec<&str> = layout.publisher_fields().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kept, ["width"]);
        let mut stats = MetaStats::new(4);
        stats.filesize = 4321;
        let fields = parse_onmetadata(&layout.build(&stats), 8).unwrap();
        let sizes: Vec<_> = fields
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("filesize"))
            .collect();
        assert_eq!(sizes, [&("filesize".to_owned(), Amf0Value::Number(4321.0))]);
        assert_eq!(
            fields
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("duration"))
                .count(),
            1
        );
    }

    #[test]
    fn non_metadata_script_bodies_are_not_onmetadata() {
        let mut body = Vec::new();
        amf0::encode(&Amf0Value::String("onTextData".to_owned()), &mut body);
        amf0::encode(&amf0::object(&[]), &mut body);
        assert_eq!(parse_onmetadata(&body, 8), None);
        assert_eq!(parse_onmetadata(b"garbage", 8), None);
    }
}
