//! Signals: a watcher thread turns the first SIGINT/SIGTERM into a graceful shutdown
//! (after `on_stop`, e.g. telling systemd STOPPING=1) and each SIGHUP into a reload of the
//! key files and the HTTP API token file.

use crate::server::context::ServerContext;
use crate::server::ShutdownHandle;
use log::{error, info};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::io;
use std::sync::Arc;

/// Installs the handlers and starts the watcher thread.
pub fn install(handle: ShutdownHandle, ctx: Arc<ServerContext>, on_stop: impl Fn() + Send + 'static) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        let mut stopping = false;
        for signal in signals.forever() {
            match signal {
                SIGHUP => {
                    info!("signal received signal=SIGHUP");
                    reload_keys(&ctx);
                    reload_http_token(&ctx);
                }
                _ if stopping => {}
                _ => {
                    let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
                    info!("signal received signal={name}");
                    stopping = true;
                    on_stop();
                    handle.shutdown();
                }
            }
        }
    })?;
    Ok(())
}

/// Re-reads --http-token-file; on an error the token in use stays. The token is not logged.
pub fn reload_http_token(ctx: &ServerContext) {
    if !ctx.http_token.enabled() {
        return;
    }
    match ctx.http_token.reload() {
        Ok(()) => info!("HTTP token reloaded"),
        Err(e) => error!("HTTP token reload failed, keeping the previous token error=\"{e}\""),
    }
}

/// Re-reads --publish-keys and --play-keys; on an error the keys in use stay.
pub fn reload_keys(ctx: &ServerContext) {
    if !ctx.auth.enabled() {
        info!("keys not reloaded, no key files configured");
        return;
    }
    match ctx.auth.reload() {
        Ok(counts) => info!("keys reloaded {counts}"),
        Err(e) => error!("keys reload failed, keeping the previous keys error=\"{e}\""),
    }
}
