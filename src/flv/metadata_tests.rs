//! onMetaData unit tests: fixed body length, computed and publisher fields, index thinning,
//! mid-stream merges.

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
    assert!(layout.body_len() < MAX_PUBLISHER_FIELDS_BYTES + METADATA_UPDATE_ROOM + 1024);
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

fn field(key: &str, value: Amf0Value) -> (String, Amf0Value) {
    (key.to_owned(), value)
}

#[test]
fn merges_replace_keys_case_insensitively_and_append_new_ones() {
    let mut fields = vec![
        field("width", Amf0Value::Number(320.0)),
        field("Encoder", Amf0Value::String("a".into())),
    ];
    let update = [
        field("encoder", Amf0Value::String("b".into())),
        field("FILESIZE", Amf0Value::Number(0.0)),
        field("title", Amf0Value::String("t".into())),
    ];
    assert_eq!(merge_fields(&mut fields, &update), 0);
    assert_eq!(
        fields,
        [
            field("width", Amf0Value::Number(320.0)),
            field("encoder", Amf0Value::String("b".into())),
            field("title", Amf0Value::String("t".into())),
        ]
    );
}

#[test]
fn merges_stay_within_the_field_count_and_byte_limits() {
    let mut fields = Vec::new();
    let many: Vec<_> = (0..MAX_PUBLISHER_FIELDS + 10)
        .map(|i| field(&format!("k{i}"), Amf0Value::Number(0.0)))
        .collect();
    assert_eq!(merge_fields(&mut fields, &many), 10);
    assert_eq!(fields.len(), MAX_PUBLISHER_FIELDS);
    let mut fields = vec![field("small", Amf0Value::Number(1.0))];
    let big = [field(
        "small",
        Amf0Value::String("x".repeat(MAX_PUBLISHER_FIELDS_BYTES)),
    )];
    assert_eq!(merge_fields(&mut fields, &big), 1, "a value that grows past the limit");
    assert_eq!(fields, [field("small", Amf0Value::Number(1.0))]);
}

#[test]
fn an_update_that_fits_keeps_the_body_length_and_one_that_does_not_is_refused() {
    let layout = MetadataLayout::new(&publisher(), 8);
    let mut stats = MetaStats::new(8);
    for i in 0..8u32 {
        stats.index.push(i * 1000, u64::from(i) * 100);
    }
    // Every length of a new string, so the padding has to absorb every remainder.
    for n in 0..40 {
        let mut fields = publisher();
        fields.push(field("title", Amf0Value::String("x".repeat(n))));
        let updated = layout.with_publisher(&fields).expect("fits the update room");
        let body = updated.build(&stats);
        assert_eq!(body.len(), layout.body_len(), "title of {n} bytes");
        let parsed = parse_onmetadata(&body, 8).unwrap();
        assert!(parsed.contains(&field("title", Amf0Value::String("x".repeat(n)))));
        assert!(is_reserved(&parsed));
    }
    let mut too_big = publisher();
    too_big.push(field("title", Amf0Value::String("x".repeat(METADATA_UPDATE_ROOM))));
    assert_eq!(layout.with_publisher(&too_big), None);
}

#[test]
fn an_existing_reserved_tag_is_rebuilt_at_its_own_length() {
    let layout = MetadataLayout::new(&publisher(), KEYFRAME_INDEX_CAPACITY);
    let mut grown = publisher();
    grown.push(field("title", Amf0Value::String("merged later".into())));
    let body = layout
        .with_publisher(&grown)
        .unwrap()
        .build(&MetaStats::new(KEYFRAME_INDEX_CAPACITY));
    // What repair reads back: every field, computed ones and padding included.
    let read = parse_onmetadata(&body, 16).unwrap();
    let rebuilt = MetadataLayout::fitting(&read, KEYFRAME_INDEX_CAPACITY, body.len()).unwrap();
    assert_eq!(rebuilt.body_len(), body.len());
    grown.retain(|(k, _)| k != "duration");
    assert_eq!(rebuilt.publisher_fields(), grown.as_slice(), "computed fields dropped");
    assert_eq!(MetadataLayout::fitting(&read, KEYFRAME_INDEX_CAPACITY, 100), None);
}
