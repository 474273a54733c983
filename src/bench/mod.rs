//! rtmp-bench's engine: publishers and players driven by the library's RTMP client from one
//! process against a running server, with the server's CPU and memory read from /proc.
//! `media` builds what is published, `publisher` and `player` are the RTMP peers,
//! `http_flv_viewer` watches over HTTP-FLV, `hls_viewer` over LL-HLS (`http_client` GETs),
//! `run` runs one scenario, `procstat` reads /proc and `report` renders the result.

pub mod hls_viewer;
pub mod http_client;
pub mod http_flv_viewer;
pub mod media;
pub mod player;
pub mod procstat;
pub mod publisher;
pub mod report;
pub mod run;

use std::time::Instant;

/// The process-wide monotonic clock that stamps and receive times are read from.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock { epoch: Instant::now() }
    }

    /// Nanoseconds since the clock was made.
    pub fn nanos(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Why a scenario could not be run at all (what goes wrong inside one is in its report).
#[derive(Debug)]
pub enum BenchError {
    /// The server's /proc entries could not be read.
    ServerProc(std::io::Error),
    /// A thread could not be started.
    Spawn(std::io::Error),
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchError::ServerProc(e) => write!(f, "cannot read the server's /proc entries: {e}"),
            BenchError::Spawn(e) => write!(f, "cannot start a thread: {e}"),
        }
    }
}

impl std::error::Error for BenchError {}
