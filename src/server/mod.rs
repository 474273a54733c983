//! The blocking glue: a listener thread accepting connections, one thread per connection
//! driving a sans-IO session, the registry of published streams, and HTTP viewers
//! (`viewing`).

mod bind;
pub mod connection;
pub mod context;
mod decision_glue;
pub(crate) mod delivery;
pub mod listener;
pub(crate) mod player_writer;
mod playing;
mod publishing;
mod read_buffer;
pub mod reconnect;
pub mod srt;
pub mod stats;
pub mod transport;
pub mod viewing;

pub use listener::{Server, ShutdownHandle};
