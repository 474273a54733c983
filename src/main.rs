//! The `rtmp-server` binary: flags → Config, logging, signals, run; exit codes
//! 0 (clean stop), 1 (could not start), 2 (usage error).

use rtmp_server::config::{parse_args, Invocation};
use rtmp_server::{logging, ops, server::Server};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let program = args
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or("rtmp-server");
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let config = match parse_args(program, &rest) {
        Invocation::Run(config) => *config,
        Invocation::Print(text) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Invocation::UsageError(line) => {
            eprintln!("{line}");
            eprintln!("Run {program} --help for usage.");
            return ExitCode::from(2);
        }
    };
    // Read the local offset while the process is single-threaded (time's soundness rule).
    let local_offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    logging::init(config.log_level);
    if config.record_all {
        if let Err(e) = std::fs::create_dir_all(&config.record_dir) {
            log::error!(
                "record dir not usable, recordings will fail dir={} error=\"{e}\"",
                config.record_dir.display()
            );
        }
    }
    let listen = config.listen;
    let server = match Server::bind(config, local_offset) {
        Ok(server) => server,
        Err(e) => {
            log::error!("cannot listen addr={listen} error=\"{e}\"");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = ops::signals::on_terminate(server.shutdown_handle()) {
        log::error!("cannot install signal handlers error=\"{e}\"");
        return ExitCode::from(1);
    }
    if server.run() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
