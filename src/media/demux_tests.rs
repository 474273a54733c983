//! Demux unit tests: every codec and packet type, real sequence headers, ModEx and
//! multitrack, negative composition times, and every truncation of every case.

use super::*;

/// The AVC sequence header tag body of tests/fixtures/clip2s.flv (160x120, High profile).
const AVC_SEQUENCE_HEADER: &[u8] = &[
    0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x0b, 0xff, 0xe1, 0x00, 0x19, 0x67, 0x64, 0x00, 0x0b, 0xac, 0xd9,
    0x42, 0x84, 0x7e, 0x5c, 0x04, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x07, 0x83, 0xc5, 0x0a, 0x65, 0x80,
    0x01, 0x00, 0x04, 0x68, 0xef, 0xbc, 0xb0, 0xfd, 0xf8, 0xf8, 0x00,
];
/// The fixture's first keyframe header (composition time 0x85 = 133 ms) and first NALU bytes.
const AVC_KEYFRAME: &[u8] = &[0x17, 0x01, 0x00, 0x00, 0x85, 0x00, 0x00, 0x02, 0xba, 0x06];
/// The fixture's AAC sequence header (AudioSpecificConfig 0x1388: AAC LC, 48 kHz, stereo)
/// and a raw AAC frame's first bytes.
const AAC_SEQUENCE_HEADER: &[u8] = &[0xaf, 0x00, 0x13, 0x88, 0x56, 0xe5, 0x00];
const AAC_RAW: &[u8] = &[0xaf, 0x01, 0xde, 0x02, 0x00, 0x4c];
/// An HEVCDecoderConfigurationRecord head (configurationVersion 1, Main profile) as x265
/// writes it; enough for the demux, which never looks inside.
const HVCC_HEAD: &[u8] = &[
    0x01, 0x01, 0x60, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3c,
];
/// libaom's av1C for a 64x48 clip (marker/version, profile/level, flags, then the sequence
/// header OBU).
const AV1C: &[u8] = &[
    0x81, 0x20, 0x00, 0x00, 0x0a, 0x0d, 0x20, 0x00, 0x00, 0x00, 0x02, 0xaf, 0xf7, 0x9b, 0x5f, 0x24, 0x04, 0x34, 0x00,
    0x80,
];
/// libvpx's vpcC (version 1, then profile, level, bit depth/chroma, colour).
const VPCC: &[u8] = &[0x01, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x87, 0x02, 0x02, 0x00, 0x00, 0x00];
/// libopus's OpusHead (stereo, pre-skip 312, 48 kHz).
const OPUS_HEAD: &[u8] = &[
    0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64, 0x01, 0x02, 0x38, 0x01, 0x80, 0xbb, 0x00, 0x00, 0x00, 0x00, 0x00,
];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn video_codec(info: &FrameInfo) -> Option<VideoCodec> {
    match info.codec {
        Codec::Video(codec) => Some(codec),
        _ => None,
    }
}

fn audio_codec(info: &FrameInfo) -> Option<AudioCodec> {
    match info.codec {
        Codec::Audio(codec) => Some(codec),
        _ => None,
    }
}

#[test]
fn legacy_avc_sequence_header_keyframe_and_inter_frame() {
    let header = video(AVC_SEQUENCE_HEADER);
    assert_eq!(video_codec(&header), Some(VideoCodec::Avc));
    assert!(header.config && header.keyframe && !header.coded);
    assert_eq!(
        (header.data_offset, header.legacy_id, header.enhanced),
        (5, Some(7), false)
    );
    let record = header.config_record(AVC_SEQUENCE_HEADER).unwrap();
    assert_eq!(record.first(), Some(&1), "configurationVersion");
    assert_eq!(record.len(), AVC_SEQUENCE_HEADER.len() - 5);

    let key = video(AVC_KEYFRAME);
    assert!(key.keyframe && key.coded && !key.config);
    assert_eq!((key.cts, key.data_offset), (133, 5));
    assert_eq!(key.data(AVC_KEYFRAME), &[0, 0, 2, 0xba, 6]);
    assert_eq!(key.config_record(AVC_KEYFRAME), None);

    let inter = video(&[0x27, 0x01, 0x00, 0x00, 0x43, 0xAA]);
    assert!(!inter.keyframe && inter.coded);
    assert_eq!(inter.cts, 67);

    let end = video(&[0x17, 0x02, 0, 0, 0]);
    assert!(end.end_of_sequence && !end.coded && !end.config);
}

