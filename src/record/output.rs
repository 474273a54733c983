//! A recording's writer thread: the only code that touches its files. It asks the pure
//! `Planner` what to do with each frame and does the I/O for each of its sinks (one per
//! recording format: a `Muxer` building the bytes and its open file):
//! - files are `NAME.EXT.part` while written (EXT from the muxer, e.g. `flv`), renamed to
//!   `NAME.EXT` when finalized;
//! - whole tags go through a [`FileSink`]: staged, full stages written with `O_DIRECT`, and
//!   everything staged handed to the kernel at least every [`FLUSH_INTERVAL`] (so a crash
//!   loses at most that much); what the muxer reserved (FLV: onMetaData with duration,
//!   filesize, keyframe index, and the header flags) is rewritten in place every
//!   [`METADATA_REFRESH_INTERVAL`] (`checkpoint`) and at close (`finalize`), so a file cut
//!   short by a crash is at most that stale and `repair` makes it exact;
//! - the disk guard: below `--record-min-free` no file opens and the open one is
//!   finalized (warning); the next start point after space returns opens a new file;
//! - an I/O error finalizes what is on disk (torn tail cut by repair), logs, and the
//!   recording retries in a new file later; ingest never notices;
//! - a file deleted while written (record dir removed) is noticed within
//!   [`DISK_CHECK_INTERVAL`], logged, and recording goes on in a new file.
//!
//! Opening, finalizing and salvaging a sink's file are in `output_files`.

use super::disk;
use super::format::Format;
use super::muxer::{MuxError, Muxer};
use super::planner::{Decision, Planner, SegmentRules};
use super::recorder::{QueueRoom, RecordMsg, RecordShared, RecordingRequest};
use super::sink::FileSink;
use super::status::RecordingStatus;
use crate::events::Publisher;
use crate::media::{Frame, FrameKind};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use log::{info, log, warn, Level};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The in-place onMetaData is refreshed this often while recording.
pub const METADATA_REFRESH_INTERVAL: Duration = Duration::from_secs(2);
/// Free space is checked this often while recording or paused for space.
pub const DISK_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// After a failed open or write, a new file is tried no sooner than this.
pub const RETRY_AFTER_ERROR: Duration = Duration::from_secs(5);
/// Recorded data reaches the OS at least this often (a crash of the process loses at most
/// this much).
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(250);
/// How often an idle writer wakes up for its timers.
const TICK: Duration = Duration::from_millis(250);

struct OpenFile {
    part: PathBuf,
    sink: FileSink,
    opened: Instant,
}

/// One recording format: its muxer and the file it is writing (if any).
struct Sink {
    muxer: Box<dyn Muxer>,
    file: Option<OpenFile>,
}

/// Sink `i`'s muxer and open file, if it has one open (a borrow of the sinks alone, so the
/// writer's buffer stays usable beside it).
fn open_sink(sinks: &mut [Sink], i: usize) -> Option<(&mut Box<dyn Muxer>, &mut OpenFile)> {
    let sink = sinks.get_mut(i)?;
    Some((&mut sink.muxer, sink.file.as_mut()?))
}

struct Writer {
    shared: Arc<RecordShared>,
    app: String,
    stream: String,
    label: String,
    /// The latest publisher (for the record_done hooks).
    publisher: Publisher,
    planner: Planner,
    /// One per format; the API's status follows the first.
    sinks: Vec<Sink>,
    /// Scratch for one frame's framing (and a file's header when it opens).
    buf: Vec<u8>,
    last_flush: Instant,
    last_refresh: Instant,
    last_disk_check: Instant,
    low_disk: bool,
    retry_at: Option<Instant>,
    /// The open file and its flushed bytes, for the API.
    status: Arc<RecordingStatus>,
    /// A publisher reconnected and no media frame came since: the rebase of that frame is
    /// the expected continuation (logged at info), not a discontinuity of the stream.
    resumed: bool,
    /// This recording's `--record-*` settings.
    options: Arc<super::options::RecordOptions>,
}

