//! AMF0 values (Adobe "AMF0 File Format Specification"): a hardened decoder, an encoder and
//! small accessors. Pure code: bytes in, values out.
//!
//! The decoder treats its input as hostile: nesting is bounded by `max_depth` (itself capped at
//! [`MAX_DEPTH_CAP`]), declared counts are never used to pre-allocate, every length is checked
//! against the remaining input before anything is allocated, and one decode call may produce at
//! most [`MAX_DECODED_VALUES`] values and [`MAX_DECODED_BYTES`] bytes of strings and byte arrays
//! (AMF3 references could otherwise turn a small input into a huge tree). Invalid UTF-8 is
//! decoded lossily, never rejected.

use std::fmt;

use byteorder::{BigEndian, ReadBytesExt};

use super::amf3::{self, Amf3Value};

/// Most values (scalars and containers) that one `decode_value` / `decode_all` call may
/// produce, counting the copies the AMF3 decoder makes for its reference table and references.
/// A value takes 56 bytes for one byte of input (a null), so this bounds what one command can
/// make a connection allocate (3.5 MiB); real commands and metadata hold a few hundred.
pub const MAX_DECODED_VALUES: usize = 65_536;
/// Most bytes of strings, keys, byte arrays and vector elements one decode call may produce
/// (twice the default largest message: AMF3 string references can repeat a string).
pub const MAX_DECODED_BYTES: usize = 16 * 1024 * 1024;
/// Upper bound applied to any `max_depth` argument, so a careless caller cannot ask for a
/// recursion deep enough to overflow a thread's stack (at this cap the worst input needs about
/// 1 MiB of stack in a debug build and 200 KiB in release; connection threads get 512 KiB,
/// `threads::WORKER_STACK_SIZE`, so the cap is for release builds: sessions use
/// `DEFAULT_MAX_AMF_DEPTH`, 32, which fits either).
pub const MAX_DEPTH_CAP: usize = 128;

const NUMBER: u8 = 0x00;
const BOOLEAN: u8 = 0x01;
const STRING: u8 = 0x02;
const OBJECT: u8 = 0x03;
const NULL: u8 = 0x05;
const UNDEFINED: u8 = 0x06;
const REFERENCE: u8 = 0x07;
const ECMA_ARRAY: u8 = 0x08;
const OBJECT_END: u8 = 0x09;
const STRICT_ARRAY: u8 = 0x0A;
const DATE: u8 = 0x0B;
const LONG_STRING: u8 = 0x0C;
const UNSUPPORTED: u8 = 0x0D;
const XML_DOCUMENT: u8 = 0x0F;
const TYPED_OBJECT: u8 = 0x10;
const AVMPLUS: u8 = 0x11;

#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Value {
    Number(f64),
    Boolean(bool),
    String(String),
    Object(Vec<(String, Amf0Value)>),
    Null,
    Undefined,
    /// Index of an earlier complex value; kept as is, never resolved.
    Reference(u16),
    EcmaArray(Vec<(String, Amf0Value)>),
    StrictArray(Vec<Amf0Value>),
    Date {
        millis: f64,
        timezone: i16,
    },
    LongString(String),
    XmlDocument(String),
    TypedObject {
        class_name: String,
        properties: Vec<(String, Amf0Value)>,
    },
    /// Marker 0x11 ("avmplus-object"): one AMF3 value follows.
    Amf3(Amf3Value),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmfError {
    /// The input ended inside a value (or a length points past its end).
    Truncated,
    /// A type marker this decoder does not know (including AMF0 MovieClip and RecordSet).
    UnknownMarker(u8),
    /// An AMF0 object-end marker (0x09) where a value was expected.
    UnexpectedObjectEnd,
    /// Containers nested deeper than the limit.
    TooDeep { limit: usize },
    /// An AMF3 string, object or traits reference to an entry that does not exist (or to an
    /// object that is still being decoded, i.e. a cycle).
    InvalidReference(u32),
    /// The decode call would produce more than `limit` values.
    TooManyValues { limit: usize },
    /// The decode call would produce more than `limit` bytes of strings and byte arrays.
    TooLarge { limit: usize },
    /// An AMF3 externalizable object: its body is class-specific, so it cannot be decoded.
    Externalizable { class_name: String },
}

