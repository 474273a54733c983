//! Command-line flags (argh) turned into a validated `Config`. Parse errors are one line
//! naming the flag; the caller exits with status 2 for them.

use crate::hls::{parse_positive_duration, parse_window, HlsOptions};
use crate::hooks::{
    parse_hook_timeout as parse_hook_call_timeout, parse_secret_file, parse_target, HookOptions, HookSecret, Target,
    DEFAULT_HOOK_RETRIES, DEFAULT_HOOK_TIMEOUT as DEFAULT_HOOK_CALL_TIMEOUT,
};
use crate::http::cors::CorsOrigins;
use crate::http::options::{
    parse_http_cors_origin, parse_http_max_connections, parse_http_timeout, HttpOptions, DEFAULT_HTTP_MAX_CONNECTIONS,
    DEFAULT_HTTP_MAX_CONNECTIONS_PER_IP, DEFAULT_HTTP_TIMEOUT,
};
use crate::limits::{
    partial_bytes_for, Limits, DEFAULT_FIRST_PACKET_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CHUNK_STREAMS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_WRITE_TIMEOUT,
};
use crate::limits_options::{parse_chunk_streams, parse_message_size, parse_timeout};
use crate::ops::cidr::Cidr;
use crate::ops::options::{parse_cidr, parse_max_connections, OpsOptions};
use crate::record::format::Format;
use crate::record::hook::DEFAULT_HOOK_TIMEOUT;
use crate::record::naming::PathTemplate;
use crate::record::options::{
    parse_days, parse_duration, parse_hook_timeout, parse_pattern, parse_size, parse_template, Pattern, RecordOptions,
    DEFAULT_MIN_FREE, DEFAULT_RECONNECT_GAP,
};
use crate::srt::options::{
    parse_srt_latency, parse_srt_max_connections, SrtOptions, DEFAULT_SRT_LATENCY, DEFAULT_SRT_MAX_CONNECTIONS,
};
use crate::upload::options::{
    parse_concurrency, parse_endpoint, parse_part_size, parse_upload_target, UploadOptions, UploadTarget,
    DEFAULT_REGION, DEFAULT_UPLOAD_CONCURRENCY, DEFAULT_UPLOAD_PART_SIZE,
};
use argh::FromArgs;
use log::LevelFilter;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::live::coalesce::{DEFAULT_COALESCE, MAX_COALESCE};
use crate::live::player::{PlayerLimits, DEFAULT_PLAYER_MAX_LAG, DEFAULT_PLAYER_QUEUE_BYTES};
use crate::live::registry::PublishConflict;
use crate::media::gop_cache::DEFAULT_GOP_CACHE_BYTES;
use crate::tls::options::TlsOptions;

use crate::push::options::{parse_push, PushOptions, PushTarget};

pub const DEFAULT_LISTEN: &str = "0.0.0.0:1935";
pub const DEFAULT_RECORD_DIR: &str = "recordings";
pub use crate::protocol::session::DEFAULT_CHUNK_SIZE;
/// Smallest and largest chunk size the server will announce.
pub const MIN_CHUNK_SIZE: u32 = 128;
pub use crate::protocol::chunk::MAX_ANNOUNCED_CHUNK_SIZE;

pub mod apps;
pub mod file;
pub mod help;
pub mod print;
pub mod sources;

/// rtmp-server: a small, fast RTMP server that records every published stream (FLV, MP4).
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help", "help"),
    note = "Also: rtmp-server check-config PATH, rtmp-server print-config [--config PATH] [flags], \
                rtmp-server repair FILE..., rtmp-server remux IN.flv OUT.mp4"
)]
pub struct Args {
    /// read settings from this TOML file: each key is a long flag with _ for -, e.g.
    /// record_dir = "/srv/rec"; flags given here override it (default: none)
    #[argh(option)]
    pub config: Option<PathBuf>,

    /// address to listen on (default: 0.0.0.0:1935)
    #[argh(option, default = "default_listen()", from_str_fn(parse_listen))]
    pub listen: SocketAddr,

    /// log level: error, warn, info, debug or trace (default: info)
    #[argh(option, default = "LevelFilter::Info", from_str_fn(parse_log_level))]
    pub log_level: LevelFilter,

    /// record every published stream (default: off)
    #[argh(switch)]
    pub record_all: bool,

    /// directory for recordings, created if missing (default: recordings)
    #[argh(option, default = "PathBuf::from(DEFAULT_RECORD_DIR)")]
    pub record_dir: PathBuf,