#[test]
fn negative_composition_times_keep_their_sign() {
    assert_eq!(video(&[0x27, 0x01, 0xFF, 0xFF, 0xFF, 0xAA]).cts, -1);
    assert_eq!(video(&[0x27, 0x01, 0xFF, 0xFF, 0x80]).cts, -128);
    assert_eq!(video(&[0x27, 0x01, 0x80, 0x00, 0x00]).cts, -8_388_608);
    assert_eq!(video(&[0x27, 0x01, 0x7F, 0xFF, 0xFF]).cts, 8_388_607);
    let enhanced = video(&cat(&[b"\xA1hvc1", &[0xFF, 0xFF, 0xD8], b"nal"]));
    assert_eq!((enhanced.cts, enhanced.data_offset), (-40, 8));
    // Only NALU packets carry a composition time.
    assert_eq!(video(&[0x17, 0x00, 0xFF, 0xFF, 0xFF]).cts, 0);
}

#[test]
fn legacy_hevc_codec_id_12() {
    let body = cat(&[&[0x1C, 0, 0, 0, 0], HVCC_HEAD]);
    let header = video(&body);
    assert_eq!(video_codec(&header), Some(VideoCodec::Hevc));
    assert_eq!(header.legacy_id, Some(12));
    assert_eq!(header.config_record(&body), Some(HVCC_HEAD));
    let inter = video(&[0x2C, 0x01, 0x00, 0x00, 0x28, 0x01]);
    assert!(!inter.keyframe && inter.coded);
    assert_eq!((inter.cts, inter.data_offset), (40, 5));
}

#[test]
fn other_legacy_video_codecs_are_coded_after_one_byte() {
    let vp6 = video(&[0x14, 0x00, 0xAB]);
    assert_eq!(video_codec(&vp6), Some(VideoCodec::Other(4)));
    assert!(vp6.keyframe && vp6.coded && !vp6.config);
    assert_eq!((vp6.data_offset, vp6.legacy_id, vp6.cts), (1, Some(4), 0));
    let h263 = video(&[0x22, 0x00]);
    assert_eq!(video_codec(&h263), Some(VideoCodec::Other(2)));
    assert!(!h263.keyframe);
}

#[test]
fn command_frames_carry_no_media() {
    // Legacy frame type 5 and Enhanced RTMP Command frames: a command byte, nothing to mux.
    for body in [&[0x57, 0x00, 0x00][..], b"\xD0\x01"] {
        let info = video(body);
        assert!(!info.keyframe && !info.config && !info.coded, "{body:?}");
        assert_eq!(info.data_offset, body.len());
    }
}

#[test]
fn enhanced_sequence_starts_for_every_video_fourcc() {
    for (fourcc, codec, record) in [
        (b"hvc1", VideoCodec::Hevc, HVCC_HEAD),
        (b"avc1", VideoCodec::Avc, AVC_SEQUENCE_HEADER.get(5..).unwrap()),
        (b"av01", VideoCodec::Av1, AV1C),
        (b"vp09", VideoCodec::Vp9, VPCC),
    ] {
        let body = cat(&[b"\x90", fourcc, record]);
        let info = video(&body);
        assert_eq!(video_codec(&info), Some(codec));
        assert!(info.config && info.keyframe && info.enhanced && !info.coded);
        assert_eq!((info.data_offset, info.legacy_id, info.cts), (5, None, 0));
        assert_eq!(info.config_record(&body), Some(record));
    }
}

#[test]
fn enhanced_coded_frames_carry_cts_only_for_avc_and_hevc() {
    for (fourcc, codec) in [(b"hvc1", VideoCodec::Hevc), (b"avc1", VideoCodec::Avc)] {
        let body = cat(&[b"\x91", fourcc, &[0, 0, 0x50], b"nal"]);
        let info = video(&body);
        assert_eq!(video_codec(&info), Some(codec));
        assert!(info.keyframe && info.coded && !info.config);
        assert_eq!((info.cts, info.data(&body)), (80, &b"nal"[..]));
        // CodedFramesX: the same frame with its zero composition time left out.
        let x = cat(&[&[0xA3], fourcc, b"nal"]);
        let info = video(&x);
        assert!(!info.keyframe && info.coded);
        assert_eq!((info.cts, info.data_offset), (0, 5));
        assert_eq!(info.data(&x), b"nal");
    }
    for (fourcc, codec) in [(b"av01", VideoCodec::Av1), (b"vp09", VideoCodec::Vp9)] {
        let body = cat(&[b"\x91", fourcc, &[0x12, 0x00]]);
        let info = video(&body);
        assert_eq!(video_codec(&info), Some(codec));
        assert!(info.keyframe && info.coded);
        assert_eq!(
            (info.cts, info.data_offset),
            (0, 5),
            "no composition time for {codec:?}"
        );
    }
}

