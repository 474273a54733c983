//! Live players for integration tests: an FFmpeg player writing framemd5, rtmpdump (librtmp)
//! writing FLV, and the check
//! that what a player got is the source from some keyframe on, shifted by one constant.

use std::process::{Child, Command, Stdio};

/// `ffmpeg -i URL -c copy -f framemd5 -` (RTMP or HTTP-FLV) as a child writing to `out`.
pub fn ffmpeg_player(url: &str, out: &std::path::Path) -> Child {
    ffmpeg_copy_player(url, "framemd5", out)
}

/// `ffmpeg -i URL -c copy -f FORMAT OUT` (RTMP, HTTP-FLV or HLS) as a child.
pub fn ffmpeg_copy_player(url: &str, format: &str, out: &std::path::Path) -> Child {
    Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i", url, "-c", "copy", "-f", format, "-y"])
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ffmpeg player")
}

/// `rtmpdump -q -v -r URL -o OUT` (a live stream, librtmp) as a child.
pub fn rtmpdump_player(url: &str, out: &std::path::Path) -> Child {
    Command::new("rtmpdump")
        .args(["-q", "-v", "-r", url, "-o"])
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rtmpdump")
}

pub fn framemd5_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// (stream, dts, size, hash) of a framemd5 line.
pub fn packet(line: &str) -> (String, i64, String, String) {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    (
        fields[0].to_owned(),
        fields[1].parse().unwrap(),
        fields[4].to_owned(),
        fields[5].to_owned(),
    )
}

/// Asserts `player` is `source` from some packet on: same packets, one constant time shift.
pub fn assert_suffix_of_source(name: &str, source: &[String], player: &[String]) {
    assert!(player.len() > 10, "{name} received {} packets", player.len());
    let first = packet(&player[0]);
    let start = source
        .iter()
        .position(|l| {
            let p = packet(l);
            (p.0 == first.0, &p.2, &p.3) == (true, &first.2, &first.3)
        })
        .unwrap_or_else(|| panic!("{name}: first packet not in source"));
    let expected = &source[start..];
    assert_eq!(player.len(), expected.len(), "{name}: not every packet to the end");
    let shift = packet(&expected[0]).1 - first.1;
    for (got, want) in player.iter().zip(expected) {
        let (g, w) = (packet(got), packet(want));
        assert_eq!((&g.0, &g.2, &g.3), (&w.0, &w.2, &w.3), "{name}: packet differs");
        assert_eq!(w.1 - g.1, shift, "{name}: timestamps not shifted by one constant");
    }
}