    /// chunk size the server announces and sends with, 128..=16777215 (default: 4096)
    #[argh(option, default = "DEFAULT_CHUNK_SIZE", from_str_fn(parse_chunk_size))]
    pub chunk_size: u32,

    // Recording flags (parsers and defaults in record::options).
    /// file path template under --record-dir: %app %stream %Y %m %d %H %M %S %f (ms) %i (segment), folders allowed (default: %app_%stream_%Y%m%d_%H%M%S_%f)
    #[argh(option, from_str_fn(parse_template))]
    pub record_path: Option<PathTemplate>,

    /// start a new file at the next keyframe once a file holds this much, e.g. 512M; 0 is off (default: off)
    #[argh(option, from_str_fn(parse_size))]
    pub record_max_size: Option<u64>,

    /// start a new file at the next keyframe once a file holds this much media time, e.g. 1h, 30m; 0 is off (default: off)
    #[argh(option, from_str_fn(parse_duration))]
    pub record_max_duration: Option<Duration>,

    /// let a recording begin at any frame instead of the first keyframe
    #[argh(switch)]
    pub record_from_any_frame: bool,

    /// a publisher lost without unpublish that returns within this continues its file; 0 disables (default: 10s)
    #[argh(option, default = "DEFAULT_RECONNECT_GAP", from_str_fn(parse_duration))]
    pub record_reconnect_gap: Duration,

    /// recording file format: flv, or mp4 (fragmented, crash-safe, plays in browsers); repeat for both (default: flv)
    #[argh(option, from_str_fn(parse_record_format))]
    pub record_format: Vec<Format>,

    /// record streams whose app/stream matches this glob (* also crosses /, ? one character); repeatable
    #[argh(option, from_str_fn(parse_pattern))]
    pub record: Vec<Pattern>,

    /// never record streams matching this glob (wins over --record and --record-all); repeatable
    #[argh(option, from_str_fn(parse_pattern))]
    pub no_record: Vec<Pattern>,

    /// no recording starts, and a running one is finalized, below this much free space (default: 1G)
    #[argh(option, default = "DEFAULT_MIN_FREE", from_str_fn(parse_size))]
    pub record_min_free: u64,

    /// delete the oldest finished recordings to keep them within this size, e.g. 100G (default: off)
    #[argh(option, from_str_fn(parse_size))]
    pub record_retention_max: Option<u64>,

    /// delete finished recordings older than this many days (default: off)
    #[argh(option, from_str_fn(parse_days))]
    pub record_retention_days: Option<u32>,

    /// after each finalized file: a webhook (http:// or https:// URL) or a program (no shell;
    /// the first program gets the file's path as its argument); repeatable (default: off)
    #[argh(option, from_str_fn(parse_target))]
    pub on_record_done: Vec<Target>,

    /// kill an --on-record-done program still running after this, e.g. 30m (default: 10m)
    #[argh(option, default = "DEFAULT_HOOK_TIMEOUT", from_str_fn(parse_hook_timeout))]
    pub on_record_done_timeout: Duration,

    // Upload flags (parsers and defaults in upload::options).
    /// upload each finished recording to S3-compatible storage: s3://BUCKET or
    /// s3://BUCKET/PREFIX (default: off)
    #[argh(option, from_str_fn(parse_upload_target))]
    pub upload: Option<UploadTarget>,

    /// the S3 endpoint, e.g. http://127.0.0.1:3900 for Garage or MinIO (default: AWS)
    #[argh(option, from_str_fn(parse_endpoint))]
    pub upload_endpoint: Option<url::Url>,

    /// the S3 region the store expects, e.g. garage for Garage (default: us-east-1)
    #[argh(option, default = "DEFAULT_REGION.to_owned()")]
    pub upload_region: String,

    /// path-style object URLs (endpoint/bucket/key); always on with an upload endpoint
    #[argh(switch)]
    pub upload_path_style: bool,

    /// file holding access_key_id = ... and secret_access_key = ... lines, re-read at each
    /// attempt; without it AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN
    #[argh(option)]
    pub upload_credentials_file: Option<PathBuf>,

    /// delete the local file once its upload is confirmed
    #[argh(switch)]
    pub upload_delete: bool,

    /// parts of one file sent at once (default: 2)
    #[argh(option, default = "DEFAULT_UPLOAD_CONCURRENCY", from_str_fn(parse_concurrency))]
    pub upload_concurrency: usize,

