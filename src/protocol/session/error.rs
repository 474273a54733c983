//! Why a server session refuses its peer's input: the typed errors of `handle_input` and
//! of the decision calls. On any of them the connection must be closed.

use crate::protocol::chunk::ChunkError;
use crate::protocol::command::CommandError;
use crate::protocol::handshake::HandshakeError;
use crate::protocol::message::MessageError;

#[derive(Debug, Clone, PartialEq)]
pub enum SessionError {
    Handshake(HandshakeError),
    Chunk(ChunkError),
    Control(MessageError),
    Command(CommandError),
    /// A command that needs an earlier step (connect, createStream) came before it.
    OutOfOrder {
        command: String,
    },
    /// A command lacks an argument it cannot do without.
    MissingArgument {
        command: String,
        argument: &'static str,
    },
    /// An app or stream name with a control character (NUL, newline...).
    ControlCharacterInName,
    NameTooLong {
        length: usize,
        limit: usize,
    },
    TooManyStreams {
        limit: usize,
    },
    /// The peer sent more than `limit` bytes while a publish or play request waited for the
    /// caller's decision (`MAX_PENDING_INPUT`): the caller did not stop reading, or read
    /// more than `input_room` allowed. Nothing of the offending input was kept.
    PendingInputFull {
        limit: usize,
    },
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionError::Handshake(e) => write!(f, "handshake: {e}"),
            SessionError::Chunk(e) => write!(f, "chunk stream: {e}"),
            SessionError::Control(e) => write!(f, "control message: {e}"),
            SessionError::Command(e) => write!(f, "command: {e}"),
            SessionError::OutOfOrder { command } => write!(f, "command {command} out of order"),
            SessionError::MissingArgument { command, argument } => {
                write!(f, "command {command} lacks {argument}")
            }
            SessionError::NameTooLong { length, limit } => write!(f, "name of {length} bytes exceeds {limit}"),
            SessionError::ControlCharacterInName => write!(f, "control character in app or stream name"),
            SessionError::TooManyStreams { limit } => write!(f, "more than {limit} streams on one connection"),
            SessionError::PendingInputFull { limit } => {
                write!(
                    f,
                    "more than {limit} bytes sent while a publish or play decision is pending"
                )
            }
        }
    }
}

impl std::error::Error for SessionError {}

impl From<ChunkError> for SessionError {
    fn from(e: ChunkError) -> Self {
        SessionError::Chunk(e)
    }
}