#[test]
fn enhanced_end_metadata_and_other_packet_types() {
    let end = video(b"\x92hvc1");
    assert!(end.end_of_sequence && !end.coded && !end.config);
    assert_eq!(end.data_offset, 5);
    let metadata = video(b"\x94av01\x02\x00\x09colorInfo");
    assert!(!metadata.coded && !metadata.config && !metadata.end_of_sequence);
    assert_eq!(
        (metadata.data_offset, video_codec(&metadata)),
        (5, Some(VideoCodec::Av1))
    );
    let ts = video(b"\x95av01\x80");
    assert!(!ts.config && !ts.coded, "MPEG2TSSequenceStart is not an av1C record");
    let vp8 = video(b"\x91vp08\x00");
    assert_eq!(video_codec(&vp8), Some(VideoCodec::Other(u32::from_be_bytes(*b"vp08"))));
}

#[test]
fn mod_ex_blocks_are_skipped_to_the_packet_type_inside() {
    // ModEx (7) with 3 bytes of TimestampOffsetNano, then (ModEx type 0, CodedFrames).
    let body = cat(&[
        &[0x97, 0x02, 0x00, 0x01, 0x00, 0x01],
        b"hvc1",
        &[0xFF, 0xFF, 0xF6],
        b"nal",
    ]);
    let info = video(&body);
    assert_eq!(video_codec(&info), Some(VideoCodec::Hevc));
    assert!(info.keyframe && info.coded);
    assert_eq!((info.cts, info.data(&body)), (-10, &b"nal"[..]));
    // Two blocks, the second 300 bytes long (UI8 255 then UI16 size - 1), then SequenceStart.
    let mut body = vec![0x97, 0x00, 0xAA, 0x07, 0xFF];
    body.extend(299u16.to_be_bytes());
    body.extend([0u8; 300]);
    body.push(0x00);
    body.extend_from_slice(b"av01");
    body.extend_from_slice(AV1C);
    let info = video(&body);
    assert!(info.config);
    assert_eq!(info.config_record(&body), Some(AV1C));
    // Audio ModEx around an Opus SequenceStart.
    let body = cat(&[&[0x97, 0x00, 0x00, 0x00], b"Opus", OPUS_HEAD]);
    let info = audio(&body);
    assert_eq!((audio_codec(&info), info.config), (Some(AudioCodec::Opus), true));
    assert_eq!(info.config_record(&body), Some(OPUS_HEAD));
}

#[test]
fn multitrack_names_the_shared_codec_and_is_never_keyframe_or_config() {
    // OneTrack (0) of CodedFrames (1) av01, track id 0.
    let body = cat(&[b"\x96\x01av01", &[0x00, 0x12, 0x00]]);
    let info = video(&body);
    assert_eq!(video_codec(&info), Some(VideoCodec::Av1));
    assert!(info.multitrack && !info.keyframe && !info.config && !info.coded);
    assert_eq!(info.data_offset, 6);
    // ManyTracksManyCodecs (2): each track names its codec, none here.
    let info = video(b"\x96\x20hvc1\x00\x00\x00\x04");
    assert_eq!(
        (info.codec, info.data_offset, info.multitrack),
        (Codec::Unknown, 2, true)
    );
    // Audio ManyTracks (1) of SequenceStart Opus.
    let info = audio(b"\x95\x10Opus\x00\x00\x00\x13");
    assert_eq!(audio_codec(&info), Some(AudioCodec::Opus));
    assert!(info.multitrack && !info.config);
    assert_eq!(info.data_offset, 6);
}

#[test]
fn legacy_audio_aac_and_mp3() {
    let header = audio(AAC_SEQUENCE_HEADER);
    assert_eq!(audio_codec(&header), Some(AudioCodec::Aac));
    assert!(header.config && !header.coded && !header.keyframe);
    assert_eq!(
        header.config_record(AAC_SEQUENCE_HEADER),
        Some(&AAC_SEQUENCE_HEADER[2..])
    );
    assert_eq!((header.legacy_id, header.data_offset), (Some(10), 2));
    let raw = audio(AAC_RAW);
    assert!(raw.coded && !raw.config);
    assert_eq!(raw.data(AAC_RAW), &AAC_RAW[2..]);
    for first in [0x2F, 0xEF] {
        let mp3 = audio(&[first, 0xFF, 0xFB]);
        assert_eq!(audio_codec(&mp3), Some(AudioCodec::Mp3));
        assert!(mp3.coded && !mp3.config);
        assert_eq!((mp3.data_offset, mp3.legacy_id), (1, Some(first >> 4)));
    }
    let pcm = audio(&[0x3F, 1, 2]);
    assert_eq!((audio_codec(&pcm), pcm.data_offset), (Some(AudioCodec::Other(3)), 1));
}

