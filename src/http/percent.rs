//! Percent-decoding (RFC 3986) of request paths and query values.

/// `text` with each `%XX` decoded (and `+` as a space when `plus_is_space`, as in query
/// strings); None for a bad escape or bytes that are not UTF-8.
pub fn decode(text: &str, plus_is_space: bool) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        match first {
            b'%' => {
                let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = tail.get(2..)?;
            }
            b'+' if plus_is_space => {
                bytes.push(b' ');
                rest = tail;
            }
            other => {
                bytes.push(other);
                rest = tail;
            }
        }
    }
    String::from_utf8(bytes).ok()
}

/// The percent-decoded value of `name` in a query string (`+` is a space).
pub fn query_value(query: &str, name: &str) -> Result<Option<String>, &'static str> {
    let Some(raw) = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
    else {
        return Ok(None);
    };
    decode(raw, true).map(Some).ok_or("bad percent-encoding in the query")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded() {
        let query = "x=1&tcUrl=rtmp%3A%2F%2Fh%3A1936%2Flive&description=going+away";
        assert_eq!(
            query_value(query, "tcUrl").unwrap().as_deref(),
            Some("rtmp://h:1936/live")
        );
        assert_eq!(
            query_value(query, "description").unwrap().as_deref(),
            Some("going away")
        );
        assert_eq!(query_value(query, "other").unwrap(), None);
        assert!(query_value("tcUrl=%zz", "tcUrl").is_err());
        assert!(query_value("tcUrl=%4", "tcUrl").is_err());
    }

    #[test]
    fn paths_keep_plus_signs() {
        assert_eq!(decode("a+b%20c", false).as_deref(), Some("a+b c"));
        assert_eq!(decode("%ff", false), None, "not UTF-8");
    }
}