    /// files larger than this go up in parts of this size (default: 16M)
    #[argh(option, default = "DEFAULT_UPLOAD_PART_SIZE", from_str_fn(parse_part_size))]
    pub upload_part_size: u64,

    /// let retention delete recordings not uploaded yet (each such loss logged)
    #[argh(switch)]
    pub upload_delete_unsent_when_full: bool,

    /// on a publish to a live stream: takeover (the newcomer replaces the old publisher) or
    /// reject (the newcomer is refused) (default: takeover)
    #[argh(option, default = "PublishConflict::Takeover", from_str_fn(parse_conflict))]
    pub publish_conflict: PublishConflict,

    /// how long a player waits for a publisher before it is closed, e.g. 30s; 0 waits for
    /// ever (default: 0)
    #[argh(option, default = "Duration::ZERO", from_str_fn(parse_duration))]
    pub play_wait_timeout: Duration,

    /// hold a player's frames up to this long to send them together (fewer sends per player,
    /// less CPU); keyframes, headers and a join's first frames are never held; at most 100ms;
    /// 0 sends each frame at once (default: 20ms)
    #[argh(option, default = "DEFAULT_COALESCE", from_str_fn(parse_coalesce))]
    pub play_coalesce: Duration,

    /// how long a player may stay behind (dropping frames) before it is disconnected
    /// (default: 10s)
    #[argh(option, default = "DEFAULT_PLAYER_MAX_LAG", from_str_fn(parse_duration))]
    pub play_max_lag: Duration,

    /// address of the HTTP API and /metrics, or off (default: 127.0.0.1:19350)
    #[argh(option, default = "Some(default_http_listen())", from_str_fn(parse_http_listen))]
    pub http_listen: Option<SocketAddr>,
    // Operations flags (issue 5): auth and connection limits.
    /// publish key file: `app/stream secret` or `app/* secret` per line, # comments; clients
    /// add ?key=SECRET (or ?exp=UNIX&sig=HEX) to the stream name; reloaded on SIGHUP (default: off)
    #[argh(option)]
    pub publish_keys: Option<PathBuf>,

    /// play key file, same format as --publish-keys (default: off)
    #[argh(option)]
    pub play_keys: Option<PathBuf>,

    /// only addresses in this CIDR (e.g. 10.0.0.0/8, ::1) may publish; repeatable (default: any)
    #[argh(option, from_str_fn(parse_cidr))]
    pub allow_publish: Vec<Cidr>,

    /// close connections from this CIDR right after accept; repeatable
    #[argh(option, from_str_fn(parse_cidr))]
    pub deny: Vec<Cidr>,

    /// most simultaneous connections; excess ones are closed right after accept (default: 1000)
    #[argh(option, default = "DEFAULT_MAX_CONNECTIONS", from_str_fn(parse_max_connections))]
    pub max_connections: usize,

    /// most simultaneous connections from one address; 0 is no limit (default: 0)
    #[argh(option, default = "DEFAULT_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: usize,

    // Limits flags (issue 7; parsers in limits_options, defaults in limits).
    /// the whole handshake must finish within this (default: 10s)
    #[argh(option, default = "DEFAULT_HANDSHAKE_TIMEOUT", from_str_fn(parse_timeout))]
    pub handshake_timeout: Duration,

    /// after the handshake, close a connection that pauses this long before its first media
    /// message (default: 20s)
    #[argh(option, default = "DEFAULT_FIRST_PACKET_TIMEOUT", from_str_fn(parse_timeout))]
    pub first_packet_timeout: Duration,

    /// once media has flowed, close a connection (not a player) that sends nothing for this
    /// long (default: 30s)
    #[argh(option, default = "DEFAULT_IDLE_TIMEOUT", from_str_fn(parse_timeout))]
    pub idle_timeout: Duration,

    /// close a player (or any peer) whose socket takes no data for this long (default: 10s)
    #[argh(option, default = "DEFAULT_WRITE_TIMEOUT", from_str_fn(parse_timeout))]
    pub write_timeout: Duration,

    /// largest RTMP message a peer may send, 64K..16M-1; a connection may buffer twice this in
    /// unfinished messages (default: 8M)
    #[argh(option, default = "DEFAULT_MAX_MESSAGE_SIZE", from_str_fn(parse_message_size))]
    pub max_message_size: usize,

