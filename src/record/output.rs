//! A recording's writer thread: the only code that touches its files. It asks the pure
//! `Segmenter` what to do with each frame and does the I/O:
//! - files are `NAME.flv.part` while written, renamed to `NAME.flv` when finalized;
//! - whole tags go through a [`FileSink`]: staged, full stages written with `O_DIRECT`, and
//!   everything staged handed to the kernel at least every [`FLUSH_INTERVAL`] (so a crash
//!   loses at most that much); the reserved onMetaData (duration, filesize, keyframe index)
//!   and header flags are rewritten in place every [`METADATA_REFRESH_INTERVAL`] and at
//!   close, so a file cut short by a crash is at most that stale and `repair` makes it exact;
//! - the disk guard: below `--record-min-free` no file opens and the open one is
//!   finalized (warning); the next start point after space returns opens a new file;
//! - an I/O error finalizes what is on disk (torn tail cut by repair), logs, and the
//!   recording retries in a new file later; ingest never notices;
//! - a file deleted while written (record dir removed) is noticed within
//!   [`DISK_CHECK_INTERVAL`], logged, and recording goes on in a new file.

use super::disk;
use super::hook::FinishedFile;
use super::naming;
use super::recorder::{QueueRoom, RecordMsg, RecordShared, RecordingRequest};
use super::recover::repair_and_finalize;
use super::segmenter::{Decision, Segment, SegmentRules, Segmenter, METADATA_BODY_OFFSET};
use super::sink::FileSink;
use super::status::RecordingStatus;
use crate::events::{Event, StreamName};
use crate::flv::FLAGS_OFFSET;
use crate::media::{Frame, FrameKind};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use log::{error, info, log, warn, Level};
use std::io;
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

struct Writer {
    shared: Arc<RecordShared>,
    app: String,
    stream: String,
    label: String,
    segmenter: Segmenter,
    file: Option<OpenFile>,
    /// Scratch for one tag header (and the file header when a file opens).
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
}

