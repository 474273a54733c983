//! Signals: a watcher thread turns the first SIGINT/SIGTERM into a graceful shutdown
//! (after `on_stop`, e.g. telling systemd STOPPING=1) and each SIGHUP into `on_reload`
//! (the configuration, see `policy::reload`, and the HTTP API token file).

use super::token::HttpToken;
use log::{error, info};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::io;

/// Installs the handlers and starts the watcher thread: `on_reload` runs for each SIGHUP,
/// `on_stop` once for the first SIGINT/SIGTERM (it starts the graceful shutdown).
pub fn install(on_reload: impl Fn() + Send + 'static, on_stop: impl Fn() + Send + 'static) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        let mut stopping = false;
        for signal in signals.forever() {
            match signal {
                SIGHUP => {
                    info!("signal received signal=SIGHUP");
                    on_reload();
                }
                _ if stopping => {}
                _ => {
                    let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
                    info!("signal received signal={name}");
                    stopping = true;
                    on_stop();
                }
            }
        }
    })?;
    Ok(())
}

/// Re-reads --http-token-file; on an error the token in use stays. The token is not logged.
pub fn reload_http_token(token: &HttpToken) {
    if !token.enabled() {
        return;
    }
    match token.reload() {
        Ok(()) => info!("HTTP token reloaded"),
        Err(e) => error!("HTTP token reload failed, keeping the previous token error=\"{e}\""),
    }
}
