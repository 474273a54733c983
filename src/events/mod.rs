//! Domain events and their bus: connections, recorders and pushes say what happened
//! (`Event`); observers (metrics, the API's recent events, the record-done hook; webhooks
//! next) react on threads of their own behind bounded queues (`EventBus`).

pub mod bus;
pub mod event;
pub mod recent;

pub use bus::{EventBus, Observer};
pub use event::{Event, Publisher, Query, SessionEnd, StreamName};