impl fmt::Display for AmfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmfError::Truncated => write!(f, "AMF input ends inside a value"),
            AmfError::UnknownMarker(m) => write!(f, "unknown AMF type marker 0x{m:02x}"),
            AmfError::UnexpectedObjectEnd => write!(f, "AMF object-end marker outside an object"),
            AmfError::TooDeep { limit } => write!(f, "AMF nesting deeper than {limit}"),
            AmfError::InvalidReference(i) => write!(f, "invalid AMF reference index {i}"),
            AmfError::TooManyValues { limit } => {
                write!(f, "AMF input decodes to more than {limit} values")
            }
            AmfError::TooLarge { limit } => {
                write!(f, "AMF input decodes to more than {limit} bytes")
            }
            AmfError::Externalizable { class_name } => {
                write!(f, "AMF3 externalizable object of class {class_name:?} is not supported")
            }
        }
    }
}

impl std::error::Error for AmfError {}

/// A cursor over the input; every read fails with `Truncated` instead of panicking.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
    len: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        Reader {
            rest: input,
            len: input.len(),
        }
    }
    pub(super) fn consumed(&self) -> usize {
        self.len.saturating_sub(self.rest.len())
    }
    pub(super) fn rest(&self) -> &'a [u8] {
        self.rest
    }
    pub(super) fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }
    pub(super) fn u8(&mut self) -> Result<u8, AmfError> {
        self.rest.read_u8().map_err(|_| AmfError::Truncated)
    }
    pub(super) fn u16(&mut self) -> Result<u16, AmfError> {
        self.rest.read_u16::<BigEndian>().map_err(|_| AmfError::Truncated)
    }
    pub(super) fn i16(&mut self) -> Result<i16, AmfError> {
        self.rest.read_i16::<BigEndian>().map_err(|_| AmfError::Truncated)
    }
    pub(super) fn u32(&mut self) -> Result<u32, AmfError> {
        self.rest.read_u32::<BigEndian>().map_err(|_| AmfError::Truncated)
    }
    pub(super) fn f64(&mut self) -> Result<f64, AmfError> {
        self.rest.read_f64::<BigEndian>().map_err(|_| AmfError::Truncated)
    }
    /// The next `n` bytes, without copying; `Truncated` if fewer remain.
    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], AmfError> {
        let (head, tail) = self.rest.split_at_checked(n).ok_or(AmfError::Truncated)?;
        self.rest = tail;
        Ok(head)
    }
}

/// What one decode call may still produce; shared by the AMF0 decoder and nested AMF3 values.
pub(super) struct Budget {
    values: usize,
    bytes: usize,
}

impl Budget {
    pub(super) fn new() -> Self {
        Budget {
            values: MAX_DECODED_VALUES,
            bytes: MAX_DECODED_BYTES,
        }
    }
    /// Takes `values` values and `bytes` bytes from the budget, or fails if it would run out.
    pub(super) fn charge(&mut self, values: usize, bytes: usize) -> Result<(), AmfError> {
        self.values = self.values.checked_sub(values).ok_or(AmfError::TooManyValues {
            limit: MAX_DECODED_VALUES,
        })?;
        self.bytes = self.bytes.checked_sub(bytes).ok_or(AmfError::TooLarge {
            limit: MAX_DECODED_BYTES,
        })?;
        Ok(())
    }
}

/// The depth of a container's children, or `TooDeep` if a container may not open at `depth`.
pub(super) fn enter(depth: usize, max_depth: usize) -> Result<usize, AmfError> {
    if depth >= max_depth {
        Err(AmfError::TooDeep { limit: max_depth })
    } else {
        Ok(depth.saturating_add(1))
    }
}

/// Decodes `bytes` as UTF-8, replacing invalid sequences, and charges the result's size.
pub(super) fn lossy(bytes: &[u8], budget: &mut Budget) -> Result<String, AmfError> {
    let s = String::from_utf8_lossy(bytes).into_owned();
    budget.charge(0, s.len())?;
    Ok(s)
}

fn len_from(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

struct Decoder<'a> {
    r: Reader<'a>,
    max_depth: usize,
    budget: Budget,
}

