use super::*;
use crate::protocol::amf3;

const DEPTH: usize = 32;

/// Parses whitespace-separated hex bytes.
pub(crate) fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

pub(crate) fn encoded(value: &Amf0Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(value, &mut out);
    out
}

fn round_trip(value: &Amf0Value) -> Amf0Value {
    let bytes = encoded(value);
    let (decoded, used) = decode_value(&bytes, DEPTH).unwrap();
    assert_eq!(used, bytes.len(), "consumed all of {value:?}");
    decoded
}

fn s(text: &str) -> Amf0Value {
    Amf0Value::String(text.to_owned())
}

pub(crate) fn ffmpeg_connect() -> Vec<u8> {
    let mut bytes = hex(
        "02 00 07 63 6f 6e 6e 65 63 74 00 3f f0 00 00 00 00 00 00 03 00 03 61 70 70 02 00 04 6c 69 76 65 \
         00 04 74 79 70 65 02 00 0a 6e 6f 6e 70 72 69 76 61 74 65 00 08 66 6c 61 73 68 56 65 72 02 00 24",
    );
    bytes.extend_from_slice(b"FMLE/3.0 (compatible; Lavf59.27.100)");
    bytes.extend_from_slice(&hex("00 05 74 63 55 72 6c 02 00 1b"));
    bytes.extend_from_slice(b"rtmp://127.0.0.1:19412/live");
    bytes.extend_from_slice(&hex("00 00 09"));
    bytes
}

fn key(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(&u16::try_from(name.len()).unwrap().to_be_bytes());
    out.extend_from_slice(name.as_bytes());
}

fn number(out: &mut Vec<u8>, n: f64) {
    out.push(0x00);
    out.extend_from_slice(&n.to_be_bytes());
}

/// Like FFmpeg's flvenc/rtmpproto: "@setDataFrame", "onMetaData", ECMA array.
pub(crate) fn ffmpeg_metadata(ecma_count: u32) -> Vec<u8> {
    let mut out = hex("02 00 0d");
    out.extend_from_slice(b"@setDataFrame");
    out.extend_from_slice(&hex("02 00 0a"));
    out.extend_from_slice(b"onMetaData");
    out.push(0x08);
    out.extend_from_slice(&ecma_count.to_be_bytes());
    key(&mut out, "duration");
    number(&mut out, 0.0);
    key(&mut out, "width");
    number(&mut out, 1280.0);
    key(&mut out, "height");
    number(&mut out, 720.0);
    key(&mut out, "stereo");
    out.extend_from_slice(&[0x01, 0x01]);
    key(&mut out, "encoder");
    out.extend_from_slice(&hex("02 00 0d"));
    out.extend_from_slice(b"Lavf59.27.100");
    out.extend_from_slice(&hex("00 00 09"));
    out
}

/// One value of every AMF0 type, nested in an object.
pub(crate) fn every_type() -> Amf0Value {
    object(&[
        ("number", Amf0Value::Number(-12.5)),
        ("true", Amf0Value::Boolean(true)),
        ("false", Amf0Value::Boolean(false)),
        ("string", s("héllo")),
        ("empty", s("")),
        ("object", object(&[("inner", Amf0Value::Number(1.0))])),
        ("null", Amf0Value::Null),
        ("undefined", Amf0Value::Undefined),
        ("reference", Amf0Value::Reference(3)),
        (
            "ecma",
            ecma_array(&[("a", Amf0Value::Number(2.0)), ("b", Amf0Value::Null)]),
        ),
        (
            "strict",
            Amf0Value::StrictArray(vec![Amf0Value::Number(1.0), s("two"), Amf0Value::StrictArray(vec![])]),
        ),
        (
            "date",
            Amf0Value::Date {
                millis: 1_700_000_000_000.0,
                timezone: -60,
            },
        ),
        ("long", Amf0Value::LongString("long but short".to_owned())),
        ("xml", Amf0Value::XmlDocument("<a b=\"c\"/>".to_owned())),
        (
            "typed",
            Amf0Value::TypedObject {
                class_name: "flex.Thing".to_owned(),
                properties: vec![("x".to_owned(), Amf0Value::Boolean(false))],
            },
        ),
        ("amf3", Amf0Value::Amf3(amf3::Amf3Value::Integer(-7))),
    ])
}

