//! One bench scenario: players join first, publishers then publish for the duration, players
//! read to the unpublish; the server's CPU and RSS are read around it and the result summed
//! up into a `Summary`.

use super::hls_viewer;
use super::http_flv_viewer::{self, ViewPlan};
use super::media::BenchMedia;
use super::player::{self, PlayPlan, Played};
use super::procstat::{self, Process, RssSampler};
use super::publisher::{self, PublishPlan, Published};
use super::report::{Latency, ServerUsage, Summary, ViewerFigures};
use super::{BenchError, Clock};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Players may read this long past the duration before they give up on the unpublish.
pub const PLAYER_GRACE: Duration = Duration::from_secs(30);
/// Stack of each peer thread (they hold little on the stack).
const PEER_STACK: usize = 256 * 1024;
/// Distinct error messages listed in a report.
const MAX_ERRORS: usize = 8;

#[derive(Debug, Clone)]
pub struct Options {
    pub server: SocketAddr,
    pub app: String,
    /// Stream name prefix: publisher k publishes `{stream}{k}`.
    pub stream: String,
    pub publishers: usize,
    pub players: usize,
    pub realtime: bool,
    pub duration: Duration,
    pub server_pid: Option<u32>,
    /// Connect and read timeout of every connection.
    pub timeout: Duration,
    /// Publishers stamp AVC frames with the send clock (for latency figures).
    pub stamp: bool,
    /// The server's HTTP listener (for HTTP viewers).
    pub http: Option<SocketAddr>,
    /// HTTP-FLV viewers, spread over the publishers' streams; they join once the publish began.
    pub http_flv_viewers: usize,
    /// LL-HLS viewers, likewise.
    pub hls_viewers: usize,
}

impl Options {
    pub fn stream_name(&self, publisher: usize) -> String {
        format!("{}{publisher}", self.stream)
    }
}

fn spawn<T: Send + 'static>(
    name: String,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, BenchError> {
    thread::Builder::new()
        .name(name)
        .stack_size(PEER_STACK)
        .spawn(job)
        .map_err(BenchError::Spawn)
}

/// Runs one scenario to its end.
pub fn run(options: &Options, media: Arc<BenchMedia>) -> Result<Summary, BenchError> {
    let clock = Clock::new();
    let server = options.server_pid.map(Process::Pid);
    let cpu_before = server
        .map(procstat::cpu_seconds)
        .transpose()
        .map_err(BenchError::ServerProc)?;
    let bench_cpu_before = procstat::cpu_seconds(Process::Current).unwrap_or(0.0);
    let sampler = server.map(RssSampler::start).transpose().map_err(BenchError::Spawn)?;
    let wall = Instant::now();
    let publishers = options.publishers.max(1);

    let deadline = wall + options.duration + PLAYER_GRACE + options.timeout;
    let (ready_tx, ready_rx) = crossbeam_channel::unbounded::<()>();
    let mut players = Vec::with_capacity(options.players);
    for i in 0..options.players {
        let plan = PlayPlan {
            server: options.server,
            app: options.app.clone(),
            stream: options.stream_name(i % publishers),
            timeout: options.timeout,
            deadline,
        };
        let ready = ready_tx.clone();
        let handle = spawn(format!("player-{i}"), move || {
            let joined = player::join(&plan);
            let _ = ready.send(());
            match joined {
                Ok(client) => player::watch(client, &plan, &clock),
                Err(e) => Played {
                    error: Some(format!("play: {e}")),
                    ..Played::default()
                },
            }
        })?;
        players.push((i % publishers, handle));
    }
    drop(ready_tx);
    // Players join before anyone publishes (each join is bounded by the connect timeout).
    let joined_by = Instant::now() + options.timeout * 2;
    for _ in 0..options.players {
        if ready_rx.recv_deadline(joined_by).is_err() {
            break;
        }
    }

    let media_source = media.source.clone();
    let mut publisher_threads = Vec::with_capacity(publishers);
    for k in 0..publishers {
        let plan = PublishPlan {
            server: options.server,
            app: options.app.clone(),
            stream: options.stream_name(k),
            realtime: options.realtime,
            duration: options.duration,
            timeout: options.timeout,
            stamp: options.stamp,
        };
        let media = Arc::clone(&media);
        publisher_threads.push(spawn(format!("publisher-{k}"), move || {
            publisher::publish(&plan, &media, &clock).map_err(|e| format!("publisher {}: {e}", plan.stream))
        })?);
    }
    let mut viewers = Vec::new();
    let mut hls_viewers = Vec::new();
    if let Some(http) = options.http {
        let plan = |i: usize| ViewPlan {
            http,
            app: options.app.clone(),
            stream: options.stream_name(i % publishers),
            timeout: options.timeout,
            join_by: Instant::now() + options.timeout * 2,
            deadline,
        };
        for i in 0..options.http_flv_viewers {
            let plan = plan(i);
            viewers.push(spawn(format!("http-flv-{i}"), move || {
                http_flv_viewer::view(&plan, &clock)
            })?);
        }
        for i in 0..options.hls_viewers {
            let plan = plan(i);
            hls_viewers.push(spawn(format!("hls-{i}"), move || hls_viewer::view(&plan, &clock))?);
        }
    }
    let published: Vec<Result<Published, String>> = publisher_threads
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|_| Err("publisher thread panicked".to_owned())))
        .collect();
    let played: Vec<(usize, Played)> = players
        .into_iter()
        .map(|(k, h)| {
            let played = h.join().unwrap_or_else(|_| Played {
                error: Some("player thread panicked".to_owned()),
                ..Played::default()
            });
            (k, played)
        })
        .collect();
    let joined = |handles: Vec<JoinHandle<Played>>| -> Vec<Played> {
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Played {
                    error: Some("viewer thread panicked".to_owned()),
                    ..Played::default()
                })
            })
            .collect()
    };
    let viewed = joined(viewers);
    let hls_viewed = joined(hls_viewers);
    let wall_s = wall.elapsed().as_secs_f64();

    let server_usage = match (server, cpu_before, sampler) {
        (Some(process), Some(before), Some(sampler)) => {
            let peak_rss_kb = sampler.stop();
            let after = procstat::cpu_seconds(process).map_err(BenchError::ServerProc)?;
            let hwm_kb = procstat::status_kb(process, "VmHWM").unwrap_or(0);
            let cpu_s = (after - before).max(0.0);
            Some(ServerUsage {
                cpu_s,
                cpu_pct: if wall_s > 0.0 { cpu_s / wall_s * 100.0 } else { 0.0 },
                peak_rss_kb,
                hwm_kb,
            })
        }
        _ => None,
    };
    let bench_cpu_s = (procstat::cpu_seconds(Process::Current).unwrap_or(0.0) - bench_cpu_before).max(0.0);
    let mut summary = summarize(
        options,
        media_source,
        &published,
        played,
        wall_s,
        server_usage,
        bench_cpu_s,
    );
    if options.http.is_some() && options.http_flv_viewers > 0 {
        let (figures, errors) = viewer_figures(viewed);
        summary.http_flv = Some(figures);
        summary
            .errors
            .extend(errors.into_iter().map(|(e, n)| format!("{n} HTTP-FLV viewer(s): {e}")));
    }
    if options.http.is_some() && options.hls_viewers > 0 {
        let (figures, errors) = viewer_figures(hls_viewed);
        summary.hls = Some(figures);
        summary
            .errors
            .extend(errors.into_iter().map(|(e, n)| format!("{n} HLS viewer(s): {e}")));
    }
    summary.errors.truncate(MAX_ERRORS);
    Ok(summary)
}

