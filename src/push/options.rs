//! The `--push URL` flag: a URL template (`{app}` and `{stream}` substituted per stream),
//! checked at start-up, and whether its stream part may be shown in logs.

use crate::client::url::{substitute, RtmpUrl};

/// One `--push` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    pub template: String,
    /// The stream part is exactly `{stream}` (the edge's own name, not a secret); otherwise
    /// it is a literal such as a platform's stream key and is redacted in logs and the API.
    pub show_stream: bool,
}

impl PushTarget {
    /// The URL for one stream.
    pub fn url_for(&self, app: &str, stream: &str) -> Result<RtmpUrl, crate::client::url::UrlError> {
        RtmpUrl::parse(&substitute(&self.template, app, stream))
    }
}

/// Push relay settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushOptions {
    pub targets: Vec<PushTarget>,
}

/// argh parser for `--push`: the template must make a valid URL for a sample stream.
pub fn parse_push(value: &str) -> Result<PushTarget, String> {
    RtmpUrl::parse(&substitute(value, "app", "stream"))
        .map_err(|e| format!("{e} (expected rtmp[s]://host[:port]/app/stream, {{app}} and {{stream}} allowed)"))?;
    let path = value.split('?').next().unwrap_or("");
    Ok(PushTarget {
        template: value.to_owned(),
        show_stream: path.ends_with("/{stream}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_checked_and_their_stream_part_classified() {
        let own = parse_push("rtmp://origin:1936/{app}/{stream}").unwrap();
        assert!(own.show_stream);
        let url = own.url_for("live", "cam").unwrap();
        assert_eq!((url.port, url.app.as_str(), url.stream.as_str()), (1936, "live", "cam"));
        let keyed = parse_push("rtmps://a.rtmp.youtube.com/live2/SECRET").unwrap();
        assert!(!keyed.show_stream);
        assert!(parse_push("rtmp://origin/{app}/{stream}?key=abc").unwrap().show_stream);
        assert!(!parse_push("rtmp://origin/live/{stream}_hd").unwrap().show_stream);
        assert!(parse_push("http://origin/live/x").is_err());
        assert!(parse_push("rtmp://origin/{app}").is_err());
    }
}
