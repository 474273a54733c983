//! A small blocking HTTP/1.1 server (no async runtime): `request` and `response` are the
//! sans-IO parser and encoder, `slots` the connection bookkeeping and eviction choice at the
//! caps (total and per address), `cors` the viewer paths' CORS headers, `server` the thin
//! socket glue (acceptor plus one tracked thread per connection, read and write timeouts,
//! keep-alive), `stats` its counters, `options` its flags. The API routes (the `api` module)
//! are a handler on top.

pub mod cors;
pub mod options;
pub mod percent;
pub mod range;
pub mod request;
pub mod response;
pub mod server;
pub mod slots;
pub mod stats;

pub use options::HttpOptions;
pub use request::{Method, Request};
pub use response::Response;
pub use server::{start, Handler, Service};
