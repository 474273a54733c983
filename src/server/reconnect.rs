//! Reconnect requests to publishers (Enhanced RTMP v2 `NetConnection.Connect.ReconnectRequest`):
//! the mailbox the HTTP API posts to (`ServerContext::request_reconnect`), which each
//! publishing connection's thread reads between reads (at least every
//! `REQUEST_POLL_INTERVAL`); the connection's side (send the request once asked, and once
//! when the server shuts down); and the shutdown grace that gives publishers up to
//! `RECONNECT_GRACE` to leave before the server closes them. A publication that ends after
//! its connection was asked to reconnect ends as `reconnect`: its recording waits for the
//! reconnect gap (the republish continues it) instead of being finalized at once.

use super::connection::{CloseReason, Connection};
use super::context::ServerContext;
use crate::events::Event;
use log::info;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a graceful shutdown waits, when anything publishes, for the publishers it asked
/// to reconnect to leave (it goes on as soon as none publishes).
pub const RECONNECT_GRACE: Duration = Duration::from_secs(2);
/// Most time a publishing connection's read waits before it looks at its mailbox again.
pub const REQUEST_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How often the shutdown grace looks whether publishers are left.
const GRACE_POLL: Duration = Duration::from_millis(20);
/// The description sent with a request at shutdown.
const SHUTDOWN_DESCRIPTION: &str = "The server is shutting down.";
/// Why the server asked.
pub const CAUSE_API: &str = "api";
pub const CAUSE_SHUTDOWN: &str = "shutdown";

/// One request for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectOrder {
    /// Where to reconnect (None: the client's current tcUrl).
    pub tc_url: Option<String>,
    pub description: String,
    /// `api` or `shutdown` (for the log and the event).
    pub cause: &'static str,
}

/// Requests waiting for their connection's thread. `pending` lets the threads skip the lock
/// while nothing waits (the common case).
#[derive(Debug, Default)]
pub struct ReconnectMailbox {
    pending: AtomicUsize,
    orders: Mutex<HashMap<u64, ReconnectOrder>>,
}

impl ReconnectMailbox {
    /// Leaves `order` for `conn_id` (replacing one not yet taken).
    pub(super) fn post(&self, conn_id: u64, order: ReconnectOrder) {
        let mut orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        orders.insert(conn_id, order);
        self.pending.store(orders.len(), Ordering::SeqCst);
    }

    /// The order left for `conn_id`, if any.
    pub(super) fn take(&self, conn_id: u64) -> Option<ReconnectOrder> {
        if self.pending.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        let order = orders.remove(&conn_id);
        self.pending.store(orders.len(), Ordering::SeqCst);
        order
    }
}

/// Why `ServerContext::request_reconnect` did not ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconnectRefusal {
    /// No open connection has this id.
    NoSuchConnection,
    /// The connection publishes nothing (a player, or not yet publishing).
    NotPublishing,
}

impl Connection {
    /// Sends the request left for this connection, or (once) the shutdown's. Returns a
    /// reason when the request could not be written.
    pub(super) fn serve_reconnect_requests(&mut self) -> Option<CloseReason> {
        let order = match self.ctx.reconnects.take(self.conn_id) {
            Some(order) => order,
            None if self.ctx.is_shutting_down() && !self.reconnect_requested => ReconnectOrder {
                tc_url: None,
                description: SHUTDOWN_DESCRIPTION.to_owned(),
                cause: CAUSE_SHUTDOWN,
            },
            None => return None,
        };
        self.reconnect_requested = true;
        self.session
            .request_reconnect(order.tc_url.as_deref(), &order.description);
        // A query in the tcUrl may carry a key: never logged.
        let target = match order.tc_url.as_deref() {
            Some(url) => format!(" tc_url={:?}", super::connection::query_hidden(url)),
            None => String::new(),
        };
        info!(
            "reconnect requested conn_id={} remote={} cause={}{target}",
            self.conn_id, self.remote, order.cause
        );
        self.ctx.events.emit(Event::ReconnectRequested {
            conn_id: self.conn_id,
            cause: order.cause,
            redirected: order.tc_url.is_some(),
        });
        self.flush_output().err().map(CloseReason::Io)
    }

    /// How a publication that ends now ends: after a reconnect request, a clean unpublish
    /// is the client moving (`reconnect`), so its recording waits for the republish.
    pub(super) fn publication_end_reason<'a>(&self, why: &'a str) -> &'a str {
        if self.reconnect_requested && why == "unpublish" {
            "reconnect"
        } else {
            why
        }
    }
}

/// Shutdown, after the listeners closed: when anything publishes, each publisher's thread
/// asks it to reconnect (it sees the shutdown within `REQUEST_POLL_INTERVAL`); this waits
/// until none publishes or `RECONNECT_GRACE` passed, whichever comes first.
pub(super) fn shutdown_grace(ctx: &ServerContext) {
    let publishers = ctx.registry.publishers().len();
    if publishers == 0 {
        return;
    }
    info!(
        "shutdown: asking publishers to reconnect publishers={publishers} grace_ms={}",
        RECONNECT_GRACE.as_millis()
    );
    let deadline = Instant::now() + RECONNECT_GRACE;
    while Instant::now() < deadline && !ctx.registry.publishers().is_empty() {
        std::thread::sleep(GRACE_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(cause: &'static str) -> ReconnectOrder {
        ReconnectOrder {
            tc_url: None,
            description: "x".into(),
            cause,
        }
    }

    #[test]
    fn each_connection_takes_only_its_own_order_once() {
        let mailbox = ReconnectMailbox::default();
        assert_eq!(mailbox.take(1), None);
        mailbox.post(1, order(CAUSE_API));
        mailbox.post(2, order(CAUSE_SHUTDOWN));
        assert_eq!(mailbox.take(3), None);
        assert_eq!(mailbox.take(1), Some(order(CAUSE_API)));
        assert_eq!(mailbox.take(1), None);
        assert_eq!(mailbox.take(2).map(|o| o.cause), Some(CAUSE_SHUTDOWN));
        assert_eq!(mailbox.pending.load(Ordering::SeqCst), 0);
    }
}