#[test]
fn decodes_each_scalar_type_from_bytes() {
    let cases: Vec<(&str, Amf0Value)> = vec![
        ("00 3f f0 00 00 00 00 00 00", Amf0Value::Number(1.0)),
        ("01 00", Amf0Value::Boolean(false)),
        ("01 01", Amf0Value::Boolean(true)),
        ("01 7f", Amf0Value::Boolean(true)),
        ("02 00 02 68 69", s("hi")),
        ("05", Amf0Value::Null),
        ("06", Amf0Value::Undefined),
        ("07 01 02", Amf0Value::Reference(0x0102)),
        (
            "0b 00 00 00 00 00 00 00 00 ff c4",
            Amf0Value::Date {
                millis: 0.0,
                timezone: -60,
            },
        ),
        ("0c 00 00 00 02 68 69", Amf0Value::LongString("hi".to_owned())),
        ("0d", Amf0Value::Undefined),
        ("0f 00 00 00 03 3c 61 3e", Amf0Value::XmlDocument("<a>".to_owned())),
        ("11 04 05", Amf0Value::Amf3(amf3::Amf3Value::Integer(5))),
    ];
    for (bytes, expected) in cases {
        let input = hex(bytes);
        assert_eq!(decode_value(&input, DEPTH), Ok((expected, input.len())), "{bytes}");
    }
}

#[test]
fn decodes_containers_from_bytes() {
    let input = hex("03 00 01 61 05 00 00 09");
    assert_eq!(
        decode_value(&input, DEPTH).unwrap().0,
        object(&[("a", Amf0Value::Null)])
    );
    let input = hex("08 00 00 00 01 00 01 61 06 00 00 09");
    assert_eq!(
        decode_value(&input, DEPTH).unwrap().0,
        ecma_array(&[("a", Amf0Value::Undefined)])
    );
    let input = hex("0a 00 00 00 02 05 06");
    assert_eq!(
        decode_value(&input, DEPTH).unwrap().0,
        Amf0Value::StrictArray(vec![Amf0Value::Null, Amf0Value::Undefined])
    );
    let input = hex("10 00 01 43 00 01 78 01 01 00 00 09");
    assert_eq!(
        decode_value(&input, DEPTH).unwrap().0,
        Amf0Value::TypedObject {
            class_name: "C".to_owned(),
            properties: vec![("x".to_owned(), Amf0Value::Boolean(true))]
        }
    );
}

#[test]
fn every_type_round_trips() {
    let value = every_type();
    assert_eq!(round_trip(&value), value);
    for (_, property) in value.properties().unwrap() {
        assert_eq!(&round_trip(property), property);
    }
}

#[test]
fn decodes_the_ffmpeg_connect_command() {
    let values = decode_all(&ffmpeg_connect(), DEPTH).unwrap();
    assert_eq!(
        values,
        vec![
            s("connect"),
            Amf0Value::Number(1.0),
            object(&[
                ("app", s("live")),
                ("type", s("nonprivate")),
                ("flashVer", s("FMLE/3.0 (compatible; Lavf59.27.100)")),
                ("tcUrl", s("rtmp://127.0.0.1:19412/live")),
            ]),
        ]
    );
    assert_eq!(values[0].as_str(), Some("connect"));
    assert_eq!(values[1].as_number(), Some(1.0));
    assert_eq!(values[2].get("app").and_then(Amf0Value::as_str), Some("live"));
    assert_eq!(values[2].get("missing"), None);
}

#[test]
fn ffmpeg_connect_encodes_back_to_the_same_bytes() {
    let bytes = ffmpeg_connect();
    let mut out = Vec::new();
    encode_all(&decode_all(&bytes, DEPTH).unwrap(), &mut out);
    assert_eq!(out, bytes);
}

