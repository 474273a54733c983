use super::*;
use crate::protocol::amf0::tests::hex;
use crate::protocol::amf0::{self, Amf0Value, MAX_DECODED_BYTES, MAX_DECODED_VALUES};

const DEPTH: usize = 32;

pub(crate) fn encoded(value: &Amf3Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(value, &mut out);
    out
}

fn decoded(input: &[u8]) -> Result<Amf3Value, AmfError> {
    decode_value(input, DEPTH).map(|(value, _)| value)
}

fn round_trip(value: &Amf3Value) -> Amf3Value {
    let bytes = encoded(value);
    let (decoded, used) = decode_value(&bytes, DEPTH).unwrap();
    assert_eq!(used, bytes.len(), "consumed all of {value:?}");
    decoded
}

fn s(text: &str) -> Amf3Value {
    Amf3Value::String(text.to_owned())
}

fn props(pairs: &[(&str, Amf3Value)]) -> Vec<(String, Amf3Value)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

pub(crate) fn every_type() -> Amf3Value {
    let anonymous = Amf3Value::Object {
        class_name: String::new(),
        properties: props(&[("a", Amf3Value::Integer(1))]),
    };
    Amf3Value::Array {
        associative: props(&[("assoc", s("value")), ("nested", anonymous.clone())]),
        dense: vec![
            Amf3Value::Undefined,
            Amf3Value::Null,
            Amf3Value::Boolean(false),
            Amf3Value::Boolean(true),
            Amf3Value::Integer(-5),
            Amf3Value::Double(2.5),
            s("héllo"),
            s(""),
            s("héllo"),
            Amf3Value::XmlDocument("<doc/>".to_owned()),
            Amf3Value::Date(1_700_000_000_000.0),
            Amf3Value::Object {
                class_name: "flex.Typed".to_owned(),
                properties: props(&[("x", Amf3Value::Double(1.0)), ("", Amf3Value::Null)]),
            },
            Amf3Value::Object {
                class_name: String::new(),
                properties: props(&[("", s("empty key"))]),
            },
            anonymous,
            Amf3Value::Xml("<xml/>".to_owned()),
            Amf3Value::ByteArray(vec![0, 1, 2, 255]),
            Amf3Value::VectorInt(vec![i32::MIN, -1, 0, i32::MAX]),
            Amf3Value::VectorUint(vec![0, u32::MAX]),
            Amf3Value::VectorDouble(vec![-0.5, 1e300]),
            Amf3Value::VectorObject {
                type_name: "Thing".to_owned(),
                items: vec![Amf3Value::Null, s("x")],
            },
            Amf3Value::Dictionary(vec![(s("k"), Amf3Value::Integer(1)), (Amf3Value::Integer(2), s("v"))]),
            Amf3Value::Array {
                associative: vec![],
                dense: vec![],
            },
        ],
    }
}

#[test]
fn u29_edge_values_have_the_specified_encodings_and_round_trip() {
    let cases: [(u32, &str); 9] = [
        (0, "00"),
        (0x7F, "7f"),
        (0x80, "81 00"),
        (0x3FFF, "ff 7f"),
        (0x4000, "81 80 00"),
        (0x1F_FFFF, "ff ff 7f"),
        (0x20_0000, "80 c0 80 00"),
        (0x0FFF_FFFF, "bf ff ff ff"),
        (0x1FFF_FFFF, "ff ff ff ff"),
    ];
    for (value, bytes) in cases {
        let mut out = Vec::new();
        write_u29(value, &mut out);
        assert_eq!(out, hex(bytes), "{value:#x}");
        // Read back as an integer value (29-bit, sign-extended).
        let mut input = vec![0x04];
        input.extend_from_slice(&out);
        let (decoded, used) = decode_value(&input, DEPTH).unwrap();
        assert_eq!(used, input.len());
        let expected = if value & (1 << 28) != 0 {
            value as i32 - (1 << 29)
        } else {
            value as i32
        };
        assert_eq!(decoded, Amf3Value::Integer(expected), "{value:#x}");
    }
}

#[test]
fn integer_edge_values_round_trip() {
    for i in [
        0,
        1,
        0x7F,
        0x80,
        0x3FFF,
        0x4000,
        0x1F_FFFF,
        0x20_0000,
        INTEGER_MAX,
        -1,
        -0x80,
        -0x4000,
        INTEGER_MIN,
    ] {
        assert_eq!(round_trip(&Amf3Value::Integer(i)), Amf3Value::Integer(i), "{i}");
    }
    assert_eq!(encoded(&Amf3Value::Integer(-1)), hex("04 ff ff ff ff"));
    assert_eq!(encoded(&Amf3Value::Integer(INTEGER_MIN)), hex("04 c0 80 80 00"));
}

