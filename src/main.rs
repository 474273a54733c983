//! The `rtmp-server` binary: flags → Config, logging, the record dir check (exit 1 when
//! recording is configured and it cannot be written) and start-up recovery of unfinished
//! recordings, listening (or serving a socket systemd passed), signals, systemd
//! notifications, the `[[source]]` commands, run, then a bounded wait for the sources and
//! `--on-record-done` hooks; exit codes 0 (clean stop), 1 (could not start), 2 (usage
//! error, or an `--on-*` program that cannot run). `rtmp-server repair FILE...` (detected
//! before flag parsing, so every server flag stays as it is) repairs recordings and exits 0,
//! or 1 if any file could not be repaired; `rtmp-server remux IN.flv OUT.mp4` converts an FLV
//! file to fragmented MP4 (exit 0, or 1).
//! `rtmp-server check-config PATH` validates a config file (exit 0, or 2 with its errors);
//! `rtmp-server print-config [--config PATH] [flags]` prints the effective configuration.

use rtmp_server::config::{parse_args, Invocation};
use rtmp_server::ops::systemd;
use rtmp_server::{logging, ops, server::Server};
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    // `env::args` panics on an argument that is not UTF-8; that is a usage error (exit 2).
    let args: Vec<String> = match std::env::args_os().map(|a| a.into_string()).collect() {
        Ok(args) => args,
        Err(bad) => {
            say(
                std::io::stderr(),
                format_args!("rtmp-server: argument {bad:?} is not valid UTF-8\n"),
            );
            return ExitCode::from(2);
        }
    };
    let program = args
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or("rtmp-server");
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    // `rtmp-server repair --help` and `check-config -h` show the help, as the server's flags do.
    if matches!(rest.first(), Some(&("repair" | "check-config")))
        && matches!(rest.get(1..), Some(&[flag]) if flag == "--help" || flag == "-h")
    {
        say(
            std::io::stdout(),
            format_args!("{}", rtmp_server::config::help::render(program)),
        );
        return ExitCode::SUCCESS;
    }
    match rest.first() {
        Some(&"repair") => return repair_command(program, rest.get(1..).unwrap_or(&[])),
        Some(&"remux") => return remux_command(program, rest.get(1..).unwrap_or(&[])),
        Some(&"check-config") => return check_config(program, rest.get(1..).unwrap_or(&[])),
        Some(&"print-config") => return print_config(program, rest.get(1..).unwrap_or(&[])),
        _ => {}
    }
    let mut config = match parse_args(program, &rest) {
        Invocation::Run(config) => *config,
        Invocation::Print(text) => {
            say(std::io::stdout(), format_args!("{text}"));
            return ExitCode::SUCCESS;
        }
        Invocation::UsageError(line) => {
            say(
                std::io::stderr(),
                format_args!("{line}\nRun {program} --help for usage.\n"),
            );
            return ExitCode::from(2);
        }
    };
    if let Some(hook) = &config.recording.on_record_done {
        // Looked up as execvp would, once: a program that cannot run is a usage error now,
        // not a warning after the first recording.
        match rtmp_server::record::hook_program::resolve(hook, std::env::var_os("PATH").as_deref()) {
            Ok(found) => config.recording.on_record_done = Some(found),
            Err(e) => {
                say(std::io::stderr(), format_args!("{program}: --on-record-done: {e}\n"));
                return ExitCode::from(2);
            }
        }
    }
    // The --on-* programs too, the top level's and each [[app]] table's (the hooks look them
    // up again for each run, as execvp does).
    let path_var = std::env::var_os("PATH");
    for (origin, settings) in std::iter::once((String::new(), &config)).chain(config.apps.iter().map(|app| {
        (
            format!("{} [[app]] match={}: ", app.at, app.pattern.as_str()),
            app.config.as_ref(),
        )
    })) {
        let record_done = settings.recording.on_record_done.iter().map(|p| p.as_path());
        let found = rtmp_server::hooks::exec::check_programs(&settings.hooks, path_var.as_deref()).and_then(|()| {
            record_done
                .map(|p| rtmp_server::record::hook_program::resolve(p, path_var.as_deref()).map(|_| ()))
                .collect::<Result<Vec<()>, _>>()
                .map(|_| ())
                .map_err(|e| format!("--on-record-done: {e}"))
        });
        if let Err(e) = found {
            say(std::io::stderr(), format_args!("{program}: {origin}{e}\n"));
            return ExitCode::from(2);
        }
    }
    // Read the local offset and the socket-activation environment while the process is
    // single-threaded (time's soundness rule; listenfd edits the environment).
    let local_offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    let inherited = systemd::inherited_listener();
    logging::init(config.log_level);
    rtmp_server::ops::fd_limit::raise_for(config.limits.max_connections);
    let records_anything = std::iter::once(&config)
        .chain(config.apps.iter().map(|app| app.config.as_ref()))
        .any(|c| c.recording.records_anything(c.record_all));
    if records_anything && prepare_record_dir(&config).is_err() {
        return ExitCode::from(1);
    }
    // Key files (the top level's and each [[app]] table's) must be readable to start.
    if let Err(e) = rtmp_server::policy::Policies::build(&config) {
        log::error!("cannot load key file error=\"{e}\"");
        return ExitCode::from(1);
    }
    let Ok(tls_listen) = load_tls(&config) else {
        return ExitCode::from(1);
    };
    let listen = config.listen;
    let bound = match inherited {
        Ok(Some(listener)) => {
            log::info!("socket activation: serving on the passed socket, --listen not used");
            Server::from_listener(listener, config, local_offset)
        }
        Ok(None) => Server::bind(config, local_offset),
        Err(e) => {
            log::error!("socket activation failed error=\"{e}\"");
            return ExitCode::from(1);
        }
    };
    let mut server = match bound {
        Ok(server) => server,
        Err(e) => {
            log::error!("cannot listen addr={listen} error=\"{e}\"");
            return ExitCode::from(1);
        }
    };
    if let Some((addr, tls_config)) = tls_listen {
        if let Err(e) = server.listen_tls(addr, tls_config) {
            log::error!("cannot listen for RTMPS addr={addr} error=\"{e}\"");
            return ExitCode::from(1);
        }
    }
    if let Some(addr) = server.context().config.srt.listen {
        // Passphrase files must be usable to start (their content is never logged).
        for file in server.context().policies.current().srt_passphrase_files() {
            if let Err(e) = rtmp_server::srt::passphrase::read_passphrase(file) {
                log::error!("cannot load the SRT passphrase file error=\"{e}\"");
                return ExitCode::from(1);
            }
        }
        if let Err(e) = server.listen_srt(addr) {
            log::error!("cannot listen for SRT addr={addr} error=\"{e}\"");
            return ExitCode::from(1);
        }
    }
    let ctx = server.context();
    let hooks_ctx = Arc::clone(&ctx);
    for counts in ctx.policies.current().key_counts() {
        log::info!("keys loaded {counts}");
    }
    if ctx.config.http_listen.is_none() && ctx.config.ops.http_token_file.is_some() {
        log::warn!("--http-token-file ignored: the HTTP API is off (--http-listen off)");
    }
    if let Err(e) = ctx.http_token.reload() {
        log::error!("cannot load the HTTP token file error=\"{e}\"");
        return ExitCode::from(1);
    }
    if let Some(addr) = ctx.config.http_listen {
        if let Err(e) = rtmp_server::api::start(addr, Arc::clone(&ctx)) {
            log::error!(
                "cannot listen for the HTTP API addr={addr} error=\"{e}\" (use --http-listen off to run without it)"
            );
            return ExitCode::from(1);
        }
    }
    let notifier = match systemd::Notifier::from_env() {
        Ok(notifier) => notifier.map(Arc::new),
        Err(e) => {
            log::warn!("systemd notify socket unusable error=\"{e}\"");
            None
        }
    };
    let on_stop = {
        let notifier = notifier.clone();
        let handle = server.shutdown_handle();
        let ctx = Arc::clone(&ctx);
        move || {
            notifier.iter().for_each(|n| n.notify_or_log("STOPPING=1"));
            ctx.sources.begin_stop();
            handle.shutdown();
        }
    };
    let on_reload = {
        let ctx = Arc::clone(&ctx);
        let args: Vec<String> = rest.iter().map(|a| (*a).to_owned()).collect();
        move || {
            let (_, reloaded) = rtmp_server::policy::reload::reload(&args, &ctx.config, &ctx.policies);
            if let Some(config) = reloaded {
                let _ = ctx.sources.reload(config.sources);
            }
            ops::signals::reload_http_token(&ctx.http_token);
            // A fixed credentials file or setting is tried now, not at the end of a backoff.
            ctx.uploads.iter().for_each(rtmp_server::upload::Uploader::retry_now);
        }
    };
    if let Err(e) = ops::signals::install(on_reload, on_stop) {
        log::error!("cannot install signal handlers error=\"{e}\"");
        return ExitCode::from(1);
    }
    if let Some(notifier) = notifier {
        // Listening since bind: connections queue in the backlog until run() accepts them.
        notifier.notify_or_log(&format!("READY=1\nSTATUS=listening on {}", server.local_addr()));
        if let Some(interval) = systemd::watchdog_interval() {
            let mut liveness = ops::watchdog::Liveness::default();
            let alive = move || ctx.alive(&mut liveness);
            if let Err(e) = systemd::start_watchdog(notifier, interval, alive) {
                log::error!("cannot start the systemd watchdog error=\"{e}\"");
                return ExitCode::from(1);
            }
        }
    }
    // Listening (connections queue in the backlog until run() accepts): sources may publish.
    hooks_ctx.sources.start();
    let stopped = server.run();
    if !hooks_ctx
        .sources
        .shutdown(std::time::Instant::now() + rtmp_server::sources::SOURCES_SHUTDOWN_GRACE)
    {
        log::warn!("sources still running at exit");
    }
    // Files finalized during shutdown queued their hooks; those get a bounded time too.
    if !hooks_ctx
        .recordings
        .shared()
        .finish_hooks(rtmp_server::record::hook::HOOK_SHUTDOWN_GRACE)
    {
        log::warn!("record hooks still running at exit, left running");
    }
    if stopped {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Loads --tls-cert/--tls-key (and checks --push-ca) before anything listens; logs the
/// one-line error naming the file and returns Err when one is unusable.
#[allow(clippy::type_complexity)]
fn load_tls(
    config: &rtmp_server::config::Config,
) -> Result<Option<(std::net::SocketAddr, Arc<rtmp_server::tls::rustls::ServerConfig>)>, ()> {
    if let Some(ca) = &config.tls.push_ca {
        if let Err(e) = rtmp_server::tls::client_config(Some(ca)) {
            log::error!("cannot use --push-ca error=\"{e}\"");
            return Err(());
        }
    }
    let Some(listen) = &config.tls.listen else {
        return Ok(None);
    };
    match rtmp_server::tls::server_config(&listen.cert, &listen.key) {
        Ok(tls_config) => Ok(Some((listen.addr, tls_config))),
        Err(e) => {
            log::error!("cannot use the TLS certificate and key error=\"{e}\"");
            Err(())
        }
    }
}

/// Before listening: creates the record dir and checks that a file can be written in it
/// (an unusable dir is one error line naming it and the OS error; the caller exits 1),
/// finalizes `.part` files a crash left, warns when free space is below `--record-min-free`,
/// and runs one retention pass.
fn prepare_record_dir(config: &rtmp_server::config::Config) -> Result<(), ()> {
    let dir = &config.record_dir;
    if let Err(e) = rtmp_server::record::disk::check_writable(dir) {
        log::error!("record dir not usable dir={} error=\"{e}\"", dir.display());
        return Err(());
    }
    let recovered = rtmp_server::record::recover::recover_dir_files(dir);
    if !recovered.is_empty() {
        log::info!(
            "start-up recovery done dir={} recovered={}",
            dir.display(),
            recovered.len()
        );
    }
    // Files finalized by repair join the upload queue (top-level upload settings apply).
    if config.upload.is_some() || config.apps.iter().any(|a| a.config.upload.is_some()) {
        rtmp_server::upload::enqueue_offline(dir, &recovered);
    }
    let min_free = config.recording.min_free;
    if let Err(free) = rtmp_server::record::disk::has_room(dir, min_free) {
        log::warn!(
            "recording paused, disk space low dir={} free_bytes={free} min_free={min_free}",
            dir.display()
        );
    }
    let max_age = config
        .recording
        .retention_days
        .map(|d| std::time::Duration::from_secs(u64::from(d) * 86_400));
    // Files waiting for upload stay unless every upload setting lets retention take them.
    let unsent_may_go = std::iter::once(&config.upload)
        .chain(config.apps.iter().map(|a| &a.config.upload))
        .flatten()
        .all(|u| u.delete_unsent_when_full);
    let guard = rtmp_server::record::retention::DeleteGuard(Arc::new(rtmp_server::upload::may_delete_at_start(
        dir,
        unsent_may_go,
    )));
    rtmp_server::record::retention::enforce_guarded(dir, config.recording.retention_max, max_age, Some(&guard));
    Ok(())
}

/// `rtmp-server remux IN.flv OUT.mp4`: exit 0, 1 when it failed (an existing OUT is left
/// unchanged), 2 on a usage error.
fn remux_command(program: &str, args: &[&str]) -> ExitCode {
    let [input, output] = args else {
        say(
            std::io::stderr(),
            format_args!("{program} remux: usage: {program} remux IN.flv OUT.mp4\n"),
        );
        return ExitCode::from(2);
    };
    match rtmp_server::record::remux::remux(std::path::Path::new(input), std::path::Path::new(output)) {
        Ok(summary) => {
            say(
                std::io::stdout(),
                format_args!(
                    "remuxed {input} -> {output} samples={} bytes={} duration_ms={}\n",
                    summary.frames, summary.bytes, summary.duration_ms
                ),
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            say(std::io::stderr(), format_args!("{program} remux: {output}: {e}\n"));
            ExitCode::from(1)
        }
    }
}

/// `rtmp-server repair FILE...`: each file repaired in place (a `.part` also renamed).
fn repair_command(program: &str, files: &[&str]) -> ExitCode {
    if files.is_empty() || files.iter().any(|f| f.starts_with('-')) {
        say(
            std::io::stderr(),
            format_args!("{program} repair: expected one or more FLV files: {program} repair FILE...\n"),
        );
        return ExitCode::from(2);
    }
    let mut failed = false;
    for file in files {
        let path = std::path::Path::new(file);
        match rtmp_server::record::recover::repair_and_finalize(path) {
            Ok((report, done)) => say(
                std::io::stdout(),
                format_args!(
                    "repaired {} -> {} tags={} cut_bytes={} bytes={} duration_ms={}\n",
                    path.display(),
                    done.display(),
                    report.tags,
                    report.cut_bytes,
                    report.bytes,
                    report.duration_ms
                ),
            ),
            Err(e) => {
                say(std::io::stderr(), format_args!("{program} repair: {e}\n"));
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `rtmp-server check-config PATH`: exit 0 if the file (with no other flags) is a valid
/// configuration, or 2 with one error line per problem (`PATH:LINE:COLUMN: key ...`).
fn check_config(program: &str, args: &[&str]) -> ExitCode {
    let [path] = args else {
        say(
            std::io::stderr(),
            format_args!("{program} check-config: expected one file: {program} check-config PATH\n"),
        );
        return ExitCode::from(2);
    };
    match parse_args(program, &["--config", path]) {
        Invocation::Run(_) => {
            say(std::io::stdout(), format_args!("{path}: ok\n"));
            ExitCode::SUCCESS
        }
        Invocation::Print(_) => ExitCode::SUCCESS,
        Invocation::UsageError(lines) => {
            say(std::io::stderr(), format_args!("{lines}\n"));
            ExitCode::from(2)
        }
    }
}

/// `rtmp-server print-config [--config PATH] [flags]`: the effective configuration as TOML
/// (every key, defaults included, secrets redacted), or exit 2 as a server start would.
fn print_config(program: &str, args: &[&str]) -> ExitCode {
    let text = match parse_args(program, args) {
        Invocation::Run(_) => rtmp_server::config::file::effective(args).map(|file| {
            use rtmp_server::config::print::{render, render_apps, render_sources, Style};
            format!(
                "{}{}{}",
                render(&file.settings, Style::Effective),
                render_apps(&file.apps),
                render_sources(&file.sources)
            )
        }),
        Invocation::Print(text) => {
            say(std::io::stdout(), format_args!("{text}"));
            return ExitCode::SUCCESS;
        }
        Invocation::UsageError(lines) => {
            say(std::io::stderr(), format_args!("{lines}\n"));
            return ExitCode::from(2);
        }
    };
    match text {
        Ok(text) => {
            say(
                std::io::stdout(),
                format_args!("# {program} effective configuration (print-config)\n{text}"),
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors {
                say(std::io::stderr(), format_args!("{program}: {e}\n"));
            }
            ExitCode::from(2)
        }
    }
}

/// Writes `text` to stdout or stderr. `print!` and friends panic when the stream is a closed
/// pipe (`rtmp-server repair *.flv | head -1`); a lost line is not worth a crash, and the exit
/// code still tells the outcome.
fn say(mut out: impl std::io::Write, text: std::fmt::Arguments) {
    let _ = out.write_fmt(text).and_then(|()| out.flush());
}