/// The thread body: runs until the handle is dropped, then finalizes.
pub fn run(
    request: RecordingRequest,
    shared: Arc<RecordShared>,
    receiver: Receiver<RecordMsg>,
    queued: Arc<QueueRoom>,
) {
    let options = &shared.options;
    let rules = SegmentRules {
        max_bytes: options.max_size,
        max_duration_ms: options.max_duration.map(|d| d.as_millis() as u64),
        from_any_frame: options.from_any_frame,
    };
    let now = Instant::now();
    let mut writer = Writer {
        label: format!(
            "app={} stream={} conn_id={}",
            request.app, request.stream, request.conn_id
        ),
        app: request.app,
        stream: request.stream,
        segmenter: Segmenter::new(rules),
        file: None,
        buf: Vec::with_capacity(1024),
        last_flush: now,
        last_refresh: now,
        last_disk_check: now,
        low_disk: false,
        retry_at: None,
        status: request.status,
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
                RecordMsg::Resume { conn_id } => {
                    writer.label = format!("app={} stream={} conn_id={conn_id}", writer.app, writer.stream);
                    writer.segmenter.resume();
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
        writer.segmenter.next_index().saturating_sub(1),
        writer.segmenter.skipped
    );
}

impl Writer {
    fn on_frame(&mut self, frame: &Frame) {
        let (decision, jump) = self.segmenter.push(frame);
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
        if self.file.is_none() {
            return;
        }
        self.buf.clear();
        let trailer = match self.segmenter.write_split(frame, &mut self.buf) {
            Ok(Some(trailer)) => trailer,
            Ok(None) => return,
            Err(e) => {
                warn!("frame not recorded {} error=\"{e}\"", self.label);
                return;
            }
        };
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let sink = &mut file.sink;
        let staged = sink
            .append(&self.buf)
            .and_then(|()| sink.append(&frame.payload))
            .and_then(|()| sink.append(&trailer));
        match staged {
            Ok(()) => self.status.flushed(sink.written()),
            Err(e) => self.fail(e),
        }
    }

    /// Hands everything staged to the kernel (a failure ends the file).
    fn flush(&mut self) {
        self.last_flush = Instant::now();
        let Some(file) = self.file.as_mut() else {
            return;
        };
        match file.sink.flush() {
            Ok(()) => self.status.flushed(file.sink.written()),
            Err(e) => self.fail(e),
        }
    }

    /// Whether the open file was deleted under the writer (e.g. `rm -rf` of the record
    /// dir): then it is dropped, logged, and the next start point opens a new file (the
    /// directory is recreated) instead of recording into a deleted file until the end.
    fn file_removed(&mut self) -> bool {
        let removed = self
            .file
            .as_ref()
            .and_then(|f| f.sink.file().metadata().ok())
            .is_some_and(|m| m.nlink() == 0);
        if !removed {
            return false;
        }
        if let Some(file) = self.file.take() {
            self.status.closed();
            self.shared.counters.closed(false);
            self.segmenter.close();
            warn!("recording file removed {} file={}", self.label, file.part.display());
        }
        true
    }

    fn on_tick(&mut self, now: Instant) {
        if now.duration_since(self.last_flush) >= FLUSH_INTERVAL {
            self.flush();
        }
        if self.file.is_some() && now.duration_since(self.last_disk_check) >= DISK_CHECK_INTERVAL {
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
        if self.file.is_some() && refresh_due {
            self.last_refresh = now;
            if let Err(e) = self.refresh_metadata() {
                self.fail(e);
            }
        }
    }

    /// Rewrites onMetaData and the header flags in place.
    fn refresh_metadata(&mut self) -> io::Result<()> {
        let (Some(file), Some(segment)) = (self.file.as_mut(), self.segmenter.segment()) else {
            return Ok(());
        };
        patch(&mut file.sink, segment)
    }

    /// Opens the next file if the disk guard and the retry timer allow it.
    fn open_file(&mut self) -> bool {
        let now = Instant::now();
        if self.retry_at.is_some_and(|at| now < at) {
            return false;
        }
        if self.low_disk && now.duration_since(self.last_disk_check) < DISK_CHECK_INTERVAL {
            return false;
        }
        self.last_disk_check = now;
        let min_free = self.shared.options.min_free;
        if let Err(free) = disk::has_room(&self.shared.dir, min_free) {
            if !self.low_disk {
                warn!(
                    "recording paused, disk space low {} free_bytes={free} min_free={min_free}",
                    self.label
                );
                self.low_disk = true;
            }
            return false;
        }
        if self.low_disk {
            info!("recording resumes, disk space back {}", self.label);
            self.low_disk = false;
        }
        let index = self.segmenter.next_index();
        let at = naming::local_time(std::time::SystemTime::now(), self.shared.local_offset);
        let relative = self
            .shared
            .options
            .path_template
            .render(&self.app, &self.stream, at, index);
        let (part, file) = match naming::create_part(&self.shared.dir, &relative) {
            Ok(created) => created,
            Err(e) => {
                self.shared.counters.ended(false);
                error!(
                    "recording failed to start {} dir={} error=\"{e}\"",
                    self.label,
                    self.shared.dir.display()
                );
                self.shared.events.emit(Event::RecordingFailed {
                    name: StreamName::new(&self.app, &self.stream),
                    path: None,
                    error: e.to_string(),
                });
                self.retry_at = Some(now + RETRY_AFTER_ERROR);
                return false;
            }
        };
        info!(
            "recording started {} file={} segment={index}",
            self.label,
            part.display()
        );
        self.shared.events.emit(Event::RecordingStarted {
            name: StreamName::new(&self.app, &self.stream),
            path: part.clone(),
        });
        self.buf.clear();
        if let Err(e) = self.segmenter.open(&mut self.buf) {
            warn!("recording header not built {} error=\"{e}\"", self.label);
        }
        let mut sink = FileSink::new(file, &part);
        let written = sink.append(&self.buf);
        self.shared.counters.opened();
        self.status.opened(part.clone());
        self.file = Some(OpenFile {
            part,
            sink,
            opened: now,
        });
        self.last_refresh = now;
        match written {
            Ok(()) => true,
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Finalizes the open file: flush, patch onMetaData and flags, fsync, rename.
    fn close_file(&mut self) {
        self.flush();
        let Some(file) = self.file.take() else {
            return;
        };
        self.status.closed();
        let Some(segment) = self.segmenter.close() else {
            self.shared.counters.closed(false);
            return;
        };
        let OpenFile { part, mut sink, opened } = file;
        let synced = patch(&mut sink, &segment).and_then(|()| sink.file().sync_all());
        if let Err(e) = synced {
            error!(
                "recording stopped by I/O error {} file={} bytes={} tags={} error=\"{e}\"",
                self.label,
                part.display(),
                segment.bytes(),
                segment.tags
            );
            self.shared.counters.closed(false);
            self.salvage(part);
            return;
        }
        let renamed = naming::finalize_part(&part);
        self.shared.counters.closed(renamed.is_ok());
        match renamed {
            Ok(done) => self.finished(done, segment.bytes(), segment.tags, segment.duration_ms(), opened),
            Err(e) => error!(
                "recording not renamed {} file={} error=\"{e}\"",
                self.label,
                part.display()
            ),
        }
    }

    fn finished(&self, path: PathBuf, bytes: u64, tags: u64, duration_ms: u32, opened: Instant) {
        info!(
            "recorder closed {} file={} bytes={bytes} tags={tags} duration_ms={duration_ms} wall_s={:.1}",
            self.label,
            path.display(),
            opened.elapsed().as_secs_f64()
        );
        self.shared.after_finalize(FinishedFile {
            path,
            app: self.app.clone(),
            stream: self.stream.clone(),
            duration_ms,
            bytes,
        });
    }

    /// A write failed: keep what reached the disk (repair cuts a torn tail), retry later.
    fn fail(&mut self, e: io::Error) {
        let Some(file) = self.file.take() else {
            return;
        };
        self.status.closed();
        self.shared.counters.closed(false);
        self.segmenter.close();
        self.retry_at = Some(Instant::now() + RETRY_AFTER_ERROR);
        error!(
            "recording stopped by I/O error {} file={} error=\"{e}\"",
            self.label,
            file.part.display()
        );
        self.shared.events.emit(Event::RecordingFailed {
            name: StreamName::new(&self.app, &self.stream),
            path: Some(file.part.clone()),
            error: e.to_string(),
        });
        // Whatever is still staged is lost with the failing disk; drop without retrying.
        let OpenFile { part, sink, .. } = file;
        drop(sink);
        self.salvage(part);
    }

    fn salvage(&mut self, part: PathBuf) {
        self.retry_at = Some(Instant::now() + RETRY_AFTER_ERROR);
        match repair_and_finalize(&part) {
            Ok((report, done)) => self.finished(done, report.bytes, report.tags, report.duration_ms, Instant::now()),
            Err(e) => error!(
                "recording not salvaged {} file={} error=\"{e}\"",
                self.label,
                part.display()
            ),
        }
    }
}

/// Writes the segment's onMetaData body and header flags at their reserved places (after
/// handing the kernel everything staged, so the patched statistics match the file).
fn patch(sink: &mut FileSink, segment: &Segment) -> io::Result<()> {
    sink.write_at(&segment.metadata_body(), METADATA_BODY_OFFSET)?;
    sink.write_at(&[segment.flags()], FLAGS_OFFSET)
}
