//! SRT ingest, the pure parts: the settings (`options`), stream ids (`stream_id`), the
//! passphrase file (`passphrase`) and the check that keeps peer handshakes inside what the
//! SRT protocol core handles (`guard`). The blocking glue is `server::srt`.

pub mod guard;
pub mod options;
pub mod passphrase;
pub mod stream_id;

pub use options::SrtOptions;
pub use stream_id::{parse_stream_id, SrtTarget, StreamIdError};