    /// most chunk streams (csids) one connection may use, 8..65598 (default: 64)
    #[argh(option, default = "DEFAULT_MAX_CHUNK_STREAMS", from_str_fn(parse_chunk_streams))]
    pub max_chunk_streams: usize,

    /// print the version and exit
    #[argh(switch)]
    pub version: bool,

    // RTMPS flags (issue 6; settings in tls::options).
    /// also serve RTMP over TLS (rtmps://) on this address; needs --tls-cert and --tls-key (default: off)
    #[argh(option, from_str_fn(parse_listen))]
    pub tls_listen: Option<SocketAddr>,

    /// PEM certificate chain (server certificate first) for --tls-listen
    #[argh(option)]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert
    #[argh(option)]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificate(s) trusted for rtmps:// push targets besides the system roots (default: none)
    #[argh(option)]
    pub push_ca: Option<PathBuf>,

    // SRT ingest flags (issue 18; parsers in srt::options).
    /// also accept SRT publishes (UDP) on this address, e.g. 0.0.0.0:9000; stream ids
    /// publish:APP/STREAM, APP/STREAM or #!::r=APP/STREAM,m=publish (default: off)
    #[argh(option, from_str_fn(parse_listen))]
    pub srt_listen: Option<SocketAddr>,

    /// SRT receiver latency (retransmission window), 20ms..10s (default: 120ms)
    #[argh(option, default = "DEFAULT_SRT_LATENCY", from_str_fn(parse_srt_latency))]
    pub srt_latency: Duration,

    /// file whose first line (10 to 79 bytes) is the passphrase SRT callers must encrypt
    /// with (AES-128/192/256, the caller's choice); never logged (default: off)
    #[argh(option)]
    pub srt_passphrase_file: Option<PathBuf>,

