//! `write_all_vectored` on stable Rust: writes every slice (one `writev` per call the writer
//! accepts), retrying on EINTR; used by the player writer.

use std::io::{self, IoSlice, Write};

/// Writes all of `slices` or fails; a writer that takes nothing is `WriteZero`.
pub fn write_all_vectored(writer: &mut impl Write, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !slices.is_empty() {
        match writer.write_vectored(slices) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "writer took no bytes")),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes at most 3 bytes per call, and fails once with EINTR.
    struct Trickle {
        out: Vec<u8>,
        interrupted: bool,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if !self.interrupted {
                self.interrupted = true;
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            let n = buf.len().min(3);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_slice_is_written_in_order_across_short_writes_and_eintr() {
        let mut writer = Trickle {
            out: Vec::new(),
            interrupted: false,
        };
        let mut slices = [IoSlice::new(b"hello "), IoSlice::new(b""), IoSlice::new(b"world")];
        write_all_vectored(&mut writer, &mut slices).unwrap();
        assert_eq!(writer.out, b"hello world");
    }

    #[test]
    fn a_writer_that_takes_nothing_is_write_zero() {
        let mut full: &mut [u8] = &mut [];
        let mut slices = [IoSlice::new(b"x")];
        let error = write_all_vectored(&mut full, &mut slices).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WriteZero);
    }
}
