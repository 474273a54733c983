//! The publishing half of a connection: claiming the stream (takeover or reject), feeding
//! each frame to its recorder and to the stream's players, statistics, and the end of a
//! publish.

use super::connection::{CloseReason, Connection};
use super::stats::{MediaStats, StatsReport};
use crate::decision::Action;
use crate::events::{Event, Publisher, Query, SessionEnd, StreamName};
use crate::live::registry::{PublishTicket, StreamKey};
use crate::media::{Frame, FrameKind};
use crate::policy::StreamPolicy;
use crate::record::recorder::Recorder;
use log::{info, warn};
use std::sync::Arc;
use std::time::Instant;

/// A stream this connection publishes.
pub(super) struct Publication {
    key: StreamKey,
    ticket: PublishTicket,
    recorder: Option<Recorder>,
    stats: MediaStats,
    /// The publish request's query and start (for the publish_done hook).
    query: String,
    /// What applies to this stream, resolved once at the publish.
    policy: Arc<StreamPolicy>,
    started: Instant,
}

impl Connection {
    /// This connection as the publisher of a recording (told to the record_done hooks).
    fn publisher(&self, query: &str) -> Publisher {
        Publisher {
            conn_id: self.conn_id,
            remote: self.remote,
            query: Query(query.to_owned()),
        }
    }

    pub(super) fn on_publish_request(
        &mut self,
        stream_id: u32,
        name: String,
        query: &str,
        publish_type: &str,
    ) -> Option<CloseReason> {
        // `rtmp://box/live` with no stream key (or only `?key=...`): refused, not recorded as
        // `live__*.flv`.
        if name.trim().is_empty() {
            warn!(
                "publish rejected conn_id={} remote={} app={} error=\"empty stream name\"",
                self.conn_id, self.remote, self.app
            );
            let _ = self
                .session
                .reject_publish(stream_id, "NetStream.Publish.BadName", "No stream name");
            return Some(CloseReason::Rejected("empty stream name"));
        }
        let key = StreamKey {
            app: self.app.clone(),
            stream: name,
        };
        // The stream's policy (an [[app]] table's or the top level's), then the decision point
        // (address list, keys, and whatever may answer later); the conflict with a current
        // publisher is the registry's, after an Allow.
        let policy = match self.policy_for(Action::Publish, stream_id, &key) {
            Ok(policy) => policy,
            Err(reason) => return Some(reason),
        };
        let outcome = self.decide(Action::Publish, &key, query, &policy);
        if let Some(reason) = self.refuse_unless_allowed(Action::Publish, stream_id, &key, outcome) {
            return Some(reason);
        }
        let ticket = match self.ctx.registry.publish(&key, self.conn_id, policy.publish_conflict) {
            Ok(ticket) => ticket,
            Err(conflict) => {
                warn!(
                    "publish rejected conn_id={} remote={} app={} stream={} error=\"already publishing\" holder_conn_id={}",
                    self.conn_id, self.remote, key.app, key.stream, conflict.by_conn_id
                );
                let description = "Stream already publishing";
                let _ = self
                    .session
                    .reject_publish(stream_id, "NetStream.Publish.BadName", description);
                return Some(CloseReason::Rejected("stream already publishing"));
            }
        };
        ticket.stream.set_publisher_addr(ticket.generation, self.remote);
        crate::ops::metrics::Metrics::add(&self.ctx.metrics.publishes_total, 1);
        if let Some(old) = ticket.replaced {
            warn!(
                "publish takeover conn_id={} remote={} app={} stream={} replaced_conn_id={old}",
                self.conn_id, self.remote, key.app, key.stream
            );
            crate::ops::metrics::Metrics::add(&self.ctx.metrics.kicks, 1);
            self.ctx.kick(old, "taken_over");
        }
        info!(
            "publish conn_id={} remote={} app={} stream={} type={publish_type} players={}",
            self.conn_id,
            self.remote,
            key.app,
            key.stream,
            ticket.stream.player_count()
        );
        self.ctx.events.emit(Event::Published {
            name: StreamName::new(&key.app, &key.stream),
            conn_id: self.conn_id,
            remote: self.remote,
            query: Query(query.to_owned()),
        });
        // The recording manager decides: patterns, a parked recording to continue, or a new one.
        let records = policy.records(&key.app, &key.stream);
        let publisher = self.publisher(query);
        let recorder = self
            .ctx
            .recordings
            .start(&key.app, &key.stream, publisher, records, &policy.recording);
        ticket.stream.set_recording(recorder.is_some());
        self.ctx.pushes.stream_published(&key, &ticket.stream, &policy.push);
        self.ctx.hls.stream_published(&key, &ticket.stream, policy.hls);
        ticket.stream.set_coalesce(policy.play_coalesce);
        let publication = Publication {
            key,
            ticket,
            recorder,
            stats: MediaStats::new(Instant::now()),
            query: query.to_owned(),
            policy,
            started: Instant::now(),
        };
        if let Some(previous) = self.publications.insert(stream_id, publication) {
            self.ctx.registry.unpublish(&previous.ticket);
            self.ctx.pushes.stream_ended(&previous.ticket.stream, true);
            self.ctx.hls.stream_ended(&previous.ticket.stream);
        }
        // Accepting resumes the input held since the request; its media follows as events.
        match self.session.accept_publish(stream_id) {
            Ok(()) => None,
            Err(e) => Some(CloseReason::Protocol(e.to_string())),
        }
    }

