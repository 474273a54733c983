//! An SRT publish in the registry, as an RTMP publish is (`server::publishing`): the stream
//! claimed (takeover or reject), the recording started, pushes told, each frame to players
//! then the recorder, and the end: recording finished, stream released, events emitted.

use crate::events::{Event, Publisher, Query, SessionEnd, StreamName};
use crate::live::registry::{PublishTicket, StreamKey};
use crate::media::Frame;
use crate::ops::metrics::Metrics;
use crate::policy::StreamPolicy;
use crate::record::recorder::Recorder;
use crate::server::context::ServerContext;
use crate::server::stats::{MediaStats, StatsReport};
use crate::ts::TsFrame;
use log::{info, warn};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Who publishes: the SRT connection's id and address, and its stream id's query.
#[derive(Debug, Clone)]
pub struct Caller {
    pub conn_id: u64,
    pub remote: SocketAddr,
    pub query: String,
}

/// A stream this SRT connection publishes.
pub struct SrtPublication {
    ctx: Arc<ServerContext>,
    caller: Caller,
    key: StreamKey,
    ticket: PublishTicket,
    recorder: Option<Recorder>,
    stats: MediaStats,
    policy: Arc<StreamPolicy>,
    started: Instant,
}

impl SrtPublication {
    /// Claims the stream (the decision already allowed it); `None` when another publisher
    /// holds it and the policy rejects a second one.
    pub fn start(
        ctx: Arc<ServerContext>,
        caller: Caller,
        key: StreamKey,
        policy: Arc<StreamPolicy>,
    ) -> Option<SrtPublication> {
        let (conn_id, remote) = (caller.conn_id, caller.remote);
        let ticket = match ctx.registry.publish(&key, conn_id, policy.publish_conflict) {
            Ok(ticket) => ticket,
            Err(conflict) => {
                warn!(
                    "publish rejected conn_id={conn_id} remote={remote} app={} stream={} error=\"already publishing\" holder_conn_id={} transport=srt",
                    key.app, key.stream, conflict.by_conn_id
                );
                return None;
            }
        };
        ticket.stream.set_publisher_addr(ticket.generation, remote);
        Metrics::add(&ctx.metrics.publishes_total, 1);
        if let Some(old) = ticket.replaced {
            warn!(
                "publish takeover conn_id={conn_id} remote={remote} app={} stream={} replaced_conn_id={old}",
                key.app, key.stream
            );
            Metrics::add(&ctx.metrics.kicks, 1);
            ctx.kick(old, "taken_over");
        }
        info!(
            "publish conn_id={conn_id} remote={remote} app={} stream={} type=live transport=srt players={}",
            key.app,
            key.stream,
            ticket.stream.player_count()
        );
        ctx.events.emit(Event::Published {
            name: StreamName::new(&key.app, &key.stream),
            conn_id,
            remote,
            query: Query(caller.query.clone()),
        });
        let publisher = Publisher {
            conn_id,
            remote,
            query: Query(caller.query.clone()),
        };
        let records = policy.records(&key.app, &key.stream);
        let recorder = ctx
            .recordings
            .start(&key.app, &key.stream, publisher, records, &policy.recording);
        ticket.stream.set_recording(recorder.is_some());
        ctx.pushes.stream_published(&key, &ticket.stream, &policy.push);
        ctx.hls.stream_published(&key, &ticket.stream, policy.hls);
        ticket.stream.set_coalesce(policy.play_coalesce);
        Some(SrtPublication {
            ctx,
            caller,
            key,
            ticket,
            recorder,
            stats: MediaStats::new(Instant::now()),
            policy,
            started: Instant::now(),
        })
    }

    /// Sends the frames players hold once their coalescing window has passed.
    pub fn flush_held(&self) {
        let ticket = &self.ticket;
        crate::server::delivery::flush_due(&self.ctx, &ticket.stream, ticket.generation, Instant::now());
    }

    /// When the frames players hold next fall due, if they hold any.
    pub fn held_deadline(&self) -> Option<Instant> {
        self.ticket.stream.held_deadline()
    }

    /// False once another publisher took the stream over.
    pub fn is_current(&self) -> bool {
        self.ticket.stream.publisher() == Some(self.caller.conn_id)
    }