impl Decoder<'_> {
    fn string(&mut self, len: usize) -> Result<String, AmfError> {
        let bytes = self.r.bytes(len)?;
        lossy(bytes, &mut self.budget)
    }

    fn short_string(&mut self) -> Result<String, AmfError> {
        let len = self.r.u16()?;
        self.string(usize::from(len))
    }

    fn long_string(&mut self) -> Result<String, AmfError> {
        let len = self.r.u32()?;
        self.string(len_from(len))
    }

    fn value(&mut self, depth: usize) -> Result<Amf0Value, AmfError> {
        self.budget.charge(1, 0)?;
        let value = match self.r.u8()? {
            NUMBER => Amf0Value::Number(self.r.f64()?),
            BOOLEAN => Amf0Value::Boolean(self.r.u8()? != 0),
            STRING => Amf0Value::String(self.short_string()?),
            OBJECT => Amf0Value::Object(self.properties(depth)?),
            NULL => Amf0Value::Null,
            UNDEFINED | UNSUPPORTED => Amf0Value::Undefined,
            REFERENCE => Amf0Value::Reference(self.r.u16()?),
            ECMA_ARRAY => {
                // The count is only a hint (some encoders get it wrong): the 00 00 09 ends it.
                let _count = self.r.u32()?;
                Amf0Value::EcmaArray(self.properties(depth)?)
            }
            OBJECT_END => return Err(AmfError::UnexpectedObjectEnd),
            STRICT_ARRAY => {
                let count = self.r.u32()?;
                let inner = enter(depth, self.max_depth)?;
                // Never pre-allocate `count`: each element needs at least one input byte, so
                // a lying count runs into `Truncated` after the input ends.
                let mut items = Vec::new();
                for _ in 0..count {
                    items.push(self.value(inner)?);
                }
                Amf0Value::StrictArray(items)
            }
            DATE => {
                let millis = self.r.f64()?;
                let timezone = self.r.i16()?;
                Amf0Value::Date { millis, timezone }
            }
            LONG_STRING => Amf0Value::LongString(self.long_string()?),
            XML_DOCUMENT => Amf0Value::XmlDocument(self.long_string()?),
            TYPED_OBJECT => {
                let class_name = self.short_string()?;
                let properties = self.properties(depth)?;
                Amf0Value::TypedObject { class_name, properties }
            }
            AVMPLUS => {
                let (value, used) = amf3::decode_nested(self.r.rest(), depth, self.max_depth, &mut self.budget)?;
                self.r.bytes(used)?;
                Amf0Value::Amf3(value)
            }
            other => return Err(AmfError::UnknownMarker(other)),
        };
        Ok(value)
    }

    /// Key/value pairs up to the empty key + object-end marker (objects, ECMA arrays, typed
    /// objects). An empty key followed by anything else is kept as a property named "".
    fn properties(&mut self, depth: usize) -> Result<Vec<(String, Amf0Value)>, AmfError> {
        let inner = enter(depth, self.max_depth)?;
        let mut properties = Vec::new();
        loop {
            let len = usize::from(self.r.u16()?);
            if len == 0 && self.r.peek() == Some(OBJECT_END) {
                self.r.u8()?;
                return Ok(properties);
            }
            let key = self.string(len)?;
            let value = self.value(inner)?;
            properties.push((key, value));
        }
    }
}

fn decoder(input: &[u8], max_depth: usize) -> Decoder<'_> {
    Decoder {
        r: Reader::new(input),
        max_depth: max_depth.min(MAX_DEPTH_CAP),
        budget: Budget::new(),
    }
}

/// Decodes one value from the start of `input`; returns it and the number of bytes it used.
/// Containers may nest `max_depth` deep (at most [`MAX_DEPTH_CAP`]).
pub fn decode_value(input: &[u8], max_depth: usize) -> Result<(Amf0Value, usize), AmfError> {
    let mut d = decoder(input, max_depth);
    let value = d.value(0)?;
    Ok((value, d.r.consumed()))
}

/// Decodes values until the input ends (an empty input gives no values). The value and byte
/// budgets apply to the whole call.
pub fn decode_all(input: &[u8], max_depth: usize) -> Result<Vec<Amf0Value>, AmfError> {
    let mut d = decoder(input, max_depth);
    let mut values = Vec::new();
    while d.r.peek().is_some() {
        values.push(d.value(0)?);
    }
    Ok(values)
}

/// The longest prefix of `s` that is at most `max` bytes and ends on a character boundary.
pub(super) fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or_default()
}