#[test]
fn integers_outside_29_bits_become_doubles() {
    for i in [INTEGER_MAX + 1, INTEGER_MIN - 1, i32::MAX, i32::MIN] {
        assert_eq!(round_trip(&Amf3Value::Integer(i)), Amf3Value::Double(f64::from(i)));
    }
}

#[test]
fn every_type_round_trips() {
    let value = every_type();
    assert_eq!(round_trip(&value), value);
    if let Amf3Value::Array { dense, .. } = &value {
        for item in dense {
            assert_eq!(&round_trip(item), item);
        }
    }
}

#[test]
fn decodes_handwritten_values() {
    let cases: Vec<(&str, Amf3Value)> = vec![
        ("00", Amf3Value::Undefined),
        ("01", Amf3Value::Null),
        ("02", Amf3Value::Boolean(false)),
        ("03", Amf3Value::Boolean(true)),
        ("05 3f f0 00 00 00 00 00 00", Amf3Value::Double(1.0)),
        ("06 05 68 69", s("hi")),
        ("07 05 3c 61", Amf3Value::XmlDocument("<a".to_owned())),
        ("08 01 00 00 00 00 00 00 00 00", Amf3Value::Date(0.0)),
        ("0b 03 78", Amf3Value::Xml("x".to_owned())),
        ("0c 05 01 02", Amf3Value::ByteArray(vec![1, 2])),
        ("0d 05 01 00 00 00 01 ff ff ff ff", Amf3Value::VectorInt(vec![1, -1])),
        ("0e 03 00 ff ff ff ff", Amf3Value::VectorUint(vec![u32::MAX])),
        ("0f 03 00 40 00 00 00 00 00 00 00", Amf3Value::VectorDouble(vec![2.0])),
        (
            "10 03 00 03 2a 04 07",
            Amf3Value::VectorObject {
                type_name: "*".to_owned(),
                items: vec![Amf3Value::Integer(7)],
            },
        ),
        (
            "11 03 00 06 03 6b 03",
            Amf3Value::Dictionary(vec![(s("k"), Amf3Value::Boolean(true))]),
        ),
        // Dynamic anonymous object {a: 5}.
        (
            "0a 0b 01 03 61 04 05 01",
            Amf3Value::Object {
                class_name: String::new(),
                properties: props(&[("a", Amf3Value::Integer(5))]),
            },
        ),
        // Typed object with one sealed member and one dynamic member.
        (
            "0a 1b 03 43 03 61 04 01 03 62 04 02 01",
            Amf3Value::Object {
                class_name: "C".to_owned(),
                properties: props(&[("a", Amf3Value::Integer(1)), ("b", Amf3Value::Integer(2))]),
            },
        ),
        // Array: associative {k: null}, dense [true].
        (
            "09 03 03 6b 01 01 03",
            Amf3Value::Array {
                associative: props(&[("k", Amf3Value::Null)]),
                dense: vec![Amf3Value::Boolean(true)],
            },
        ),
    ];
    for (bytes, expected) in cases {
        let input = hex(bytes);
        assert_eq!(decode_value(&input, DEPTH), Ok((expected, input.len())), "{bytes}");
    }
}

#[test]
fn string_references_resolve_and_skip_the_empty_string() {
    // ["abc", ref 0] and ["", "ab", ref 0]: the empty string never enters the table.
    let value = decoded(&hex("09 05 01 06 07 61 62 63 06 00")).unwrap();
    assert_eq!(
        value,
        Amf3Value::Array {
            associative: vec![],
            dense: vec![s("abc"), s("abc")]
        }
    );
    let value = decoded(&hex("09 07 01 06 01 06 05 61 62 06 00")).unwrap();
    assert_eq!(
        value,
        Amf3Value::Array {
            associative: vec![],
            dense: vec![s(""), s("ab"), s("ab")]
        }
    );
}

#[test]
fn keys_and_class_names_share_the_string_table() {
    // Object {name: "name"}: the value is a reference to the key.
    let value = decoded(&hex("0a 0b 01 09 6e 61 6d 65 06 00 01")).unwrap();
    assert_eq!(
        value,
        Amf3Value::Object {
            class_name: String::new(),
            properties: props(&[("name", s("name"))])
        }
    );
}