    /// most SRT connections, handshakes in progress included (default: 64)
    #[argh(
        option,
        default = "DEFAULT_SRT_MAX_CONNECTIONS",
        from_str_fn(parse_srt_max_connections)
    )]
    pub srt_max_connections: usize,

    // HTTP API flags (issue 5).
    /// file whose first line is a bearer token every API and /metrics request must carry
    /// (Authorization: Bearer TOKEN; /healthz stays open); reloaded on SIGHUP (default: off)
    #[argh(option)]
    pub http_token_file: Option<PathBuf>,

    /// most open HTTP connections; at the cap a new one evicts the longest-waiting connection
    /// that has not finished a request, or gets 503 if all are busy (default: 100)
    #[argh(
        option,
        default = "DEFAULT_HTTP_MAX_CONNECTIONS",
        from_str_fn(parse_http_max_connections)
    )]
    pub http_max_connections: usize,

    /// most open HTTP connections from one client address (loopback included: raise it
    /// behind a reverse proxy); at this cap the address's longest-waiting connection without
    /// a whole request is evicted, or the newcomer gets 503 (default: 16)
    #[argh(
        option,
        default = "DEFAULT_HTTP_MAX_CONNECTIONS_PER_IP",
        from_str_fn(parse_http_max_connections)
    )]
    pub http_max_connections_per_ip: usize,

    /// close an HTTP client that sends no request for this long, whose request has not fully
    /// arrived this long after its first byte, or whose socket takes no response data for
    /// this long, e.g. 10s (default: 10s)
    #[argh(option, default = "DEFAULT_HTTP_TIMEOUT", from_str_fn(parse_http_timeout))]
    pub http_timeout: Duration,

    /// let scripts of this origin (https://host[:port], or * for any) read the viewer URLs
    /// (/live, /hls, /recordings) cross-origin; repeatable or a comma list (default: no CORS)
    #[argh(option, from_str_fn(parse_http_cors_origin))]
    pub http_cors_origin: Vec<String>,
    // Push relay flags (parser in push::options).
    /// also send every published stream to this URL: rtmp[s]://host[:port]/app/stream, {app}
    /// and {stream} substituted, e.g. rtmp://origin/{app}/{stream}; repeatable
    #[argh(option, from_str_fn(parse_push))]
    pub push: Vec<PushTarget>,
    // Hook flags (issue 14; parsers in hooks). Each --on-* is a webhook URL or a program.
    /// tell this webhook or program about each RTMP connect; repeatable (default: off)
    #[argh(option, from_str_fn(parse_target))]
    pub on_connect: Vec<Target>,

    /// ask this webhook (2xx allows) or program (exit 0 allows) before each publish; all must allow; repeatable (default: off)
    #[argh(option, from_str_fn(parse_target))]
    pub on_publish: Vec<Target>,

    /// tell this webhook or program about each publish end; repeatable (default: off)
    #[argh(option, from_str_fn(parse_target))]
    pub on_publish_done: Vec<Target>,

    /// ask this webhook (2xx allows) or program (exit 0 allows) before each play; all must
    /// allow; repeatable (default: off)
    #[argh(option, from_str_fn(parse_target))]
    pub on_play: Vec<Target>,

    /// tell this webhook or program about each play end; repeatable (default: off)
    #[argh(option, from_str_fn(parse_target))]
    pub on_play_done: Vec<Target>,

    /// tell this webhook or program about each recording uploaded (--upload); repeatable
    /// (default: off)
    #[argh(option, from_str_fn(parse_target))]
    pub on_upload_done: Vec<Target>,

    /// a webhook or --on-* program answering later than this fails (publish/play refused), e.g. 2s (default: 5s)
    #[argh(option, default = "DEFAULT_HOOK_CALL_TIMEOUT", from_str_fn(parse_hook_call_timeout))]
    pub hook_timeout: Duration,

    /// notification webhooks are tried again this many times, with backoff (default: 3)
    #[argh(option, default = "DEFAULT_HOOK_RETRIES")]
    pub hook_retries: u32,

    /// file whose first line signs webhook bodies: header X-Rtmp-Signature: sha256=HMAC-SHA256 hex (default: off)
    #[argh(option, from_str_fn(parse_secret_file))]
    pub hook_secret_file: Option<HookSecret>,

    /// refuse a publish or play whose app/stream matches no [[app]] table of the config
    /// file (default: off)
    #[argh(switch)]
    pub apps_strict: bool,

    /// let the HTTP API listen on an address other machines reach without a token file
    /// (default: off, such a --http-listen is refused)
    #[argh(switch)]
    pub http_allow_open: bool,

    // HLS flags (issue 16; parsers and defaults in hls).
    /// serve each live stream as low-latency HLS from memory at
    /// /hls/APP/STREAM/index.m3u8 on the HTTP listener (default: off)
    #[argh(switch)]
    pub hls: bool,

    /// HLS segment target; segments start at keyframes, e.g. 2s (default: 2s)
    #[argh(
        option,
        default = "crate::hls::DEFAULT_SEGMENT",
        from_str_fn(parse_positive_duration)
    )]
    pub hls_segment: Duration,

    /// finished HLS segments the playlist lists, 1..100 (default: 6)
    #[argh(option, default = "crate::hls::DEFAULT_WINDOW", from_str_fn(parse_window))]
    pub hls_window: usize,

    /// low-latency HLS part target (EXT-X-PART), e.g. 500ms (default: 500ms)
    #[argh(option, default = "crate::hls::DEFAULT_PART", from_str_fn(parse_positive_duration))]
    pub hls_part: Duration,

    /// an HLS viewer without a request for this long has stopped playing (play_done),
    /// e.g. 30s (default: 30s)
    #[argh(
        option,
        default = "crate::hls::DEFAULT_SESSION_IDLE",
        from_str_fn(parse_positive_duration)
    )]
    pub hls_session_idle: Duration,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 1935))
}

fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|_| "expected HOST:PORT, e.g. 0.0.0.0:1935 or [::]:1935".to_owned())
}

fn parse_log_level(value: &str) -> Result<LevelFilter, String> {
    match value.to_ascii_lowercase().as_str() {
        "error" => Ok(LevelFilter::Error),
        "warn" => Ok(LevelFilter::Warn),
        "info" => Ok(LevelFilter::Info),
        "debug" => Ok(LevelFilter::Debug),
        "trace" => Ok(LevelFilter::Trace),
        _ => Err("expected one of error, warn, info, debug, trace".to_owned()),
    }
}

fn parse_chunk_size(value: &str) -> Result<u32, String> {
    let size: u32 = value.parse().map_err(|_| "expected a whole number".to_owned())?;
    if (MIN_CHUNK_SIZE..=MAX_ANNOUNCED_CHUNK_SIZE).contains(&size) {
        Ok(size)
    } else {
        Err(format!(
            "must be between {MIN_CHUNK_SIZE} and {MAX_ANNOUNCED_CHUNK_SIZE}"
        ))
    }
}