#[test]
fn decodes_ffmpeg_set_data_frame_metadata() {
    let values = decode_all(&ffmpeg_metadata(5), DEPTH).unwrap();
    assert_eq!(values.len(), 3);
    assert_eq!(values[0].as_str(), Some("@setDataFrame"));
    assert_eq!(values[1].as_str(), Some("onMetaData"));
    let meta = &values[2];
    assert!(matches!(meta, Amf0Value::EcmaArray(p) if p.len() == 5));
    assert_eq!(meta.get("duration").and_then(Amf0Value::as_number), Some(0.0));
    assert_eq!(meta.get("width").and_then(Amf0Value::as_number), Some(1280.0));
    assert_eq!(meta.get("height").and_then(Amf0Value::as_number), Some(720.0));
    assert_eq!(meta.get("stereo").and_then(Amf0Value::as_bool), Some(true));
    assert_eq!(meta.get("encoder").and_then(Amf0Value::as_str), Some("Lavf59.27.100"));
}

#[test]
fn ecma_array_count_is_only_a_hint() {
    let right = decode_all(&ffmpeg_metadata(5), DEPTH).unwrap();
    assert_eq!(decode_all(&ffmpeg_metadata(0), DEPTH).unwrap(), right);
    assert_eq!(decode_all(&ffmpeg_metadata(u32::MAX), DEPTH).unwrap(), right);
}

#[test]
fn ecma_array_encodes_its_real_count() {
    let bytes = encoded(&ecma_array(&[("a", Amf0Value::Null), ("b", Amf0Value::Null)]));
    assert_eq!(bytes[..5], [0x08, 0, 0, 0, 2]);
}

#[test]
fn every_truncated_prefix_is_truncated() {
    let mut inputs = vec![encoded(&every_type()), ffmpeg_metadata(5)];
    inputs.push(
        decode_all(&ffmpeg_connect(), DEPTH)
            .unwrap()
            .iter()
            .flat_map(encoded)
            .collect(),
    );
    for input in inputs {
        let (_, used) = decode_value(&input, DEPTH).unwrap();
        for len in 0..used {
            assert_eq!(
                decode_value(&input[..len], DEPTH),
                Err(AmfError::Truncated),
                "prefix of {len} bytes"
            );
        }
    }
    let object = encoded(&every_type());
    for len in 1..object.len() {
        assert_eq!(decode_all(&object[..len], DEPTH), Err(AmfError::Truncated));
    }
}

#[test]
fn deeply_nested_objects_are_too_deep() {
    let input: Vec<u8> = (0..100_000).flat_map(|_| [0x03, 0x00, 0x01, b'a']).collect();
    assert_eq!(decode_value(&input, DEPTH), Err(AmfError::TooDeep { limit: DEPTH }));
    assert_eq!(decode_all(&input, DEPTH), Err(AmfError::TooDeep { limit: DEPTH }));
}

#[test]
fn deep_nesting_of_every_container_is_too_deep() {
    let strict: Vec<u8> = (0..100_000).flat_map(|_| [0x0a, 0, 0, 0, 1]).collect();
    let ecma: Vec<u8> = (0..100_000).flat_map(|_| [0x08, 0, 0, 0, 1, 0, 1, b'k']).collect();
    let typed: Vec<u8> = (0..100_000).flat_map(|_| [0x10, 0, 1, b'C', 0, 1, b'k']).collect();
    let mut amf3_arrays = vec![0x11];
    amf3_arrays.extend((0..100_000).flat_map(|_| [0x09, 0x03, 0x01]));
    for input in [strict, ecma, typed, amf3_arrays] {
        assert_eq!(decode_value(&input, DEPTH), Err(AmfError::TooDeep { limit: DEPTH }));
    }
}

#[test]
fn huge_max_depth_is_capped() {
    let input: Vec<u8> = (0..100_000).flat_map(|_| [0x03, 0x00, 0x01, b'a']).collect();
    assert_eq!(
        decode_value(&input, usize::MAX),
        Err(AmfError::TooDeep { limit: MAX_DEPTH_CAP })
    );
}

#[test]
fn nesting_exactly_at_the_limit_decodes() {
    let nested = |levels: usize| {
        let mut value = Amf0Value::Null;
        for _ in 0..levels {
            value = Amf0Value::Object(vec![("a".to_owned(), value)]);
        }
        encoded(&value)
    };
    assert!(decode_value(&nested(3), 3).is_ok());
    assert_eq!(decode_value(&nested(4), 3), Err(AmfError::TooDeep { limit: 3 }));
    assert!(decode_value(&encoded(&Amf0Value::Null), 0).is_ok());
    assert_eq!(decode_value(&nested(1), 0), Err(AmfError::TooDeep { limit: 0 }));
}