#[test]
fn object_references_resolve() {
    // [obj {x: 1}, ref 1]: the outer array is object 0, the inner object is object 1.
    let value = decoded(&hex("09 05 01 0a 0b 01 03 78 04 01 01 0a 02")).unwrap();
    let inner = Amf3Value::Object {
        class_name: String::new(),
        properties: props(&[("x", Amf3Value::Integer(1))]),
    };
    assert_eq!(
        value,
        Amf3Value::Array {
            associative: vec![],
            dense: vec![inner.clone(), inner]
        }
    );
    // Dates, byte arrays and XML are in the object table too.
    let value = decoded(&hex("09 07 01 08 01 00 00 00 00 00 00 00 00 0c 03 2a 08 02")).unwrap();
    let dense = vec![
        Amf3Value::Date(0.0),
        Amf3Value::ByteArray(vec![42]),
        Amf3Value::Date(0.0),
    ];
    assert_eq!(
        value,
        Amf3Value::Array {
            associative: vec![],
            dense
        }
    );
}

#[test]
fn traits_references_resolve() {
    // Two objects of class "C" with sealed member "a"; the second uses traits reference 0.
    let value = decoded(&hex("09 05 01 0a 13 03 43 03 61 04 01 0a 01 04 02")).unwrap();
    let object = |n| Amf3Value::Object {
        class_name: "C".to_owned(),
        properties: props(&[("a", Amf3Value::Integer(n))]),
    };
    assert_eq!(
        value,
        Amf3Value::Array {
            associative: vec![],
            dense: vec![object(1), object(2)]
        }
    );
}

#[test]
fn invalid_references_are_rejected() {
    let cases = [
        ("06 02", 1),                         // string reference into an empty table
        ("09 05 01 06 03 61 06 02", 1),       // string table holds only "a"
        ("0a 00", 0),                         // object reference into an empty table
        ("0a 01", 0),                         // traits reference into an empty table
        ("0c 04", 2),                         // byte array reference
        ("09 03 01 09 00", 0),                // array containing itself: a cycle
        ("0a 0b 01 03 78 0a 00 01", 0),       // object containing itself: a cycle
        ("11 03 00 11 00 01", 0),             // dictionary key is the dictionary
        ("09 03 01 0a 0b 01 03 61 09 00", 0), // reference to an enclosing array
    ];
    for (bytes, index) in cases {
        assert_eq!(decoded(&hex(bytes)), Err(AmfError::InvalidReference(index)), "{bytes}");
    }
}

#[test]
fn externalizable_objects_are_refused() {
    assert_eq!(
        decoded(&hex("0a 07 07 66 6f 6f")),
        Err(AmfError::Externalizable {
            class_name: "foo".to_owned()
        })
    );
}

#[test]
fn unknown_markers_are_errors() {
    for marker in [0x12, 0x80, 0xff] {
        assert_eq!(decoded(&[marker]), Err(AmfError::UnknownMarker(marker)));
    }
}

/// Array 0 holds `levels` arrays; array 1 holds ten integers and array n + 1 holds ten
/// references to array n, so the last one expands to 10^levels values.
pub(crate) fn reference_bomb(levels: u32) -> Vec<u8> {
    let mut out = vec![0x09];
    write_u29((levels << 1) | 1, &mut out);
    out.extend_from_slice(&hex("01 09 15 01"));
    out.extend((0..10).flat_map(|_| [0x04, 0x01]));
    for level in 1..levels {
        out.extend_from_slice(&hex("09 15 01"));
        out.extend((0..10).flat_map(|_| [0x09, u8::try_from(level << 1).unwrap()]));
    }
    out
}

#[test]
fn reference_bomb_runs_out_of_values() {
    assert!(decoded(&reference_bomb(3)).is_ok());
    let bomb = reference_bomb(12);
    assert!(bomb.len() < 400);
    assert_eq!(
        decoded(&bomb),
        Err(AmfError::TooManyValues {
            limit: MAX_DECODED_VALUES
        })
    );
}

#[test]
fn byte_and_string_reference_bombs_run_out_of_bytes() {
    // One 64 KiB byte array then 2000 references to it (128 MiB).
    let mut bytes = vec![0x09];
    write_u29((2001 << 1) | 1, &mut bytes);
    bytes.extend_from_slice(&[0x01, 0x0c]);
    write_u29((65_536 << 1) | 1, &mut bytes);
    bytes.resize(bytes.len() + 65_536, 0xAB);
    bytes.extend((0..2000).flat_map(|_| [0x0c, 0x02]));
    assert_eq!(
        decoded(&bytes),
        Err(AmfError::TooLarge {
            limit: MAX_DECODED_BYTES
        })
    );
    // The same with a string and string references.
    let mut strings = vec![0x09];
    write_u29((2001 << 1) | 1, &mut strings);
    strings.extend_from_slice(&[0x01, 0x06]);
    write_u29((65_536 << 1) | 1, &mut strings);
    strings.resize(strings.len() + 65_536, b'a');
    strings.extend((0..2000).flat_map(|_| [0x06, 0x00]));
    assert_eq!(
        decoded(&strings),
        Err(AmfError::TooLarge {
            limit: MAX_DECODED_BYTES
        })
    );
}

