//! The blocking glue: a listener thread accepting connections, one thread per connection
//! driving a sans-IO session, and the registry of published streams.

mod bind;
pub mod connection;
pub mod context;
mod decision_glue;
pub mod listener;
pub(crate) mod player_writer;
mod playing;
mod publishing;
mod read_buffer;
pub mod reconnect;
pub mod stats;
pub mod transport;

pub use listener::{Server, ShutdownHandle};