/// The validated server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub log_level: LevelFilter,
    pub record_all: bool,
    pub record_dir: PathBuf,
    pub chunk_size: u32,
    /// The `--record-*` flags.
    pub recording: RecordOptions,
    pub play: PlayOptions,
    /// None: no HTTP API.
    pub http_listen: Option<SocketAddr>,
    /// `--http-max-connections`, `--http-max-connections-per-ip`, `--http-timeout` and
    /// `--http-cors-origin`.
    pub http: HttpOptions,
    pub limits: Limits,
    pub ops: OpsOptions,
    /// RTMPS listener and client trust.
    pub tls: TlsOptions,
    /// `--push` targets.
    pub push: PushOptions,
    /// SRT ingest (`--srt-*`).
    pub srt: SrtOptions,
    /// `--on-*` hooks.
    pub hooks: HookOptions,
    /// `--upload*`; None without `--upload`.
    pub upload: Option<UploadOptions>,
    /// `--hls`: HLS for these streams (per `[[app]]`).
    pub hls: bool,
    /// `--hls-*` settings.
    pub hls_options: HlsOptions,
    /// Refuse streams that match no `[[app]]` table.
    pub apps_strict: bool,
    /// The config file's `[[app]]` tables, in order (first match wins).
    pub apps: Vec<apps::AppConfig>,
    /// The config file's `[[source]]` tables.
    pub sources: Vec<sources::SourceTable>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: default_listen(),
            log_level: LevelFilter::Info,
            record_all: false,
            record_dir: PathBuf::from(DEFAULT_RECORD_DIR),
            chunk_size: DEFAULT_CHUNK_SIZE,
            recording: RecordOptions::default(),
            play: PlayOptions::default(),
            http_listen: Some(default_http_listen()),
            http: HttpOptions::default(),
            limits: Limits::default(),
            ops: OpsOptions::default(),
            tls: TlsOptions::default(),
            push: PushOptions::default(),
            srt: SrtOptions::default(),
            hooks: HookOptions {
                timeout: DEFAULT_HOOK_CALL_TIMEOUT,
                retries: DEFAULT_HOOK_RETRIES,
                ..HookOptions::default()
            },
            upload: None,
            hls: false,
            hls_options: HlsOptions::default(),
            apps_strict: false,
            apps: Vec::new(),
            sources: Vec::new(),
        }
    }
}