#[test]
fn traits_member_name_bomb_runs_out_of_bytes() {
    // Traits with one 64 KiB member name, then 2000 objects reusing it via a traits reference.
    let mut input = vec![0x09];
    write_u29((2001 << 1) | 1, &mut input);
    input.extend_from_slice(&[0x01, 0x0a, 0x13, 0x01]);
    write_u29((65_536 << 1) | 1, &mut input);
    input.resize(input.len() + 65_536, b'm');
    input.push(0x01);
    input.extend((0..2000).flat_map(|_| [0x0a, 0x01, 0x01]));
    assert_eq!(
        decoded(&input),
        Err(AmfError::TooLarge {
            limit: MAX_DECODED_BYTES
        })
    );
}

#[test]
fn references_cannot_exceed_the_depth_limit() {
    // Array 1 spans depths 1..=3; a copy of it inside another array spans 2..=4.
    let input = hex("09 05 01 09 03 01 09 03 01 09 01 01 09 03 01 09 02");
    assert!(decode_value(&input, 5).is_ok());
    assert_eq!(decode_value(&input, 4), Err(AmfError::TooDeep { limit: 4 }));
    // Chained references that would grow deeper with every level.
    let mut chain = vec![0x09];
    write_u29((40 << 1) | 1, &mut chain);
    chain.extend_from_slice(&hex("01 09 01 01"));
    for level in 1..40u8 {
        chain.extend_from_slice(&[0x09, 0x03, 0x01, 0x09, level << 1]);
    }
    assert_eq!(decode_value(&chain, DEPTH), Err(AmfError::TooDeep { limit: DEPTH }));
}

#[test]
fn huge_counts_are_truncated_without_allocating() {
    for bytes in [
        "09 ff ff ff ff 01 01",    // dense array
        "0c ff ff ff ff 00",       // byte array
        "0d ff ff ff ff 00 00 00", // int vector
        "0f ff ff ff ff 00 00",    // double vector
        "10 ff ff ff ff 00 01 01", // object vector
        "11 ff ff ff ff 00 01",    // dictionary
        "06 ff ff ff ff 61",       // string
        "0a ff ff ff fb 01",       // dynamic traits with 2^25 - 1 sealed members
    ] {
        assert_eq!(decoded(&hex(bytes)), Err(AmfError::Truncated), "{bytes}");
    }
}

#[test]
fn every_truncated_prefix_is_truncated() {
    let inputs = [
        encoded(&every_type()),
        hex("09 05 01 0a 13 03 43 03 61 04 01 0a 01 04 02"),
        hex("09 05 01 06 07 61 62 63 06 00"),
    ];
    for input in inputs {
        for len in 0..input.len() {
            assert_eq!(
                decoded(&input[..len]),
                Err(AmfError::Truncated),
                "prefix of {len} bytes"
            );
        }
    }
}

#[test]
fn deep_nesting_is_too_deep() {
    let arrays: Vec<u8> = (0..100_000).flat_map(|_| [0x09, 0x03, 0x01]).collect();
    let objects: Vec<u8> = (0..100_000).flat_map(|_| [0x0a, 0x0b, 0x01, 0x03, 0x61]).collect();
    let vectors: Vec<u8> = (0..100_000).flat_map(|_| [0x10, 0x03, 0x00, 0x01]).collect();
    let dictionaries: Vec<u8> = (0..100_000).flat_map(|_| [0x11, 0x03, 0x00]).collect();
    for input in [arrays, objects, vectors, dictionaries] {
        assert_eq!(decoded(&input), Err(AmfError::TooDeep { limit: DEPTH }));
    }
    let arrays: Vec<u8> = (0..100_000).flat_map(|_| [0x09, 0x03, 0x01]).collect();
    assert_eq!(
        decode_value(&arrays, usize::MAX),
        Err(AmfError::TooDeep { limit: MAX_DEPTH_CAP })
    );
}

#[test]
fn invalid_utf8_is_decoded_lossily() {
    assert_eq!(decoded(&hex("06 05 c3 28")), Ok(s("\u{fffd}(")));
}

#[test]
fn nested_in_amf0_each_switch_has_fresh_tables() {
    // Two AMF0 values each switching to AMF3; the second may not reference the first's string.
    let ok = hex("11 06 03 61 11 06 03 61");
    assert_eq!(
        amf0::decode_all(&ok, DEPTH),
        Ok(vec![Amf0Value::Amf3(s("a")), Amf0Value::Amf3(s("a"))])
    );
    let bad = hex("11 06 03 61 11 06 00");
    assert_eq!(amf0::decode_all(&bad, DEPTH), Err(AmfError::InvalidReference(0)));
}
