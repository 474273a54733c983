//! AMF3 values (Adobe "AMF 3 Specification"), as found after the 0x11 switch marker in AMF0
//! and in type 15/17 messages: a hardened decoder and a simple encoder. Pure code.
//!
//! The decoder resolves string, object and traits references by index (checked; a reference
//! to an object still being decoded is rejected, so cycles cannot loop) and copies referenced
//! values, charging every copy to the decode call's value and byte budget so a "reference
//! bomb" fails with `TooManyValues` / `TooLarge` instead of exhausting memory. A referenced
//! container must also fit in the remaining depth. Each AMF0 0x11 switch starts fresh
//! reference tables. Externalizable objects are rejected (their body is class-specific).
//!
//! The encoder (in amf3_encode.rs) always writes values inline and never emits references;
//! `decode_value(encode(v)) == v` holds except for the cases documented on [`encode`].

use super::amf0::{enter, lossy, truncate_str, AmfError, Budget, Reader, MAX_DEPTH_CAP};

const UNDEFINED: u8 = 0x00;
const NULL: u8 = 0x01;
const FALSE: u8 = 0x02;
const TRUE: u8 = 0x03;
const INTEGER: u8 = 0x04;
const DOUBLE: u8 = 0x05;
const STRING: u8 = 0x06;
const XML_DOCUMENT: u8 = 0x07;
const DATE: u8 = 0x08;
const ARRAY: u8 = 0x09;
const OBJECT: u8 = 0x0A;
const XML: u8 = 0x0B;
const BYTE_ARRAY: u8 = 0x0C;
const VECTOR_INT: u8 = 0x0D;
const VECTOR_UINT: u8 = 0x0E;
const VECTOR_DOUBLE: u8 = 0x0F;
const VECTOR_OBJECT: u8 = 0x10;
const DICTIONARY: u8 = 0x11;

/// Largest value a U29 can hold.
pub const U29_MAX: u32 = (1 << 29) - 1;
/// Range of `Integer` values written with the integer marker; others are written as doubles.
pub const INTEGER_MIN: i32 = -(1 << 28);
pub const INTEGER_MAX: i32 = (1 << 28) - 1;
/// Longest inline length or count (a U29 whose low bit is the inline flag).
const MAX_INLINE: usize = (1 << 28) - 1;
/// Most sealed members one inline traits entry can declare.
const MAX_SEALED: usize = (1 << 25) - 1;

#[derive(Debug, Clone, PartialEq)]
pub enum Amf3Value {
    Undefined,
    Null,
    Boolean(bool),
    Integer(i32),
    Double(f64),
    String(String),
    XmlDocument(String),
    /// Milliseconds since the Unix epoch, UTC.
    Date(f64),
    Array {
        associative: Vec<(String, Amf3Value)>,
        dense: Vec<Amf3Value>,
    },
    /// Sealed members first (in traits order), then dynamic members.
    Object {
        class_name: String,
        properties: Vec<(String, Amf3Value)>,
    },
    Xml(String),
    ByteArray(Vec<u8>),
    VectorInt(Vec<i32>),
    VectorUint(Vec<u32>),
    VectorDouble(Vec<f64>),
    VectorObject {
        type_name: String,
        items: Vec<Amf3Value>,
    },
    Dictionary(Vec<(Amf3Value, Amf3Value)>),
}

/// What copying a value costs, and how many container levels it spans (0 for a scalar).
#[derive(Debug, Clone, Copy)]
struct Weight {
    values: usize,
    bytes: usize,
    height: usize,
}

impl Weight {
    /// One value of `bytes` bytes spanning `height` container levels.
    fn new(bytes: usize, height: usize) -> Self {
        Weight {
            values: 1,
            bytes,
            height,
        }
    }
    fn add_child(&mut self, child: Weight) {
        self.values = self.values.saturating_add(child.values);
        self.bytes = self.bytes.saturating_add(child.bytes);
        self.height = self.height.max(child.height.saturating_add(1));
    }
    fn add_bytes(&mut self, bytes: usize) {
        self.bytes = self.bytes.saturating_add(bytes);
    }
}

#[derive(Debug, Clone)]
struct Traits {
    class_name: String,
    members: Vec<String>,
    dynamic: bool,
}

enum Slot {
    /// Reserved for a container still being decoded: referencing it would be a cycle.
    Pending,
    Done(Amf3Value, Weight),
}