/// The thread body: runs until the handle is dropped, then finalizes.
pub fn run(
    request: RecordingRequest,
    shared: Arc<RecordShared>,
    receiver: Receiver<RecordMsg>,
    queued: Arc<QueueRoom>,
) {
    let options = Arc::clone(&request.options);
    let rules = SegmentRules {
        max_bytes: options.max_size,
        max_duration_ms: options.max_duration.map(|d| d.as_millis() as u64),
        from_any_frame: options.from_any_frame,
    };
    let now = Instant::now();
    let mut writer = Writer {
        label: format!(
            "app={} stream={} conn_id={}",
            request.app, request.stream, request.publisher.conn_id
        ),
        publisher: request.publisher,
        app: request.app,
        stream: request.stream,
        planner: Planner::new(rules),
        sinks: options
            .formats
            .iter()
            .map(|format| Sink {
                muxer: format.muxer(),
                file: None,
            })
            .collect(),
        buf: Vec::with_capacity(1024),
        last_flush: now,
        last_refresh: now,
        last_disk_check: now,
        low_disk: false,
        retry_at: None,
        status: request.status,
        options,
        resumed: false,
        shared,
    };
    loop {
        let mut next = match receiver.recv_timeout(TICK) {
            Ok(msg) => Some(msg),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        // Everything queued meanwhile is staged (handed to the kernel when the flush interval
        // passed). A queue that never empties (a disk slower than ingest) still runs the
        // timers: disk guard, deleted-file check, metadata refresh.
        let mut last_tick = Instant::now();
        while let Some(msg) = next.take() {
            let now = Instant::now();
            if now.duration_since(last_tick) >= TICK {
                last_tick = now;
                writer.on_tick(now);
            }
            match msg {
                RecordMsg::Frame(frame) => {
                    queued.release(frame.len());
                    writer.on_frame(&frame);
                }
                RecordMsg::Resume { publisher } => {
                    writer.label = format!(
                        "app={} stream={} conn_id={}",
                        writer.app, writer.stream, publisher.conn_id
                    );
                    writer.publisher = publisher;
                    writer.planner.resume();
                    writer.resumed = true;
                    info!("recording continues after reconnect {}", writer.label);
                }
            }
            next = receiver.try_recv().ok();
        }
        writer.on_tick(Instant::now());
    }
    writer.close_file();
    info!(
        "recording ended {} files={} skipped_frames={}",
        writer.label,
        writer.planner.next_index().saturating_sub(1),
        writer.planner.skipped
    );
}

impl Writer {
    fn any_open(&self) -> bool {
        self.sinks.iter().any(|s| s.file.is_some())
    }

    fn on_frame(&mut self, frame: &Frame) {
        let bytes = self.sinks.iter().map(|s| s.muxer.bytes()).max().unwrap_or(0);
        let (decision, jump) = self.planner.push(frame, bytes);
        // The first media frame after a reconnect is always placed just after the latest time
        // written (the encoder restarted its clock): expected, so info. Any other rebase is a
        // discontinuity within the publish, worth a warning.
        let after_reconnect = self.resumed;
        if frame.kind != FrameKind::Data && !frame.sequence_header {
            self.resumed = false;
        }
        if let Some(jump) = jump {
            let level = if after_reconnect { Level::Info } else { Level::Warn };
            log!(
                level,
                "timestamp discontinuity rebased {} track={:?} published_ts={} from_ms={} to_ms={} after_reconnect={after_reconnect}",
                self.label,
                jump.kind,
                frame.timestamp,
                jump.from,
                jump.to
            );
        }
        match decision {
            Decision::Skip => return,
            Decision::Metadata => return self.update_metadata(),
            Decision::Write => {}
            Decision::Rotate => {
                self.close_file();
                if !self.open_file() {
                    return;
                }
            }
            Decision::Open => {
                if !self.open_file() {
                    return;
                }
            }
        }
        let file_ts = self.planner.file_time();
        let mut i = 0;
        while i < self.sinks.len() {
            if self.write_frame(i, frame, file_ts) {
                i += 1;
            }
        }
    }

    /// Sink `i`'s format cannot carry the stream's codec: its file is deleted and the
    /// recording goes on without it (in FLV when it was the only format), logged once.
    fn drop_sink(&mut self, i: usize, error: MuxError) {
        if i >= self.sinks.len() {
            return;
        }
        let mut sink = self.sinks.remove(i);
        let extension = sink.muxer.extension();
        sink.muxer.abandon();
        if let Some(file) = sink.file.take() {
            if i == 0 {
                self.status.closed();
            }
            self.shared.counters.closed(false);
            drop(file.sink);
            if let Err(e) = std::fs::remove_file(&file.part) {
                warn!(
                    "unused recording file not removed file={} error=\"{e}\"",
                    file.part.display()
                );
            }
        }
        let fallback = self.sinks.is_empty();
        warn!(
            "recording format cannot carry the stream {} format={extension} error=\"{error}\" flv_instead={fallback}",
            self.label
        );
        if fallback {
            self.sinks.push(Sink {
                muxer: Format::Flv.muxer(),
                file: None,
            });
            // The next start point opens the FLV file.
            self.planner.close();
        } else if i == 0 {
            if let Some(part) = self.sinks.first().and_then(|s| s.file.as_ref()).map(|f| f.part.clone()) {
                self.status.opened(part);
            }
        }
    }

    /// Stages the frame in sink `i`'s file: the muxer's framing, the payload from the frame's
    /// own buffer (unless the muxer embeds it), the muxer's tail. False when the sink was
    /// dropped (its format cannot carry the stream).
    fn write_frame(&mut self, i: usize, frame: &Frame, file_ts: u32) -> bool {
        let Some((muxer, file)) = open_sink(&mut self.sinks, i) else {
            return true;
        };
        self.buf.clear();
        let tail = match muxer.append(frame, file_ts, &mut self.buf) {
            Ok(tail) => tail,
            Err(e @ MuxError::Unsupported(_)) => {
                self.drop_sink(i, e);
                return false;
            }
            Err(e) => {
                warn!("frame not recorded {} error=\"{e}\"", self.label);
                return true;
            }
        };
        let payload: &[u8] = if muxer.embeds_payload() { &[] } else { &frame.payload };
        let sink = &mut file.sink;
        let staged = sink
            .append(&self.buf)
            .and_then(|()| sink.append(payload))
            .and_then(|()| sink.append(tail.as_slice()));
        match staged {
            Ok(()) if i == 0 => self.status.flushed(sink.written()),
            Ok(()) => {}
            Err(e) => self.fail(i, e),
        }
        true
    }

    /// The stream's onMetaData changed: each muxer folds it into its open file.
    fn update_metadata(&mut self) {
        let headers = self.planner.headers();
        for sink in &mut self.sinks {
            if !sink.muxer.update_metadata(&headers) {
                warn!(
                    "onMetaData update does not fit the file's reserved tag, kept for the next file {} segment={}",
                    self.label,
                    self.planner.file().map_or(0, |f| f.index)
                );
            }
        }
    }

    /// Hands everything staged to the kernel (a failure ends that file).
    fn flush(&mut self) {
        self.last_flush = Instant::now();
        for i in 0..self.sinks.len() {
            let Some(file) = self.sinks.get_mut(i).and_then(|s| s.file.as_mut()) else {
                continue;
            };
            match file.sink.flush() {
                Ok(()) if i == 0 => self.status.flushed(file.sink.written()),
                Ok(()) => {}
                Err(e) => self.fail(i, e),
            }
        }
    }

    /// Whether an open file was deleted under the writer (e.g. `rm -rf` of the record
    /// dir): then it is dropped, logged, and the next start point opens a new file (the
    /// directory is recreated) instead of recording into a deleted file until the end.
    fn file_removed(&mut self) -> bool {
        let mut any = false;
        for (i, sink) in self.sinks.iter_mut().enumerate() {
            let removed = sink
                .file
                .as_ref()
                .and_then(|f| f.sink.file().metadata().ok())
                .is_some_and(|m| m.nlink() == 0);
            if !removed {
                continue;
            }
            if let Some(file) = sink.file.take() {
                if i == 0 {
                    self.status.closed();
                }
                self.shared.counters.closed(false);
                sink.muxer.abandon();
                warn!("recording file removed {} file={}", self.label, file.part.display());
            }
            any = true;
        }
        if any && !self.any_open() {
            self.planner.close();
        }
        any
    }

    fn on_tick(&mut self, now: Instant) {
        if now.duration_since(self.last_flush) >= FLUSH_INTERVAL {
            self.flush();
        }
        if self.any_open() && now.duration_since(self.last_disk_check) >= DISK_CHECK_INTERVAL {
            self.last_disk_check = now;
            if self.file_removed() {
                return;
            }
            if let Err(free) = disk::has_room(&self.shared.dir, self.shared.options.min_free) {
                warn!(
                    "recording paused, disk space low {} free_bytes={free} min_free={}",
                    self.label, self.shared.options.min_free
                );
                self.low_disk = true;
                self.close_file();
                return;
            }
        }
        let refresh_due = now.duration_since(self.last_refresh) >= METADATA_REFRESH_INTERVAL;
        if self.any_open() && refresh_due {
            self.last_refresh = now;
            self.checkpoint();
        }
    }

    /// Rewrites what each muxer reserved in place (a failure ends that file).
    fn checkpoint(&mut self) {
        for i in 0..self.sinks.len() {
            let Some((muxer, file)) = open_sink(&mut self.sinks, i) else {
                continue;
            };
            if let Err(e) = files::patch(&mut file.sink, &muxer.checkpoint()) {
                self.fail(i, e);
            }
        }
    }
}

#[path = "output_files.rs"]
mod files;