/// HTTP viewers' figures, and their distinct errors with counts.
fn viewer_figures(viewed: Vec<Played>) -> (ViewerFigures, BTreeMap<String, usize>) {
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let frames: Vec<u64> = viewed.iter().map(|v| v.video_frames).collect();
    let mut figures = ViewerFigures {
        viewers: viewed.len(),
        kept_up: 0,
        video_frames: frames.iter().min().copied().zip(frames.iter().max().copied()),
        bytes: 0,
        latency: None,
    };
    let mut latencies = Vec::new();
    for v in viewed {
        if v.error.is_none() && v.saw_unpublish && v.gaps == 0 && v.video_frames > 0 {
            figures.kept_up += 1;
        }
        if let Some(error) = v.error {
            *errors.entry(error).or_default() += 1;
        }
        figures.bytes += v.bytes;
        latencies.extend(v.latencies);
    }
    figures.latency = Latency::from_nanos(latencies);
    (figures, errors)
}

fn summarize(
    options: &Options,
    source: String,
    published: &[Result<Published, String>],
    played: Vec<(usize, Played)>,
    wall_s: f64,
    server_usage: Option<ServerUsage>,
    bench_cpu_s: f64,
) -> Summary {
    let mut errors: Vec<String> = published.iter().filter_map(|p| p.as_ref().err().cloned()).collect();
    let sent: Vec<&Published> = published.iter().filter_map(|p| p.as_ref().ok()).collect();
    let mut player_errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut kept_up = 0;
    let mut latencies = Vec::new();
    let mut keyframe_latencies = Vec::new();
    let mut inter_latencies = Vec::new();
    let mut bytes_received = 0;
    let range = |values: Vec<u64>| Some((*values.iter().min()?, *values.iter().max()?));
    let frames = range(played.iter().map(|(_, p)| p.frames).collect());
    let video_frames = range(played.iter().map(|(_, p)| p.video_frames).collect());
    for (k, p) in played {
        let expected = published.get(k).and_then(|r| r.as_ref().ok()).map(|s| s.video_frames);
        if p.error.is_none() && p.saw_unpublish && expected == Some(p.video_frames) {
            kept_up += 1;
        }
        if let Some(error) = p.error {
            *player_errors.entry(error).or_default() += 1;
        }
        bytes_received += p.bytes;
        latencies.extend(p.latencies);
        keyframe_latencies.extend(p.keyframe_latencies);
        inter_latencies.extend(p.inter_latencies);
    }
    errors.extend(
        player_errors
            .into_iter()
            .map(|(error, count)| format!("{count} player(s): {error}")),
    );
    errors.truncate(MAX_ERRORS);
    Summary {
        server: options.server.to_string(),
        app: options.app.clone(),
        stream: options.stream.clone(),
        source,
        publishers: options.publishers.max(1),
        players: options.players,
        realtime: options.realtime,
        duration_s: options.duration.as_secs_f64(),
        wall_s,
        bytes_published: sent.iter().map(|s| s.bytes).sum(),
        bytes_received,
        frames_published: sent.iter().map(|s| s.frames).sum(),
        video_frames_published: sent.iter().map(|s| s.video_frames).sum(),
        frames_received: frames,
        video_frames_received: video_frames,
        players_kept_up: kept_up,
        latency: Latency::from_nanos(latencies),
        keyframe_latency: Latency::from_nanos(keyframe_latencies),
        inter_latency: Latency::from_nanos(inter_latencies),
        server_usage,
        bench_cpu_s,
        errors,
        http_flv: None,
        hls: None,
    }
}