fn index(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

struct Decoder<'a, 'b> {
    r: Reader<'a>,
    max_depth: usize,
    budget: &'b mut Budget,
    strings: Vec<String>,
    objects: Vec<Slot>,
    traits: Vec<Traits>,
}

impl Decoder<'_, '_> {
    fn u29(&mut self) -> Result<u32, AmfError> {
        let mut value: u32 = 0;
        for _ in 0..3 {
            let byte = self.r.u8()?;
            value = (value << 7) | u32::from(byte & 0x7F);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Ok((value << 8) | u32::from(self.r.u8()?))
    }

    /// A UTF-8-vr: a string-table reference or an inline string (non-empty ones are added).
    fn string(&mut self) -> Result<String, AmfError> {
        let header = self.u29()?;
        if header & 1 == 0 {
            let i = header >> 1;
            let s = self.strings.get(index(i)).ok_or(AmfError::InvalidReference(i))?;
            self.budget.charge(0, s.len())?;
            return Ok(s.clone());
        }
        let bytes = self.r.bytes(index(header >> 1))?;
        let s = lossy(bytes, self.budget)?;
        if !s.is_empty() {
            self.budget.charge(0, s.len())?;
            self.strings.push(s.clone());
        }
        Ok(s)
    }

    /// A copy of object-table entry `i`, charged to the budget; it must fit under `depth`.
    fn object_ref(&mut self, i: u32, depth: usize) -> Result<(Amf3Value, Weight), AmfError> {
        match self.objects.get(index(i)) {
            Some(Slot::Done(value, weight)) => {
                if weight.height > 0 && depth.saturating_add(weight.height) > self.max_depth {
                    return Err(AmfError::TooDeep { limit: self.max_depth });
                }
                self.budget.charge(weight.values, weight.bytes)?;
                Ok((value.clone(), *weight))
            }
            _ => Err(AmfError::InvalidReference(i)),
        }
    }

    fn value(&mut self, depth: usize) -> Result<(Amf3Value, Weight), AmfError> {
        self.budget.charge(1, 0)?;
        let scalar = match self.r.u8()? {
            UNDEFINED => Amf3Value::Undefined,
            NULL => Amf3Value::Null,
            FALSE => Amf3Value::Boolean(false),
            TRUE => Amf3Value::Boolean(true),
            // Shifting the 29 bits to the top and back (arithmetically) sign-extends them.
            INTEGER => Amf3Value::Integer(((self.u29()? << 3) as i32) >> 3),
            DOUBLE => Amf3Value::Double(self.r.f64()?),
            STRING => {
                let s = self.string()?;
                let weight = Weight::new(s.len(), 0);
                return Ok((Amf3Value::String(s), weight));
            }
            marker @ XML_DOCUMENT..=DICTIONARY => {
                // All other types start with a U29 whose low bit 0 means an object-table reference.
                let header = self.u29()?;
                if header & 1 == 0 {
                    return self.object_ref(header >> 1, depth);
                }
                // The slot is taken before the body so that nested values get later indices.
                self.objects.push(Slot::Pending);
                let slot = self.objects.len().saturating_sub(1);
                let (value, weight) = self.inline(marker, header >> 1, depth)?;
                self.budget.charge(weight.values, weight.bytes)?;
                if let Some(entry) = self.objects.get_mut(slot) {
                    *entry = Slot::Done(value.clone(), weight);
                }
                return Ok((value, weight));
            }
            other => return Err(AmfError::UnknownMarker(other)),
        };
        Ok((scalar, Weight::new(0, 0)))
    }

    /// The body of an inline object-table value; `bits` is its U29 header less the inline flag
    /// (a length or count for every type but objects).
    fn inline(&mut self, marker: u8, bits: u32, depth: usize) -> Result<(Amf3Value, Weight), AmfError> {
        match marker {
            XML_DOCUMENT | XML => {
                let s = lossy(self.r.bytes(index(bits))?, self.budget)?;
                let weight = Weight::new(s.len(), 0);
                let value = if marker == XML {
                    Amf3Value::Xml(s)
                } else {
                    Amf3Value::XmlDocument(s)
                };
                Ok((value, weight))
            }
            DATE => Ok((Amf3Value::Date(self.r.f64()?), Weight::new(0, 0))),
            BYTE_ARRAY => {
                let bytes = self.r.bytes(index(bits))?;
                self.budget.charge(0, bytes.len())?;
                Ok((Amf3Value::ByteArray(bytes.to_vec()), Weight::new(bytes.len(), 0)))
            }
            VECTOR_INT | VECTOR_UINT | VECTOR_DOUBLE => self.number_vector(marker, index(bits)),
            OBJECT => self.object(bits, enter(depth, self.max_depth)?),
            _ => self.container(marker, bits, enter(depth, self.max_depth)?),
        }
    }

    fn number_vector(&mut self, marker: u8, count: usize) -> Result<(Amf3Value, Weight), AmfError> {
        let _fixed = self.r.u8()?;
        let size = if marker == VECTOR_DOUBLE { 8 } else { 4 };
        // Checked against the remaining input before anything is allocated.
        let len = count.checked_mul(size).ok_or(AmfError::Truncated)?;
        let bytes = self.r.bytes(len)?;
        self.budget.charge(0, len)?;
        let words = || bytes.chunks_exact(4).filter_map(|c| <[u8; 4]>::try_from(c).ok());
        let value = match marker {
            VECTOR_INT => Amf3Value::VectorInt(words().map(i32::from_be_bytes).collect()),
            VECTOR_UINT => Amf3Value::VectorUint(words().map(u32::from_be_bytes).collect()),
            _ => Amf3Value::VectorDouble(
                bytes
                    .chunks_exact(8)
                    .filter_map(|c| c.try_into().ok())
                    .map(f64::from_be_bytes)
                    .collect(),
            ),
        };
        Ok((value, Weight::new(len, 0)))
    }

    /// `count` values at depth `inner`, added to `weight`.
    fn values(&mut self, count: u32, inner: usize, weight: &mut Weight) -> Result<Vec<Amf3Value>, AmfError> {
        // Never pre-allocated: each value needs input, so a lying count runs into `Truncated`.
        let mut values = Vec::new();
        for _ in 0..count {
            let (value, child) = self.value(inner)?;
            weight.add_child(child);
            values.push(value);
        }
        Ok(values)
    }

    /// (key, value) pairs up to the empty key, added to `into` and `weight`.
    fn members(
        &mut self,
        inner: usize,
        weight: &mut Weight,
        into: &mut Vec<(String, Amf3Value)>,
    ) -> Result<(), AmfError> {
        loop {
            let key = self.string()?;
            if key.is_empty() {
                return Ok(());
            }
            let (value, child) = self.value(inner)?;
            weight.add_bytes(key.len());
            weight.add_child(child);
            into.push((key, value));
        }
    }

    /// Arrays, object vectors and dictionaries; `count` from the header, children at `inner`.
    fn container(&mut self, marker: u8, count: u32, inner: usize) -> Result<(Amf3Value, Weight), AmfError> {
        let mut weight = Weight::new(0, 1);
        let value = match marker {
            ARRAY => {
                let mut associative = Vec::new();
                self.members(inner, &mut weight, &mut associative)?;
                let dense = self.values(count, inner, &mut weight)?;
                Amf3Value::Array { associative, dense }
            }
            VECTOR_OBJECT => {
                let _fixed = self.r.u8()?;
                let type_name = self.string()?;
                weight.add_bytes(type_name.len());
                let items = self.values(count, inner, &mut weight)?;
                Amf3Value::VectorObject { type_name, items }
            }
            _ => {
                let _weak_keys = self.r.u8()?;
                let mut entries = Vec::new();
                for _ in 0..count {
                    let (key, key_weight) = self.value(inner)?;
                    let (value, value_weight) = self.value(inner)?;
                    weight.add_child(key_weight);
                    weight.add_child(value_weight);
                    entries.push((key, value));
                }
                Amf3Value::Dictionary(entries)
            }
        };
        Ok((value, weight))
    }

    /// An inline object; `bits` is its U29 header less the inline-object flag.
    fn object(&mut self, bits: u32, inner: usize) -> Result<(Amf3Value, Weight), AmfError> {
        let traits = if bits & 1 == 0 {
            let i = bits >> 1;
            let traits = self.traits.get(index(i)).ok_or(AmfError::InvalidReference(i))?;
            let bytes = traits
                .members
                .iter()
                .fold(traits.class_name.len(), |n, m| n.saturating_add(m.len()));
            self.budget.charge(traits.members.len(), bytes)?;
            traits.clone()
        } else if bits & 2 != 0 {
            let class_name = self.string()?;
            return Err(AmfError::Externalizable {
                class_name: truncate_str(&class_name, 128).to_owned(),
            });
        } else {
            let class_name = self.string()?;
            let mut members = Vec::new();
            for _ in 0..bits >> 3 {
                members.push(self.string()?);
            }
            let traits = Traits {
                class_name,
                members,
                dynamic: bits & 4 != 0,
            };
            self.traits.push(traits.clone());
            traits
        };
        let mut weight = Weight::new(traits.class_name.len(), 1);
        let mut properties = Vec::new();
        for name in traits.members {
            let (value, child) = self.value(inner)?;
            weight.add_bytes(name.len());
            weight.add_child(child);
            properties.push((name, value));
        }
        if traits.dynamic {
            self.members(inner, &mut weight, &mut properties)?;
        }
        let object = Amf3Value::Object {
            class_name: traits.class_name,
            properties,
        };
        Ok((object, weight))
    }
}

/// Decodes one AMF3 value at nesting `depth` with fresh reference tables, charging `budget`.
/// Used by the AMF0 decoder for the 0x11 switch marker.
pub(super) fn decode_nested(
    input: &[u8],
    depth: usize,
    max_depth: usize,
    budget: &mut Budget,
) -> Result<(Amf3Value, usize), AmfError> {
    let mut d = Decoder {
        r: Reader::new(input),
        max_depth,
        budget,
        strings: Vec::new(),
        objects: Vec::new(),
        traits: Vec::new(),
    };
    let (value, _) = d.value(depth)?;
    Ok((value, d.r.consumed()))
}

/// Decodes one AMF3 value from the start of `input`; returns it and the number of bytes used.
/// Containers may nest `max_depth` deep (at most [`MAX_DEPTH_CAP`]).
pub fn decode_value(input: &[u8], max_depth: usize) -> Result<(Amf3Value, usize), AmfError> {
    let mut budget = Budget::new();
    decode_nested(input, 0, max_depth.min(MAX_DEPTH_CAP), &mut budget)
}

#[path = "amf3_encode.rs"]
mod encoder;
pub use encoder::{encode, write_u29};

#[cfg(test)]
#[path = "amf3_tests.rs"]
pub(crate) mod tests;