    /// One demuxed frame: to the players first, then the recorder.
    pub fn on_frame(&mut self, ts_frame: TsFrame) {
        self.stats.count(ts_frame.kind, ts_frame.payload.len());
        if let Some(start) = self.ticket.stream.take_record_request() {
            self.apply_record_request(start);
        }
        let frame = Frame::new(ts_frame.kind, ts_frame.timestamp, Arc::new(ts_frame.payload));
        let report = self.ticket.stream.push(self.ticket.generation, &frame, false);
        if let Some(recorder) = self.recorder.as_mut() {
            if !recorder.send(&frame) {
                warn!(
                    "recording stopped, ingest continues conn_id={} app={} stream={}",
                    self.caller.conn_id, self.key.app, self.key.stream
                );
                self.recorder = None;
            }
        }
        crate::server::delivery::handle_delivery(&self.ctx, &self.key, &report);
        if let Some(report) = self.stats.due_report(Instant::now()) {
            log_stats(self.caller.conn_id, &self.key, report);
        }
    }

    /// Starts or stops the recording at run time (HTTP API), as for an RTMP publish.
    fn apply_record_request(&mut self, start: bool) {
        let key = &self.key;
        match (start, self.recorder.take()) {
            (true, None) => {
                let publisher = Publisher {
                    conn_id: self.caller.conn_id,
                    remote: self.caller.remote,
                    query: Query(self.caller.query.clone()),
                };
                let options = &self.policy.recording;
                let mut recorder = self.ctx.recordings.open(&key.app, &key.stream, publisher, options);
                if let Some(recorder) = recorder.as_mut() {
                    for media in self.ticket.stream.headers() {
                        recorder.send(&media.frame());
                    }
                }
                info!(
                    "recording started by API conn_id={} app={} stream={}",
                    self.caller.conn_id, key.app, key.stream
                );
                self.recorder = recorder;
            }
            (false, Some(recorder)) => {
                info!(
                    "recording stopped by API conn_id={} app={} stream={}",
                    self.caller.conn_id, key.app, key.stream
                );
                let gap = self.policy.recording.reconnect_gap;
                self.ctx.recordings.finish(recorder, &key.app, &key.stream, true, gap);
            }
            (_, recorder) => self.recorder = recorder,
        }
        self.ticket.stream.set_recording(self.recorder.is_some());
    }

    /// Ends the publish; `why` is `unpublish` for a clean end (the caller closed), else why
    /// the connection ended (a lost caller's recording waits for the reconnect gap).
    pub fn end(mut self, why: &str) {
        let clean = why == "unpublish";
        // As RTMP's end_publication: park a lost caller's recording before the name is free;
        // finalize a clean one after the `unpublished` event.
        let gap = self.policy.recording.reconnect_gap;
        let mut recorder = self.recorder.take();
        if !clean {
            if let Some(parked) = recorder.take() {
                self.ctx
                    .recordings
                    .finish(parked, &self.key.app, &self.key.stream, false, gap);
            }
        }
        self.ctx.registry.unpublish(&self.ticket);
        self.ctx.pushes.stream_ended(&self.ticket.stream, clean);
        self.ctx.hls.stream_ended(&self.ticket.stream);
        info!(
            "unpublish conn_id={} app={} stream={} reason={why}",
            self.caller.conn_id, self.key.app, self.key.stream
        );
        self.ctx.events.emit(Event::Unpublished {
            name: StreamName::new(&self.key.app, &self.key.stream),
            end: SessionEnd {
                conn_id: self.caller.conn_id,
                reason: why.to_owned(),
                remote: self.caller.remote,
                query: Query(std::mem::take(&mut self.caller.query)),
                duration_ms: self.started.elapsed().as_millis() as u64,
                bytes: self.stats.bytes,
            },
        });
        if let Some(recorder) = recorder {
            self.ctx
                .recordings
                .finish(recorder, &self.key.app, &self.key.stream, true, gap);
        }
        log_stats(self.caller.conn_id, &self.key, self.stats.report(Instant::now()));
    }
}

fn log_stats(conn_id: u64, key: &StreamKey, report: StatsReport) {
    info!(
        "media statistics conn_id={conn_id} app={} stream={} audio_packets={} video_packets={} bytes={} bitrate_kbps={:.0}",
        key.app, key.stream, report.audio_packets, report.video_packets, report.bytes, report.bitrate_kbps
    );
}
