//! AAC in ADTS (pure): the frames of one audio PES packet without their ADTS headers, and
//! the AudioSpecificConfig their header describes.

/// Bytes of an ADTS header without CRC.
const HEADER_LEN: usize = 7;
/// The AAC sample rates by sampling_frequency_index.
const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];
/// Samples per AAC frame.
pub const SAMPLES_PER_FRAME: u32 = 1024;

/// One raw AAC frame and the configuration of its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdtsFrame<'a> {
    /// AudioSpecificConfig (2 bytes: object type, frequency index, channels).
    pub config: [u8; 2],
    pub sample_rate: u32,
    pub data: &'a [u8],
}

/// The ADTS frames of `data`, in order; parsing stops at the first bad header.
pub fn split_adts(data: &[u8]) -> Vec<AdtsFrame<'_>> {
    let mut frames = Vec::new();
    let mut rest = data;
    while let Some((frame, len)) = parse_frame(rest) {
        frames.push(frame);
        rest = rest.get(len..).unwrap_or_default();
    }
    frames
}

fn parse_frame(data: &[u8]) -> Option<(AdtsFrame<'_>, usize)> {
    let b = |i: usize| data.get(i).copied();
    if b(0)? != 0xFF || b(1)? & 0xF6 != 0xF0 {
        return None;
    }
    let protection_absent = b(1)? & 0x01 == 1;
    let object_type = ((b(2)? >> 6) & 0x03) + 1;
    let frequency_index = (b(2)? >> 2) & 0x0F;
    let channels = ((b(2)? & 0x01) << 2) | (b(3)? >> 6);
    let frame_len = (usize::from(b(3)? & 0x03) << 11) | (usize::from(b(4)?) << 3) | usize::from(b(5)? >> 5);
    let header_len = if protection_absent { HEADER_LEN } else { HEADER_LEN + 2 };
    let sample_rate = *SAMPLE_RATES.get(usize::from(frequency_index))?;
    let payload = data.get(header_len..frame_len)?;
    let config = [
        (object_type << 3) | (frequency_index >> 1),
        ((frequency_index & 0x01) << 7) | (channels << 3),
    ];
    Some((
        AdtsFrame {
            config,
            sample_rate,
            data: payload,
        },
        frame_len,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test code may panic
    use super::*;
    use crate::ts::tests::adts;

    #[test]
    fn splits_frames_and_builds_the_config() {
        let mut data = adts(b"one");
        data.extend(adts(b"second"));
        data.extend_from_slice(&[0xFF, 0x00]); // garbage ends the list
        let frames = split_adts(&data);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].data, b"one");
        assert_eq!(frames[1].data, b"second");
        // AAC-LC (2), 44.1 kHz (4), 2 channels: 0x12 0x10.
        assert_eq!(frames[0].config, [0x12, 0x10]);
        assert_eq!(frames[0].sample_rate, 44100);
    }

    #[test]
    fn truncated_frames_stop_the_split() {
        let data = adts(b"payload");
        assert!(split_adts(&data[..data.len() - 1]).is_empty());
        assert!(split_adts(&[0xFF, 0xF1, 0xFF]).is_empty());
    }
}
