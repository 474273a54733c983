//! Sans-IO `Range: bytes=...` (RFC 9110 §14) for one range of a representation of known
//! size: the whole thing, one satisfiable range, or 416. Several ranges (multipart/byteranges)
//! are answered with the whole representation, which the RFC allows.

/// What to send for a request's Range header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No (usable) Range header: 200 with every byte.
    Full,
    /// 206 with bytes `start..=end`.
    Partial { start: u64, end: u64 },
    /// 416: the range lies beyond the end.
    Unsatisfiable,
}

/// Reads `header` (the Range header value, if any) against a representation of `size` bytes.
pub fn answer(header: Option<&str>, size: u64) -> RangeAnswer {
    let Some(spec) = header.map(str::trim).and_then(|h| h.strip_prefix("bytes=")) else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    match (first.is_empty(), number(first), number(last)) {
        // bytes=-N: the last N bytes.
        (true, _, Some(suffix)) => {
            if suffix == 0 || size == 0 {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Partial {
                    start: size.saturating_sub(suffix),
                    end: size - 1,
                }
            }
        }
        (false, Some(start), last) if last.is_some() || last_is_open(last, spec) => {
            if start >= size {
                return RangeAnswer::Unsatisfiable;
            }
            let end = last.map_or(size - 1, |l| l.min(size - 1));
            if end < start {
                RangeAnswer::Full
            } else {
                RangeAnswer::Partial { start, end }
            }
        }
        _ => RangeAnswer::Full,
    }
}

/// `bytes=N-` (open end) as opposed to a malformed last position.
fn last_is_open(last: Option<u64>, spec: &str) -> bool {
    last.is_none() && spec.trim().ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(answer(None, 100), RangeAnswer::Full);
        assert_eq!(
            answer(Some("bytes=0-9"), 100),
            RangeAnswer::Partial { start: 0, end: 9 }
        );
        assert_eq!(
            answer(Some("bytes=90-"), 100),
            RangeAnswer::Partial { start: 90, end: 99 }
        );
        assert_eq!(
            answer(Some("bytes=90-500"), 100),
            RangeAnswer::Partial { start: 90, end: 99 }
        );
        assert_eq!(
            answer(Some("bytes=-10"), 100),
            RangeAnswer::Partial { start: 90, end: 99 }
        );
        assert_eq!(
            answer(Some("bytes=-500"), 100),
            RangeAnswer::Partial { start: 0, end: 99 }
        );
        assert_eq!(answer(Some("bytes=100-"), 100), RangeAnswer::Unsatisfiable);
        assert_eq!(answer(Some("bytes=-0"), 100), RangeAnswer::Unsatisfiable);
        assert_eq!(answer(Some("bytes=0-0"), 0), RangeAnswer::Unsatisfiable);
        // Ignored: other units, several ranges, garbage, reversed.
        for header in [
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=a-b",
            "bytes=5-1",
            "bytes=",
            "bytes=1-x",
        ] {
            assert_eq!(answer(Some(header), 100), RangeAnswer::Full, "{header}");
        }
    }
}