fn write_short_string(s: &str, out: &mut Vec<u8>) {
    let s = truncate_str(s, usize::from(u16::MAX));
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn write_long_string(s: &str, out: &mut Vec<u8>) {
    let s = truncate_str(s, len_from(u32::MAX));
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn write_properties(properties: &[(String, Amf0Value)], out: &mut Vec<u8>) {
    for (key, value) in properties {
        write_short_string(key, out);
        encode(value, out);
    }
    out.extend_from_slice(&[0, 0, OBJECT_END]);
}

/// Appends the AMF0 encoding of `value` to `out`.
///
/// A `String` longer than 65535 bytes is written as a long string (and so decodes as
/// `LongString`). Keys and class names longer than 65535 bytes are cut at a character boundary;
/// an ECMA array's count is its real length; AMF3 values are written as marker 0x11 followed by
/// [`amf3::encode`].
pub fn encode(value: &Amf0Value, out: &mut Vec<u8>) {
    match value {
        Amf0Value::Number(n) => {
            out.push(NUMBER);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Amf0Value::Boolean(b) => out.extend_from_slice(&[BOOLEAN, u8::from(*b)]),
        Amf0Value::String(s) if s.len() > usize::from(u16::MAX) => {
            out.push(LONG_STRING);
            write_long_string(s, out);
        }
        Amf0Value::String(s) => {
            out.push(STRING);
            write_short_string(s, out);
        }
        Amf0Value::Object(properties) => {
            out.push(OBJECT);
            write_properties(properties, out);
        }
        Amf0Value::Null => out.push(NULL),
        Amf0Value::Undefined => out.push(UNDEFINED),
        Amf0Value::Reference(index) => {
            out.push(REFERENCE);
            out.extend_from_slice(&index.to_be_bytes());
        }
        Amf0Value::EcmaArray(properties) => {
            out.push(ECMA_ARRAY);
            out.extend_from_slice(&u32::try_from(properties.len()).unwrap_or(u32::MAX).to_be_bytes());
            write_properties(properties, out);
        }
        Amf0Value::StrictArray(items) => {
            let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
            out.push(STRICT_ARRAY);
            out.extend_from_slice(&count.to_be_bytes());
            for item in items.iter().take(len_from(count)) {
                encode(item, out);
            }
        }
        Amf0Value::Date { millis, timezone } => {
            out.push(DATE);
            out.extend_from_slice(&millis.to_be_bytes());
            out.extend_from_slice(&timezone.to_be_bytes());
        }
        Amf0Value::LongString(s) => {
            out.push(LONG_STRING);
            write_long_string(s, out);
        }
        Amf0Value::XmlDocument(s) => {
            out.push(XML_DOCUMENT);
            write_long_string(s, out);
        }
        Amf0Value::TypedObject { class_name, properties } => {
            out.push(TYPED_OBJECT);
            write_short_string(class_name, out);
            write_properties(properties, out);
        }
        Amf0Value::Amf3(value) => {
            out.push(AVMPLUS);
            amf3::encode(value, out);
        }
    }
}

/// Appends the encodings of `values`, one after another (a command or data message body).
pub fn encode_all(values: &[Amf0Value], out: &mut Vec<u8>) {
    for value in values {
        encode(value, out);
    }
}

fn owned_properties(properties: &[(&str, Amf0Value)]) -> Vec<(String, Amf0Value)> {
    properties
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect()
}

/// An anonymous object with these properties, in order.
pub fn object(properties: &[(&str, Amf0Value)]) -> Amf0Value {
    Amf0Value::Object(owned_properties(properties))
}

/// An ECMA array with these properties, in order (e.g. onMetaData).
pub fn ecma_array(properties: &[(&str, Amf0Value)]) -> Amf0Value {
    Amf0Value::EcmaArray(owned_properties(properties))
}

impl Amf0Value {
    /// The text of a `String` or `LongString` (or of an AMF3 string).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf0Value::String(s) | Amf0Value::LongString(s) | Amf0Value::Amf3(Amf3Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The value of a `Number` (or of an AMF3 integer or double).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Amf0Value::Number(n) | Amf0Value::Amf3(Amf3Value::Double(n)) => Some(*n),
            Amf0Value::Amf3(Amf3Value::Integer(i)) => Some(f64::from(*i)),
            _ => None,
        }
    }

    /// The value of a `Boolean` (or of an AMF3 boolean).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Amf0Value::Boolean(b) | Amf0Value::Amf3(Amf3Value::Boolean(b)) => Some(*b),
            _ => None,
        }
    }

    /// The properties of an `Object`, `EcmaArray` or `TypedObject`.
    pub fn properties(&self) -> Option<&[(String, Amf0Value)]> {
        match self {
            Amf0Value::Object(p) | Amf0Value::EcmaArray(p) | Amf0Value::TypedObject { properties: p, .. } => Some(p),
            _ => None,
        }
    }

    /// The first property named `key` of an `Object`, `EcmaArray` or `TypedObject`.
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        self.properties()?.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl From<f64> for Amf0Value {
    fn from(n: f64) -> Self {
        Amf0Value::Number(n)
    }
}

impl From<bool> for Amf0Value {
    fn from(b: bool) -> Self {
        Amf0Value::Boolean(b)
    }
}

impl From<&str> for Amf0Value {
    fn from(s: &str) -> Self {
        Amf0Value::String(s.to_owned())
    }
}

impl From<String> for Amf0Value {
    fn from(s: String) -> Self {
        Amf0Value::String(s)
    }
}

#[cfg(test)]
#[path = "amf0_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "amf_fuzz_tests.rs"]
mod fuzz_tests;
