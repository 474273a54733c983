//! Property tests (proptest) for the codecs: chunk encode/decode round trips under any chunk
//! size and any split of the byte stream, AMF0 round trips, FLV tag round trips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

use proptest::prelude::*;
use rtmp_server::flv::reader::read_all;
use rtmp_server::flv::writer::{encode_tag, file_header};
use rtmp_server::protocol::amf0::{self, Amf0Value};
use rtmp_server::protocol::chunk::{ChunkDecoder, ChunkEncoder, ChunkLimits, RawMessage};

fn message() -> impl Strategy<Value = RawMessage> {
    (
        2u32..400,
        any::<u32>(),
        1u8..30,
        0u32..5,
        prop::collection::vec(any::<u8>(), 0..3000),
    )
        .prop_map(|(csid, timestamp, type_id, stream_id, payload)| RawMessage {
            csid,
            timestamp,
            type_id,
            stream_id,
            payload,
        })
}

fn amf0_value() -> impl Strategy<Value = Amf0Value> {
    let leaf = prop_oneof![
        any::<f64>()
            .prop_filter("NaN never equals itself", |f| !f.is_nan())
            .prop_map(Amf0Value::Number),
        any::<bool>().prop_map(Amf0Value::Boolean),
        "[a-zA-Z0-9 ./?=_-]{0,40}".prop_map(Amf0Value::String),
        Just(Amf0Value::Null),
        Just(Amf0Value::Undefined),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(("[a-z]{1,8}", inner.clone()), 0..6).prop_map(Amf0Value::Object),
            prop::collection::vec(("[a-z]{1,8}", inner.clone()), 0..6).prop_map(Amf0Value::EcmaArray),
            prop::collection::vec(inner, 0..6).prop_map(Amf0Value::StrictArray),
        ]
    })
}

fn decode_split(bytes: &[u8], chunk_size: u32, splits: &[usize]) -> Vec<RawMessage> {
    let mut decoder = ChunkDecoder::new(ChunkLimits::default());
    decoder.set_chunk_size(chunk_size).unwrap();
    let mut pending = Vec::new();
    let mut messages = Vec::new();
    let mut fed = 0;
    let mut cuts: Vec<usize> = splits.iter().map(|s| s % (bytes.len() + 1)).collect();
    cuts.push(bytes.len());
    cuts.sort_unstable();
    for cut in cuts {
        pending.extend_from_slice(&bytes[fed..cut.max(fed)]);
        fed = cut.max(fed);
        loop {
            let decoded = decoder.decode(&pending).unwrap();
            pending.drain(..decoded.consumed);
            match decoded.message {
                Some(m) => messages.push(m),
                None if decoded.consumed == 0 => break,
                None => {}
            }
        }
    }
    messages
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn chunk_stream_round_trips_for_any_chunk_size_and_split(
        messages in prop::collection::vec(message(), 1..12),
        chunk_size in 1u32..5000,
        splits in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut encoder = ChunkEncoder::new();
        encoder.set_chunk_size(chunk_size);
        let mut wire = Vec::new();
        for m in &messages {
            encoder.encode(m, &mut wire);
        }
        prop_assert_eq!(decode_split(&wire, chunk_size, &splits), messages);
    }

    #[test]
    fn amf0_values_round_trip(values in prop::collection::vec(amf0_value(), 0..6)) {
        let mut bytes = Vec::new();
        amf0::encode_all(&values, &mut bytes);
        prop_assert_eq!(amf0::decode_all(&bytes, 32).unwrap(), values);
    }

    #[test]
    fn flv_tags_round_trip(tags in prop::collection::vec((prop::sample::select(vec![8u8, 9, 18]), any::<u32>(), prop::collection::vec(any::<u8>(), 0..500)), 0..20)) {
        let mut file = file_header(true, true).to_vec();
        for (tag_type, timestamp, body) in &tags {
            encode_tag(*tag_type, *timestamp, body, &mut file).unwrap();
        }
        let (_, read) = read_all(&file).unwrap();
        let got: Vec<(u8, u32, Vec<u8>)> = read.iter().map(|t| (t.tag_type, t.timestamp, t.body.to_vec())).collect();
        prop_assert_eq!(got, tags);
    }
}
