//! `rtmp-bench`: the load tool. Publishes an FLV file (or synthetic H.264-like media) over N
//! connections and plays it with M players, all from this process, then prints one
//! scenario's figures as a table or, with --json, as one JSON object. Exit codes: 0 (ran,
//! whether or not players kept up), 1 (could not run, or a publisher failed), 2 (usage).

use argh::FromArgs;
use rtmp_server::bench::media::BenchMedia;
use rtmp_server::bench::run::{run, Options};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Longest scenario accepted (seconds): runs stay bounded.
const MAX_DURATION_S: f64 = 3600.0;
/// Most publishers and players one process drives.
const MAX_PEERS: usize = 5000;

/// rtmp-bench: publish and play against a running RTMP server and report what it cost.
#[derive(FromArgs, Debug)]
struct Args {
    /// server address (default: 127.0.0.1:1935)
    #[argh(option, default = "SocketAddr::from(([127, 0, 0, 1], 1935))")]
    server: SocketAddr,

    /// application name (default: live)
    #[argh(option, default = "String::from(\"live\")")]
    app: String,

    /// stream name prefix; publisher k publishes PREFIXk (default: bench)
    #[argh(option, default = "String::from(\"bench\")")]
    stream: String,

    /// FLV file to publish, looped (default: synthetic media)
    #[argh(option)]
    file: Option<PathBuf>,

    /// bitrate of the synthetic media in kbit/s (default: 5000)
    #[argh(option, default = "5000")]
    bitrate_kbps: u32,

    /// a keyframe of the synthetic media every this many ms (whole frames at 25 fps, at most
    /// 2000) (default: 2000)
    #[argh(option, default = "2000")]
    keyframe_ms: u32,

    /// publishing connections (default: 1)
    #[argh(option, default = "1")]
    publishers: usize,

    /// players, spread over the publishers' streams (default: 0)
    #[argh(option, default = "0")]
    players: usize,

    /// pace publishing by the media timestamps (default: as fast as possible)
    #[argh(switch)]
    realtime: bool,

    /// how long to publish, in seconds (default: 10)
    #[argh(option, default = "10.0")]
    duration: f64,

    /// connect and read timeout in seconds (default: 10)
    #[argh(option, default = "10.0")]
    timeout: f64,

    /// the server's PID, to read its CPU time and RSS from /proc
    #[argh(option)]
    server_pid: Option<u32>,

    /// print one JSON object instead of the table
    #[argh(switch)]
    json: bool,

    /// send frames unchanged, without the latency stamp (recordings then match the file)
    #[argh(switch)]
    no_stamp: bool,

    /// the server's HTTP listener (--http-listen), for HTTP viewers
    #[argh(option)]
    http: Option<SocketAddr>,

    /// HTTP-FLV viewers (GET /live/APP/STREAM.flv), spread over the streams; they join once
    /// the publish began (default: 0)
    #[argh(option, default = "0")]
    http_flv_viewers: usize,

    /// LL-HLS viewers (GET /hls/APP/STREAM/index.m3u8, parts by blocking reload), spread
    /// over the streams; they join once the publish began (default: 0)
    #[argh(option, default = "0")]
    hls_viewers: usize,
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("rtmp-bench: {message}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Args = argh::from_env();
    if !(args.duration > 0.0 && args.duration <= MAX_DURATION_S) {
        return usage_error("--duration must be more than 0 and at most 3600 seconds");
    }
    if !(args.timeout > 0.0 && args.timeout <= MAX_DURATION_S) {
        return usage_error("--timeout must be more than 0 and at most 3600 seconds");
    }
    if args.publishers == 0 || args.publishers > MAX_PEERS || args.players > MAX_PEERS {
        return usage_error("--publishers must be 1..=5000 and --players 0..=5000");
    }
    if args.http_flv_viewers > MAX_PEERS || args.hls_viewers > MAX_PEERS {
        return usage_error("--http-flv-viewers and --hls-viewers must be 0..=5000");
    }
    if args.http_flv_viewers + args.hls_viewers > 0 && args.http.is_none() {
        return usage_error("HTTP viewers need --http ADDR (the server's --http-listen)");
    }
    if args.bitrate_kbps == 0 {
        return usage_error("--bitrate-kbps must be more than 0");
    }
    let media = match &args.file {
        None => BenchMedia::synthetic_with_keyframes(args.bitrate_kbps, args.keyframe_ms),
        Some(path) => {
            let bytes = match std::fs::read(path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    eprintln!("rtmp-bench: cannot read {}: {e}", path.display());
                    return ExitCode::from(1);
                }
            };
            match BenchMedia::from_flv(&bytes, path.display().to_string()) {
                Ok(media) => media,
                Err(e) => {
                    eprintln!("rtmp-bench: {}: {e}", path.display());
                    return ExitCode::from(1);
                }
            }
        }
    };
    let options = Options {
        server: args.server,
        app: args.app,
        stream: args.stream,
        publishers: args.publishers,
        players: args.players,
        realtime: args.realtime,
        duration: Duration::from_secs_f64(args.duration),
        server_pid: args.server_pid,
        timeout: Duration::from_secs_f64(args.timeout),
        stamp: !args.no_stamp,
        http: args.http,
        http_flv_viewers: args.http_flv_viewers,
        hls_viewers: args.hls_viewers,
    };
    let summary = match run(&options, Arc::new(media)) {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("rtmp-bench: {e}");
            return ExitCode::from(1);
        }
    };
    if args.json {
        println!("{}", summary.json());
    } else {
        print!("{}", summary.table());
    }
    let publishers_ok = summary.frames_published > 0 && !summary.errors.iter().any(|e| e.starts_with("publisher"));
    if publishers_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
