//! Repair unit tests on files built in a temp folder.

use super::*;
use crate::flv::reader::read_all;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rtmp-repair-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("file.flv")
}

/// A file as the recorder writes it: reserved onMetaData (empty stats), then tags.
fn recorded_file(keyframes: u32) -> Vec<u8> {
    let layout = MetadataLayout::new(
        &[("width".to_owned(), Amf0Value::Number(320.0))],
        KEYFRAME_INDEX_CAPACITY,
    );
    let mut file = file_header(true, true).to_vec();
    encode_tag(
        TAG_SCRIPT,
        0,
        &layout.build(&MetaStats::new(layout.capacity())),
        &mut file,
    )
    .unwrap();
    for i in 0..keyframes * 10 {
        let key = i % 10 == 0;
        encode_tag(
            9,
            i * 40,
            &[if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, i as u8],
            &mut file,
        )
        .unwrap();
    }
    file
}

fn metadata_of(bytes: &[u8]) -> Vec<(String, Amf0Value)> {
    let (_, tags) = read_all(bytes).unwrap();
    parse_onmetadata(tags[0].body, 16).unwrap()
}

fn number(fields: &[(String, Amf0Value)], key: &str) -> f64 {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.as_number())
        .unwrap()
}

#[test]
fn torn_tail_is_cut_and_metadata_rebuilt_in_place() {
    let path = temp("torn");
    let mut bytes = recorded_file(3);
    let whole = bytes.len();
    bytes.extend_from_slice(&[9, 0, 1, 0, 0, 0]);
    std::fs::write(&path, &bytes).unwrap();
    let report = repair(&path).unwrap();
    assert!(!report.rewritten);
    assert_eq!(report.cut_bytes, 6);
    let fixed = std::fs::read(&path).unwrap();
    assert_eq!(fixed.len(), whole);
    let fields = metadata_of(&fixed);
    assert_eq!(number(&fields, "duration"), 29.0 * 0.04);
    assert_eq!(number(&fields, "filesize"), whole as f64);
    assert_eq!(number(&fields, "width"), 320.0);
    let positions = fields
        .iter()
        .find(|(k, _)| k == "keyframes")
        .and_then(|(_, v)| v.get("filepositions").cloned())
        .unwrap();
    let Amf0Value::StrictArray(positions) = positions else {
        panic!()
    };
    assert_eq!(positions.len(), 3);
    for p in positions {
        let p = p.as_number().unwrap() as usize;
        assert_eq!((fixed[p], fixed[p + 11]), (9, 0x17));
    }
    assert_eq!(fixed[4], 1, "video-only flags");
}

#[test]
fn foreign_flv_is_rewritten_with_an_index() {
    let path = temp("foreign");
    let mut bytes = file_header(true, true).to_vec();
    for i in 0..20u32 {
        encode_tag(
            9,
            i * 40,
            &[if i % 10 == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0],
            &mut bytes,
        )
        .unwrap();
    }
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&path, &bytes).unwrap();
    let report = repair(&path).unwrap();
    assert!(report.rewritten);
    let fixed = std::fs::read(&path).unwrap();
    let (_, tags) = read_all(&fixed).unwrap();
    assert_eq!(tags.len(), 20, "onMetaData + 19 whole tags");
    assert_eq!(number(&metadata_of(&fixed), "filesize"), fixed.len() as f64);
    assert!(!path.with_file_name("file.flv.repair-tmp").exists());
}

#[test]
fn non_flv_is_refused_and_left_unchanged() {
    let path = temp("notflv");
    std::fs::write(&path, b"hello, this is not a video").unwrap();
    assert!(matches!(repair(&path), Err(RepairError::NotFlv(_))));
    assert_eq!(std::fs::read(&path).unwrap(), b"hello, this is not a video");
    std::fs::write(&path, b"").unwrap();
    assert!(matches!(repair(&path), Err(RepairError::NotFlv(_))));
}