#[test]
fn amf0_and_amf3_nesting_share_one_depth() {
    // Two AMF0 objects, then AMF3 arrays: three AMF3 levels fit in a limit of 5, four do not.
    let input = |amf3_levels: usize| {
        let mut out = hex("03 00 01 61 03 00 01 62 11");
        for _ in 0..amf3_levels {
            out.extend_from_slice(&[0x09, 0x03, 0x01]);
        }
        out.extend_from_slice(&hex("01 00 00 09 00 00 09"));
        out
    };
    assert!(decode_value(&input(3), 5).is_ok());
    assert_eq!(decode_value(&input(4), 5), Err(AmfError::TooDeep { limit: 5 }));
}

#[test]
fn strict_array_with_huge_count_is_truncated_without_allocating() {
    let input = hex("0a ff ff ff ff 05");
    assert_eq!(decode_value(&input, DEPTH), Err(AmfError::Truncated));
    let input = hex("03 00 01 61 0a ff ff ff ff 00 00 00 00 00 00 00 00 00");
    assert_eq!(decode_value(&input, DEPTH), Err(AmfError::Truncated));
}

#[test]
fn lengths_past_the_input_are_truncated() {
    for bytes in [
        "02 ff ff 61",
        "0c ff ff ff ff 61",
        "0f 00 00 01 00",
        "03 ff ff 61",
        "10 00 09 41",
    ] {
        assert_eq!(decode_value(&hex(bytes), DEPTH), Err(AmfError::Truncated), "{bytes}");
    }
}

#[test]
fn too_many_values_is_refused() {
    let count = MAX_DECODED_VALUES + 1;
    let mut input = vec![0x0a];
    input.extend_from_slice(&u32::try_from(count).unwrap().to_be_bytes());
    input.resize(input.len() + count, 0x05);
    assert_eq!(
        decode_value(&input, DEPTH),
        Err(AmfError::TooManyValues {
            limit: MAX_DECODED_VALUES
        })
    );
    let nulls = vec![0x05; count];
    assert_eq!(
        decode_all(&nulls, DEPTH),
        Err(AmfError::TooManyValues {
            limit: MAX_DECODED_VALUES
        })
    );
}

#[test]
fn the_value_budget_bounds_what_one_decode_allocates() {
    // Regression: with a budget of 1 000 000 values, a 1 MiB command of nulls in a strict
    // array made the server allocate 54 MiB (56 bytes a value) before refusing it.
    let values = MAX_DECODED_VALUES.saturating_mul(std::mem::size_of::<Amf0Value>());
    assert!(values <= 4 << 20, "{values} bytes of values per decode");
    const { assert!(MAX_DECODED_BYTES <= 2 * crate::limits::DEFAULT_MAX_MESSAGE_SIZE) };
    let mut input = vec![0x0a];
    input.extend_from_slice(&(1u32 << 20).to_be_bytes());
    input.resize(input.len() + (1 << 20), 0x05);
    assert_eq!(
        decode_value(&input, DEPTH),
        Err(AmfError::TooManyValues {
            limit: MAX_DECODED_VALUES
        })
    );
}

#[test]
fn unknown_and_unsupported_markers_are_errors() {
    for marker in [0x04, 0x0e, 0x12, 0x7f, 0xff] {
        assert_eq!(
            decode_value(&[marker, 0, 0, 0], DEPTH),
            Err(AmfError::UnknownMarker(marker))
        );
    }
    assert_eq!(decode_value(&[0x09], DEPTH), Err(AmfError::UnexpectedObjectEnd));
    assert_eq!(
        decode_value(&hex("03 00 01 61 09"), DEPTH),
        Err(AmfError::UnexpectedObjectEnd)
    );
}

#[test]
fn invalid_utf8_is_decoded_lossily() {
    let (value, _) = decode_value(&hex("02 00 03 61 ff 62"), DEPTH).unwrap();
    assert_eq!(value, s("a\u{fffd}b"));
    let (value, _) = decode_value(&hex("03 00 01 c3 05 00 00 09"), DEPTH).unwrap();
    assert_eq!(value.get("\u{fffd}"), Some(&Amf0Value::Null));
}