    pub(super) fn on_media(
        &mut self,
        stream_id: u32,
        kind: FrameKind,
        timestamp: u32,
        payload: Vec<u8>,
        metadata: bool,
    ) {
        let Some(publication) = self.publications.get_mut(&stream_id) else {
            return;
        };
        publication.stats.count(kind, payload.len());
        if let Some(start) = publication.ticket.stream.take_record_request() {
            self.apply_record_request(stream_id, start);
        }
        let Some(publication) = self.publications.get_mut(&stream_id) else {
            return;
        };
        let frame = Frame::new(kind, timestamp, Arc::from(payload));
        // Players first: a recorder waiting for a slow disk (bounded backpressure) must not
        // hold this frame back from them.
        let report = publication
            .ticket
            .stream
            .push(publication.ticket.generation, &frame, metadata);
        if let Some(recorder) = publication.recorder.as_mut() {
            if !recorder.send(&frame) {
                warn!(
                    "recording stopped, ingest continues conn_id={} app={} stream={}",
                    self.conn_id, publication.key.app, publication.key.stream
                );
                publication.recorder = None;
            }
        }
        super::delivery::handle_delivery(&self.ctx, &publication.key, &report);
        if let Some(report) = publication.stats.due_report(Instant::now()) {
            log_stats(self.conn_id, &publication.key, report);
        }
    }

    /// Sends the frames players hold whose coalescing window has passed (`play_coalesce`).
    pub(super) fn flush_held_frames(&self) {
        let now = Instant::now();
        for publication in self.publications.values() {
            let ticket = &publication.ticket;
            super::delivery::flush_due(&self.ctx, &ticket.stream, ticket.generation, now);
        }
    }

    /// When the frames players hold next fall due, if they hold any.
    pub(super) fn held_deadline(&self) -> Option<Instant> {
        self.publications
            .values()
            .filter_map(|p| p.ticket.stream.held_deadline())
            .min()
    }

    /// Starts or stops this publication's recording at run time (HTTP API). A started
    /// recording gets the cached metadata and sequence headers first and begins at a keyframe.
    fn apply_record_request(&mut self, stream_id: u32, start: bool) {
        let Some(publication) = self.publications.get_mut(&stream_id) else {
            return;
        };
        let key = &publication.key;
        match (start, publication.recorder.take()) {
            (true, None) => {
                let publisher = Publisher {
                    conn_id: self.conn_id,
                    remote: self.remote,
                    query: Query(publication.query.clone()),
                };
                let options = &publication.policy.recording;
                let mut recorder = self.ctx.recordings.open(&key.app, &key.stream, publisher, options);
                if let Some(recorder) = recorder.as_mut() {
                    for media in publication.ticket.stream.headers() {
                        recorder.send(&media.frame());
                    }
                }
                info!(
                    "recording started by API conn_id={} app={} stream={}",
                    self.conn_id, key.app, key.stream
                );
                publication.recorder = recorder;
            }
            (false, Some(recorder)) => {
                info!(
                    "recording stopped by API conn_id={} app={} stream={}",
                    self.conn_id, key.app, key.stream
                );
                let gap = publication.policy.recording.reconnect_gap;
                self.ctx.recordings.finish(recorder, &key.app, &key.stream, true, gap);
            }
            (_, recorder) => publication.recorder = recorder,
        }
        publication.ticket.stream.set_recording(publication.recorder.is_some());
    }

    pub(super) fn end_publication(&mut self, stream_id: u32, why: &str) {
        let Some(mut publication) = self.publications.remove(&stream_id) else {
            return;
        };
        let why = self.publication_end_reason(why);
        let clean = why == "unpublish";
        // A lost publisher's recording is parked for the reconnect gap before the name is
        // free, so a publisher coming back finds it; a clean unpublish finalizes at once,
        // after the `unpublished` event (the writer drains, finalizes and tells
        // `recording_finalized`, which must come second).
        let gap = publication.policy.recording.reconnect_gap;
        let mut recorder = publication.recorder.take();
        if !clean {
            if let Some(parked) = recorder.take() {
                let key = &publication.key;
                self.ctx.recordings.finish(parked, &key.app, &key.stream, false, gap);
            }
        }
        self.ctx.registry.unpublish(&publication.ticket);
        self.ctx.pushes.stream_ended(&publication.ticket.stream, clean);
        self.ctx.hls.stream_ended(&publication.ticket.stream);
        info!(
            "unpublish conn_id={} app={} stream={} reason={why}",
            self.conn_id, publication.key.app, publication.key.stream
        );
        self.ctx.events.emit(Event::Unpublished {
            name: StreamName::new(&publication.key.app, &publication.key.stream),
            end: SessionEnd {
                conn_id: self.conn_id,
                reason: why.to_owned(),
                remote: self.remote,
                query: Query(std::mem::take(&mut publication.query)),
                duration_ms: publication.started.elapsed().as_millis() as u64,
                bytes: publication.stats.bytes,
            },
        });
        if let Some(recorder) = recorder {
            let key = &publication.key;
            self.ctx.recordings.finish(recorder, &key.app, &key.stream, true, gap);
        }
        log_stats(self.conn_id, &publication.key, publication.stats.report(Instant::now()));
    }

    pub(super) fn end_all_publications(&mut self, why: &str) {
        let ids: Vec<u32> = self.publications.keys().copied().collect();
        for stream_id in ids {
            self.end_publication(stream_id, why);
        }
    }
}

fn log_stats(conn_id: u64, key: &StreamKey, report: StatsReport) {
    info!(
        "media statistics conn_id={conn_id} app={} stream={} audio_packets={} video_packets={} bytes={} bitrate_kbps={:.0}",
        key.app, key.stream, report.audio_packets, report.video_packets, report.bytes, report.bitrate_kbps
    );
}
