//! SIGINT/SIGTERM: a watcher thread turns the first signal into a graceful shutdown.

use crate::server::ShutdownHandle;
use log::info;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::io;

/// Installs the handlers and starts the watcher thread.
pub fn on_terminate(handle: ShutdownHandle) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
            info!("signal received signal={name}");
            handle.shutdown();
        }
    })?;
    Ok(())
}
