//! The AMF3 encoder: always writes values inline and never emits references, so
//! `decode_value(encode(v)) == v` holds except for the cases listed on [`encode`].

use super::*;

/// Appends a U29 (values above [`U29_MAX`] are clamped).
pub fn write_u29(value: u32, out: &mut Vec<u8>) {
    let v = value.min(U29_MAX);
    // Each shifted value is masked to its byte, so the casts keep exactly those bits.
    if v < 0x80 {
        out.push(v as u8);
    } else if v < 0x4000 {
        out.extend_from_slice(&[(v >> 7) as u8 | 0x80, (v & 0x7F) as u8]);
    } else if v < 0x20_0000 {
        out.extend_from_slice(&[(v >> 14) as u8 | 0x80, ((v >> 7) & 0x7F) as u8 | 0x80, (v & 0x7F) as u8]);
    } else {
        out.extend_from_slice(&[
            (v >> 22) as u8 | 0x80,
            ((v >> 15) & 0x7F) as u8 | 0x80,
            ((v >> 8) & 0x7F) as u8 | 0x80,
            (v & 0xFF) as u8,
        ]);
    }
}

/// An inline length/count header: `(len << 1) | 1`.
fn write_inline(len: usize, out: &mut Vec<u8>) {
    let len = u32::try_from(len.min(MAX_INLINE)).unwrap_or(0);
    write_u29((len << 1) | 1, out);
}

/// An inline UTF-8-vr (cut at a character boundary if longer than a U29 allows).
fn write_string(s: &str, out: &mut Vec<u8>) {
    let s = truncate_str(s, MAX_INLINE);
    write_inline(s.len(), out);
    out.extend_from_slice(s.as_bytes());
}

/// Appends the AMF3 encoding of `value` to `out`, always inline (no references).
///
/// Not round-tripping: an `Integer` outside [`INTEGER_MIN`]..=[`INTEGER_MAX`] is written as a
/// double (as the specification requires); an `Array` associative entry with an empty key is
/// skipped (the empty key ends the associative part); lengths and counts beyond a U29's range
/// (over 2^28 - 1) are cut. Anonymous objects are written with dynamic members (as Flash does),
/// others, and anonymous ones having an empty key, with sealed members.
pub fn encode(value: &Amf3Value, out: &mut Vec<u8>) {
    match value {
        Amf3Value::Undefined => out.push(UNDEFINED),
        Amf3Value::Null => out.push(NULL),
        Amf3Value::Boolean(false) => out.push(FALSE),
        Amf3Value::Boolean(true) => out.push(TRUE),
        Amf3Value::Integer(i) if (INTEGER_MIN..=INTEGER_MAX).contains(i) => {
            out.push(INTEGER);
            write_u29((*i as u32) & U29_MAX, out);
        }
        Amf3Value::Integer(i) => {
            out.push(DOUBLE);
            out.extend_from_slice(&f64::from(*i).to_be_bytes());
        }
        Amf3Value::Double(d) => {
            out.push(DOUBLE);
            out.extend_from_slice(&d.to_be_bytes());
        }
        Amf3Value::String(s) => {
            out.push(STRING);
            write_string(s, out);
        }
        Amf3Value::XmlDocument(s) => {
            out.push(XML_DOCUMENT);
            write_string(s, out);
        }
        Amf3Value::Xml(s) => {
            out.push(XML);
            write_string(s, out);
        }
        Amf3Value::Date(millis) => {
            out.extend_from_slice(&[DATE, 0x01]);
            out.extend_from_slice(&millis.to_be_bytes());
        }
        Amf3Value::Array { associative, dense } => {
            out.push(ARRAY);
            write_inline(dense.len(), out);
            for (key, item) in associative.iter().filter(|(key, _)| !key.is_empty()) {
                write_string(key, out);
                encode(item, out);
            }
            write_string("", out);
            dense.iter().take(MAX_INLINE).for_each(|item| encode(item, out));
        }
        Amf3Value::Object { class_name, properties } => {
            out.push(OBJECT);
            if class_name.is_empty() && properties.iter().all(|(key, _)| !key.is_empty()) {
                // Inline object, inline traits, not externalizable, dynamic, no sealed members.
                write_u29(0x0B, out);
                write_string(class_name, out);
                for (key, item) in properties {
                    write_string(key, out);
                    encode(item, out);
                }
                write_string("", out);
            } else {
                let properties = properties.get(..properties.len().min(MAX_SEALED)).unwrap_or_default();
                let count = u32::try_from(properties.len()).unwrap_or(0);
                // Inline object, inline traits, not externalizable, sealed only.
                write_u29((count << 4) | 0x03, out);
                write_string(class_name, out);
                properties.iter().for_each(|(key, _)| write_string(key, out));
                properties.iter().for_each(|(_, item)| encode(item, out));
            }
        }
        Amf3Value::ByteArray(bytes) => {
            let bytes = bytes.get(..bytes.len().min(MAX_INLINE)).unwrap_or_default();
            out.push(BYTE_ARRAY);
            write_inline(bytes.len(), out);
            out.extend_from_slice(bytes);
        }
        Amf3Value::VectorInt(items) => write_numbers(VECTOR_INT, items, i32::to_be_bytes, out),
        Amf3Value::VectorUint(items) => write_numbers(VECTOR_UINT, items, u32::to_be_bytes, out),
        Amf3Value::VectorDouble(items) => write_numbers(VECTOR_DOUBLE, items, f64::to_be_bytes, out),
        Amf3Value::VectorObject { type_name, items } => {
            write_vector_header(VECTOR_OBJECT, items.len(), out);
            write_string(type_name, out);
            items.iter().take(MAX_INLINE).for_each(|item| encode(item, out));
        }
        Amf3Value::Dictionary(entries) => {
            out.push(DICTIONARY);
            write_inline(entries.len(), out);
            out.push(0x00); // weak keys: no
            for (key, item) in entries.iter().take(MAX_INLINE) {
                encode(key, out);
                encode(item, out);
            }
        }
    }
}

/// Vector marker, inline count, and the fixed-length flag (always 0).
fn write_vector_header(marker: u8, count: usize, out: &mut Vec<u8>) {
    out.push(marker);
    write_inline(count, out);
    out.push(0x00);
}

fn write_numbers<T: Copy, const N: usize>(marker: u8, items: &[T], to_be: fn(T) -> [u8; N], out: &mut Vec<u8>) {
    write_vector_header(marker, items.len(), out);
    items
        .iter()
        .take(MAX_INLINE)
        .for_each(|n| out.extend_from_slice(&to_be(*n)));
}
