//! Live streams: the registry of streams by app/stream, each stream's state (publisher,
//! timeline, headers, GOP cache, bitrate), and the subscriptions that deliver its shared
//! frames to players and pushes, each under a pure drop policy. No listener or connection
//! lives here: `server` drives publishers and players, `push` relays, `ops` reads status.

pub mod bitrate;
pub mod coalesce;
pub mod drop_policy;
mod fanout;
pub mod player;
mod player_direct;
pub mod registry;
pub mod shared_media;
pub mod stream;
pub mod subscription;

pub use player_direct::{Direct, DirectSink, PlayerClock};