#[test]
fn enhanced_audio_fourccs_and_packet_types() {
    let flac_info = [0x80, 0x00, 0x00, 0x22, 0x10, 0x00];
    for (fourcc, codec) in [
        (b"Opus", AudioCodec::Opus),
        (b"fLaC", AudioCodec::Flac),
        (b"ac-3", AudioCodec::Ac3),
        (b"ec-3", AudioCodec::Eac3),
        (b"mp4a", AudioCodec::Aac),
        (b".mp3", AudioCodec::Mp3),
        (b"xxxx", AudioCodec::Other(u32::from_be_bytes(*b"xxxx"))),
    ] {
        let start = cat(&[b"\x90", fourcc, &flac_info]);
        let info = audio(&start);
        assert_eq!(audio_codec(&info), Some(codec));
        assert!(info.config && info.enhanced && !info.keyframe && !info.coded);
        assert_eq!((info.data_offset, info.legacy_id), (5, None));
        assert_eq!(info.config_record(&start), Some(&flac_info[..]));
        let coded = audio(&cat(&[b"\x91", fourcc, b"abc"]));
        assert!(coded.coded && !coded.config);
        assert_eq!((coded.data_offset, coded.cts), (5, 0));
        assert!(audio(&cat(&[b"\x92", fourcc])).end_of_sequence);
        let multichannel = audio(&cat(&[b"\x94", fourcc, &[1, 2]]));
        assert!(!multichannel.coded && !multichannel.config);
    }
}

#[test]
fn data_and_empty_payloads_describe_nothing() {
    assert_eq!(demux(FrameKind::Data, b"\x02\x00\x0aonMetaData"), FrameInfo::default());
    assert_eq!(video(&[]), FrameInfo::default());
    assert_eq!(audio(&[]), FrameInfo::default());
    assert_eq!(demux(FrameKind::Video, AVC_KEYFRAME), video(AVC_KEYFRAME));
    assert_eq!(demux(FrameKind::Audio, AAC_RAW), audio(AAC_RAW));
}

/// Every case above and some hostile ones, cut at every length and as garbage: never a
/// panic, data always inside the payload, and nothing claimed that was not read.
#[test]
fn truncated_and_garbage_payloads_never_panic() {
    let mut mod_ex_long = vec![0x97, 0xFF, 0xFF, 0xFF];
    mod_ex_long.extend([0u8; 40]);
    let cases: Vec<Vec<u8>> = vec![
        AVC_SEQUENCE_HEADER.to_vec(),
        AVC_KEYFRAME.to_vec(),
        cat(&[b"\x91hvc1", &[0xFF, 0xFF, 0xD8], b"nal"]),
        cat(&[b"\x90av01", AV1C]),
        cat(&[&[0x97, 0x02, 0x00, 0x01, 0x00, 0x01], b"hvc1", &[0, 0, 1], b"n"]),
        b"\x96\x01av01\x00\x12".to_vec(),
        b"\xD0\x01".to_vec(),
        mod_ex_long,
        vec![0x97; 64],
        vec![0xFF; 64],
        vec![0x00; 16],
    ];
    for case in &cases {
        for cut in 0..=case.len() {
            let bytes = &case[..cut];
            for info in [video(bytes), audio(bytes)] {
                assert!(info.data_offset <= bytes.len(), "{case:02x?} cut at {cut}");
                assert_eq!(info.data(bytes).len(), bytes.len() - info.data_offset);
            }
        }
    }
    let audio_cases: [&[u8]; 4] = [
        AAC_SEQUENCE_HEADER,
        b"\x90Opus\x01",
        &[0x97, 0x00, 0x00, 0x00, 0x4f, 0x70, 0x75, 0x73],
        b"\x95\x10Opus\x00",
    ];
    for case in audio_cases {
        for cut in 0..=case.len() {
            let info = audio(&case[..cut]);
            assert!(info.data_offset <= cut);
            assert!(!info.keyframe);
        }
    }
    // A truncated legacy NALU header is not coded; a cut FourCC names no codec and
    // claims no record.
    assert!(!video(&[0x17, 0x01, 0x00, 0x00]).coded);
    let cut = video(b"\x90hv");
    assert_eq!((cut.codec, cut.config, cut.data_offset), (Codec::Unknown, false, 3));
    let cut = video(b"\x91hvc1\x00\x00");
    assert!(!cut.coded && cut.cts == 0);
    assert_eq!(cut.data_offset, 7);
    let cut = audio(b"\x90Op");
    assert_eq!((cut.codec, cut.config), (Codec::Unknown, false));
}

/// Every first and second byte, over a short tail of ModEx-ish bytes: never a panic and
/// the data always inside the payload.
#[test]
fn every_two_byte_header_is_sane() {
    for first in 0..=u8::MAX {
        for second in 0..=u8::MAX {
            let payload = [first, second, 0x00, 0x07, 0xFF, second, first];
            for len in [2, payload.len()] {
                let bytes = &payload[..len];
                for info in [video(bytes), audio(bytes)] {
                    assert!(info.data_offset <= len);
                    assert!(!(info.config && info.coded));
                }
                assert!(!audio(bytes).keyframe);
            }
        }
    }
}
