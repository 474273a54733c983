//! A connection's socket read buffer that starts small and grows only while reads fill it:
//! players (which send little) keep a few KiB, publishers reach [`READ_BUFFER_MAX`] and read
//! their media with few syscalls.

/// Bytes of the first read buffer (a handshake packet, 1536 bytes, fits).
pub const READ_BUFFER_START: usize = 4 * 1024;
/// Largest read buffer; a read that fills the buffer doubles it up to this.
pub const READ_BUFFER_MAX: usize = 256 * 1024;

#[derive(Debug)]
pub struct ReadBuffer {
    buf: Vec<u8>,
}

impl Default for ReadBuffer {
    fn default() -> Self {
        ReadBuffer {
            buf: vec![0; READ_BUFFER_START],
        }
    }
}

impl ReadBuffer {
    /// Where the next read goes.
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// The `n` bytes just read; a read that filled the buffer makes it grow for the next.
    pub fn filled(&mut self, n: usize) -> &[u8] {
        if n >= self.buf.len() && self.buf.len() < READ_BUFFER_MAX {
            let len = self.buf.len().saturating_mul(2).min(READ_BUFFER_MAX);
            self.buf.resize(len, 0);
        }
        self.buf.get(..n).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_only_while_reads_fill_it_and_keeps_the_bytes() {
        let mut buffer = ReadBuffer::default();
        assert_eq!(buffer.space().len(), READ_BUFFER_START);
        buffer.space()[..3].copy_from_slice(b"abc");
        assert_eq!(buffer.filled(3), b"abc");
        assert_eq!(buffer.space().len(), READ_BUFFER_START, "a short read keeps the size");
        let mut len = READ_BUFFER_START;
        while len < READ_BUFFER_MAX {
            buffer.space().fill(7);
            assert!(buffer.filled(len).iter().all(|&b| b == 7), "data kept across growth");
            len = (len * 2).min(READ_BUFFER_MAX);
            assert_eq!(buffer.space().len(), len);
        }
        buffer.filled(READ_BUFFER_MAX);
        assert_eq!(buffer.space().len(), READ_BUFFER_MAX, "never past the maximum");
        assert!(
            buffer.filled(usize::MAX).is_empty(),
            "an impossible count yields nothing"
        );
    }
}
