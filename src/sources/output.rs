//! A source's stdout and stderr to the log, line by line, each line prefixed with the
//! source's name: lines end at `\n` or `\r` (FFmpeg's progress line), are cut at
//! `MAX_LINE` bytes, control characters are shown as `?`, and URLs lose their passwords and
//! queries (`config::sources::redact_urls`).

use crate::config::sources::redact_urls;
use std::io::Read;

/// Longest line logged (bytes); the rest of a longer line is dropped.
pub const MAX_LINE: usize = 1024;
/// Stack of an output reader thread.
const READER_STACK_SIZE: usize = 64 * 1024;

/// Splits a byte stream into lines of at most `MAX_LINE` bytes.
#[derive(Debug, Default)]
pub struct Lines {
    line: Vec<u8>,
    /// The current line was cut: drop bytes until its end.
    cut: bool,
}

impl Lines {
    /// Feeds bytes; `emit` gets each complete, non-empty line (printable, redacted).
    pub fn push(&mut self, bytes: &[u8], emit: &mut impl FnMut(String)) {
        for &byte in bytes {
            if byte == b'\n' || byte == b'\r' {
                self.end_line(emit);
            } else if self.line.len() < MAX_LINE {
                self.line.push(byte);
            } else if !self.cut {
                self.cut = true;
            }
        }
    }

    /// End of output: the last unterminated line, if any.
    pub fn finish(&mut self, emit: &mut impl FnMut(String)) {
        self.end_line(emit);
    }

    fn end_line(&mut self, emit: &mut impl FnMut(String)) {
        if !self.line.is_empty() {
            let mut text: String = String::from_utf8_lossy(&self.line)
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            if self.cut {
                text.push_str(" [cut]");
            }
            emit(redact_urls(&text));
        }
        self.line.clear();
        self.cut = false;
    }
}

/// Logs what `out` yields on a thread of its own until it ends (the thread is detached: a
/// process the source started may keep the pipe open after the source exits).
pub fn log_output(out: impl Read + Send + 'static, source: &str) {
    let source = source.to_owned();
    let spawned = std::thread::Builder::new()
        .name("source-output".to_owned())
        .stack_size(READER_STACK_SIZE)
        .spawn(move || {
            let mut out = out;
            let mut lines = Lines::default();
            let mut emit = |line: String| log::info!("source {source}: {line}");
            let mut buffer = [0u8; 4096];
            loop {
                match out.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => lines.push(buffer.get(..n).unwrap_or(&[]), &mut emit),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            lines.finish(&mut emit);
        });
    if let Err(e) = spawned {
        log::warn!("source output not logged error=\"{e}\"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut lines = Lines::default();
        let mut got = Vec::new();
        let mut emit = |l: String| got.push(l);
        for chunk in chunks {
            lines.push(chunk, &mut emit);
        }
        lines.finish(&mut emit);
        got
    }

    #[test]
    fn lines_end_at_newline_or_carriage_return_across_reads() {
        assert_eq!(
            split(&[b"frame=1\rframe=2\r", b"err", b"or\r\n\nlast"]),
            vec!["frame=1", "frame=2", "error", "last"]
        );
    }

    #[test]
    fn long_lines_are_cut_and_control_characters_hidden() {
        let long = vec![b'x'; MAX_LINE * 3];
        let got = split(&[&long, b"\nnext \x1b[1m\n"]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), MAX_LINE + " [cut]".len());
        assert!(got[0].ends_with(" [cut]"));
        assert_eq!(got[1], "next ?[1m");
    }

    #[test]
    fn passwords_in_urls_are_not_logged() {
        assert_eq!(
            split(&[b"Input #0, rtsp, from 'rtsp://admin:secret@cam/1':\n"]),
            vec!["Input #0, rtsp, from 'rtsp://***@cam/1':"]
        );
    }
}