#[test]
fn long_strings_are_encoded_with_the_long_marker() {
    let text = "x".repeat(70_000);
    let bytes = encoded(&Amf0Value::String(text.clone()));
    assert_eq!(bytes[0], 0x0c);
    assert_eq!(
        round_trip(&Amf0Value::String(text.clone())),
        Amf0Value::LongString(text)
    );
    let exact = "y".repeat(65_535);
    assert_eq!(encoded(&s(&exact))[..3], [0x02, 0xff, 0xff]);
    assert_eq!(round_trip(&s(&exact)), s(&exact));
}

#[test]
fn overlong_keys_are_cut_at_a_character_boundary() {
    let key = "é".repeat(40_000); // 80 000 bytes
    let value = Amf0Value::Object(vec![(key.clone(), Amf0Value::Null)]);
    let decoded = round_trip(&value);
    let (decoded_key, _) = &decoded.properties().unwrap()[0];
    assert_eq!(decoded_key.len(), 65_534);
    assert!(key.starts_with(decoded_key.as_str()));
}

#[test]
fn empty_key_before_a_value_is_a_property() {
    let value = object(&[("", Amf0Value::Number(3.0)), ("b", Amf0Value::Null)]);
    assert_eq!(round_trip(&value), value);
}

#[test]
fn decode_value_reports_bytes_consumed() {
    let mut input = ffmpeg_connect();
    let (value, used) = decode_value(&input, DEPTH).unwrap();
    assert_eq!((value, used), (s("connect"), 10));
    input.truncate(19);
    assert_eq!(decode_value(&input[10..], DEPTH), Ok((Amf0Value::Number(1.0), 9)));
}

#[test]
fn decode_all_of_nothing_is_empty() {
    assert_eq!(decode_all(&[], DEPTH), Ok(vec![]));
    assert_eq!(decode_value(&[], DEPTH), Err(AmfError::Truncated));
}

#[test]
fn accessors_and_builders() {
    assert_eq!(Amf0Value::LongString("l".to_owned()).as_str(), Some("l"));
    assert_eq!(
        Amf0Value::Amf3(amf3::Amf3Value::String("t".to_owned())).as_str(),
        Some("t")
    );
    assert_eq!(Amf0Value::Number(2.0).as_str(), None);
    assert_eq!(Amf0Value::Amf3(amf3::Amf3Value::Integer(4)).as_number(), Some(4.0));
    assert_eq!(Amf0Value::Amf3(amf3::Amf3Value::Double(0.5)).as_number(), Some(0.5));
    assert_eq!(s("1").as_number(), None);
    assert_eq!(Amf0Value::from(true).as_bool(), Some(true));
    assert_eq!(Amf0Value::from("x"), s("x"));
    assert_eq!(Amf0Value::from(String::from("x")), s("x"));
    assert_eq!(Amf0Value::from(1.5), Amf0Value::Number(1.5));
    let typed = Amf0Value::TypedObject {
        class_name: "C".to_owned(),
        properties: vec![("k".to_owned(), s("v"))],
    };
    assert_eq!(typed.get("k"), Some(&s("v")));
    assert_eq!(ecma_array(&[("k", s("v"))]).get("k"), Some(&s("v")));
    assert_eq!(s("k").get("k"), None);
    let duplicate = object(&[("k", s("first")), ("k", s("second"))]);
    assert_eq!(duplicate.get("k"), Some(&s("first")));
    let mut out = Vec::new();
    encode_all(&[s("a"), Amf0Value::Null], &mut out);
    assert_eq!(out, hex("02 00 01 61 05"));
}

#[test]
fn errors_display_and_are_std_errors() {
    let errors = [
        AmfError::Truncated,
        AmfError::UnknownMarker(4),
        AmfError::UnexpectedObjectEnd,
        AmfError::TooDeep { limit: 1 },
        AmfError::InvalidReference(2),
        AmfError::TooManyValues { limit: 3 },
        AmfError::TooLarge { limit: 4 },
        AmfError::Externalizable {
            class_name: "C".to_owned(),
        },
    ];
    for error in errors {
        let boxed: Box<dyn std::error::Error> = Box::new(error);
        assert!(!boxed.to_string().is_empty());
    }
}