impl From<Args> for Config {
    fn from(mut args: Args) -> Self {
        // --on-record-done's first program keeps running on the record hook pool; its
        // webhooks (and further programs) go to the hooks.
        let first_program = args.on_record_done.iter().position(|t| matches!(t, Target::Program(_)));
        let on_record_done = match first_program.map(|i| args.on_record_done.remove(i)) {
            Some(Target::Program(path)) => Some(path),
            _ => None,
        };
        Config {
            listen: args.listen,
            log_level: args.log_level,
            record_all: args.record_all,
            record_dir: args.record_dir,
            chunk_size: args.chunk_size,
            recording: RecordOptions {
                path_template: args.record_path.unwrap_or_default(),
                max_size: args.record_max_size.filter(|size| *size > 0),
                max_duration: args.record_max_duration.filter(|d| !d.is_zero()),
                from_any_frame: args.record_from_any_frame,
                reconnect_gap: args.record_reconnect_gap,
                record: args.record,
                no_record: args.no_record,
                min_free: args.record_min_free,
                retention_max: args.record_retention_max,
                retention_days: args.record_retention_days,
                on_record_done,
                on_record_done_timeout: args.on_record_done_timeout,
                formats: record_formats(&args.record_format),
            },
            play: PlayOptions {
                publish_conflict: args.publish_conflict,
                wait_timeout: args.play_wait_timeout,
                coalesce: args.play_coalesce,
                player: PlayerLimits {
                    queue_bytes: DEFAULT_PLAYER_QUEUE_BYTES,
                    max_lag: args.play_max_lag,
                },
                gop_cache_bytes: DEFAULT_GOP_CACHE_BYTES,
            },
            http_listen: args.http_listen,
            http: HttpOptions {
                max_connections: args.http_max_connections,
                max_connections_per_ip: args.http_max_connections_per_ip,
                timeout: args.http_timeout,
                cors: CorsOrigins::new(&args.http_cors_origin),
            },
            limits: Limits {
                max_connections: args.max_connections,
                handshake_timeout: args.handshake_timeout,
                first_packet_timeout: args.first_packet_timeout,
                idle_timeout: args.idle_timeout,
                write_timeout: args.write_timeout,
                max_message_size: args.max_message_size,
                max_partial_bytes: partial_bytes_for(args.max_message_size),
                max_chunk_streams: args.max_chunk_streams,
                ..Limits::default()
            },
            ops: OpsOptions {
                publish_keys: args.publish_keys,
                play_keys: args.play_keys,
                allow_publish: args.allow_publish,
                deny: args.deny,
                max_connections_per_ip: args.max_connections_per_ip,
                http_token_file: args.http_token_file,
            },
            // Checked by parse_args first: the three listening flags come together.
            tls: TlsOptions::from_flags(args.tls_listen, args.tls_cert, args.tls_key, args.push_ca.clone()).unwrap_or(
                TlsOptions {
                    listen: None,
                    push_ca: args.push_ca,
                },
            ),
            push: PushOptions { targets: args.push },
            srt: SrtOptions {
                listen: args.srt_listen,
                latency: args.srt_latency,
                passphrase_file: args.srt_passphrase_file,
                max_connections: args.srt_max_connections,
            },
            hooks: HookOptions {
                on_connect: args.on_connect,
                on_publish: args.on_publish,
                on_publish_done: args.on_publish_done,
                on_play: args.on_play,
                on_play_done: args.on_play_done,
                on_upload_done: args.on_upload_done,
                on_record_done: args.on_record_done,
                timeout: args.hook_timeout,
                retries: args.hook_retries,
                secret: args.hook_secret_file,
            },
            upload: args.upload.map(|target| UploadOptions {
                target,
                endpoint: args.upload_endpoint,
                region: args.upload_region,
                path_style: args.upload_path_style.then_some(true),
                credentials_file: args.upload_credentials_file,
                delete: args.upload_delete,
                concurrency: args.upload_concurrency,
                part_size: args.upload_part_size,
                delete_unsent_when_full: args.upload_delete_unsent_when_full,
            }),
            hls: args.hls,
            hls_options: HlsOptions {
                segment: args.hls_segment,
                window: args.hls_window,
                part: args.hls_part.min(args.hls_segment),
                session_idle: args.hls_session_idle,
                ..HlsOptions::default()
            },
            apps_strict: args.apps_strict,
            apps: Vec::new(),
            sources: Vec::new(),
        }
    }
}

/// Live playback settings.
#[derive(Debug, Clone)]
pub struct PlayOptions {
    pub publish_conflict: PublishConflict,
    /// Zero: players wait for a publisher for ever.
    pub wait_timeout: Duration,
    /// How long players' frames may be held for one send (`--play-coalesce`); zero: never.
    pub coalesce: Duration,
    pub player: PlayerLimits,
    pub gop_cache_bytes: usize,
}

impl Default for PlayOptions {
    fn default() -> Self {
        PlayOptions {
            publish_conflict: PublishConflict::Takeover,
            wait_timeout: Duration::ZERO,
            coalesce: DEFAULT_COALESCE,
            player: PlayerLimits::default(),
            gop_cache_bytes: DEFAULT_GOP_CACHE_BYTES,
        }
    }
}

/// 19350 (RTMP's 1935 and a 0): unlike 8080 it is no dev server's or proxy's default.
fn default_http_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 19350))
}

fn parse_http_listen(value: &str) -> Result<Option<SocketAddr>, String> {
    if value == "off" {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| "expected HOST:PORT or off".to_owned())
}

/// `--play-coalesce`: a duration from 0 up to `MAX_COALESCE`.
fn parse_coalesce(value: &str) -> Result<Duration, String> {
    let window = parse_duration(value)?;
    if window > MAX_COALESCE {
        return Err(format!("at most {}ms", MAX_COALESCE.as_millis()));
    }
    Ok(window)
}

fn parse_conflict(value: &str) -> Result<PublishConflict, String> {
    match value {
        "takeover" => Ok(PublishConflict::Takeover),
        "reject" => Ok(PublishConflict::Reject),
        _ => Err("expected takeover or reject".to_owned()),
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    Run(Box<Config>),
    /// Print this text on stdout and exit 0 (--help, --version).
    Print(String),
    /// Print this one-line error on stderr and exit 2.
    UsageError(String),
}

/// Parses the arguments after the program name.
pub fn parse_args(program: &str, args: &[&str]) -> Invocation {
    match Args::from_args(&[program], args) {
        Ok(args) if args.version => Invocation::Print(format!("{program} {}\n", env!("CARGO_PKG_VERSION"))),
        // The file's settings become flags before the command line's (see config::file).
        Ok(parsed) if parsed.config.is_some() => match file::effective(args) {
            Ok(contents) => with_file(program, contents),
            Err(errors) => Invocation::UsageError(
                errors
                    .iter()
                    .map(|e| format!("{program}: {e}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        },
        Ok(parsed) => {
            match TlsOptions::from_flags(parsed.tls_listen, parsed.tls_cert.clone(), parsed.tls_key.clone(), None) {
                Err(line) => Invocation::UsageError(format!("{program}: {line}")),
                Ok(_) if open_api(&parsed) => Invocation::UsageError(format!(
                    "{program}: --http-listen {} is reachable from other machines and no --http-token-file \
                     is set: set one (the API controls streams), or --http-allow-open to run it open",
                    parsed.http_listen.map(|a| a.to_string()).unwrap_or_default()
                )),
                Ok(_) => Invocation::Run(Box::new(Config::from(parsed))),
            }
        }
        // argh's own help is one flat list; ours is grouped by topic (config::help).
        Err(exit) if exit.status.is_ok() => Invocation::Print(help::render(program)),
        Err(exit) => {
            let line = exit
                .output
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            Invocation::UsageError(format!("{program}: {}", redact_secret_value(line.trim())))
        }
    }
}

/// An HTTP API on a non-loopback address with no token, not allowed by --http-allow-open.
fn open_api(args: &Args) -> bool {
    let exposed = args.http_listen.is_some_and(|addr| !addr.ip().is_loopback());
    exposed && args.http_token_file.is_none() && !args.http_allow_open
}

/// The configuration of a command line with `--config`: the file's settings become flags
/// before the command line's (see config::file), each `[[app]]` table its own configuration.
fn with_file(program: &str, contents: file::FileConfig) -> Invocation {
    let flags = file::all_flags();
    let argv = |settings: &file::Settings| settings.to_argv(&flags);
    let top = argv(&contents.settings);
    let mut config = match parse_args(program, &top.iter().map(String::as_str).collect::<Vec<_>>()) {
        Invocation::Run(config) => config,
        other => return other,
    };
    for table in &contents.apps {
        let app_argv = argv(&table.apply(&contents.settings));
        let app_args = match Args::from_args(&[program], &app_argv.iter().map(String::as_str).collect::<Vec<_>>()) {
            Ok(parsed) => parsed,
            Err(exit) => {
                let line = exit
                    .output
                    .lines()
                    .next()
                    .unwrap_or("invalid settings")
                    .trim()
                    .to_owned();
                return Invocation::UsageError(format!(
                    "{program}: {}: [[app]]: {}",
                    table.at,
                    redact_secret_value(&line)
                ));
            }
        };
        let Ok(pattern) = crate::record::options::parse_pattern(&table.pattern) else {
            return Invocation::UsageError(format!("{program}: {}: [[app]]: bad match", table.at));
        };
        config.apps.push(apps::AppConfig {
            pattern,
            at: table.at.clone(),
            config: Box::new(Config::from(app_args)),
        });
    }
    config.sources = contents.sources;
    Invocation::Run(config)
}

/// Options whose values may carry a secret (a platform stream key in a push URL).
const SECRET_OPTIONS: &[&str] = &["--push"];

/// argh quotes the bad value in its error line; for a secret-bearing option the value is
/// replaced, so a mistyped push URL does not put its key into the journal.
fn redact_secret_value(line: &str) -> String {
    for option in SECRET_OPTIONS {
        let marker = format!("Error parsing option '{option}' with value '");
        if let Some(start) = line.find(&marker).map(|i| i + marker.len()) {
            if let Some(end) = line.get(start..).and_then(|rest| rest.find("': ")).map(|i| start + i) {
                return format!(
                    "{}***{}",
                    line.get(..start).unwrap_or(""),
                    line.get(end..).unwrap_or("")
                );
            }
        }
    }
    line.to_owned()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

fn parse_record_format(value: &str) -> Result<Format, String> {
    Format::parse(value)
}

/// `--record-format` values without repeats, FLV when none.
fn record_formats(given: &[Format]) -> Vec<Format> {
    let mut formats: Vec<Format> = Vec::new();
    for format in given {
        if !formats.contains(format) {
            formats.push(*format);
        }
    }
    if formats.is_empty() {
        formats.push(Format::Flv);
    }
    formats
}
