//! The recorder: a handle the connection thread feeds frames through a bounded channel, and
//! the writer thread that owns the FLV file. The connection never blocks on disk: when the
//! writer falls behind by more than the byte budget, frames are dropped (logged) until the
//! next keyframe. Dropping the handle finalizes the file: drain, flush, fix header flags,
//! fsync, close.

use super::naming;
use super::writer::FlvRecording;
use crate::media::{Frame, FrameKind};
use crate::threads::ThreadTracker;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use log::{error, info, warn};
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Most frames waiting in one recorder's channel (the byte budget usually binds first).
pub const RECORD_QUEUE_FRAMES: usize = 16 * 1024;
/// Written data reaches the OS at least this often.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// Buffer between the writer and the file.
pub const FILE_BUFFER_SIZE: usize = 256 * 1024;

/// What a recording is of and where it goes.
#[derive(Debug, Clone)]
pub struct RecordingRequest {
    pub dir: PathBuf,
    pub app: String,
    pub stream: String,
    pub conn_id: u64,
    /// Wall-clock start, in the server's local offset; names the file.
    pub started_at: OffsetDateTime,
}

/// The connection thread's side of a recording.
#[derive(Debug)]
pub struct Recorder {
    sender: Sender<Frame>,
    queued_bytes: Arc<AtomicUsize>,
    budget: usize,
    dropping: bool,
    dropped: u64,
    has_video: bool,
    label: String,
}

impl Recorder {
    /// Starts the writer thread; the file is opened there, so a slow or broken disk never
    /// stalls the caller. `budget` bounds the bytes queued for the writer.
    pub fn start(request: RecordingRequest, budget: usize, tracker: &ThreadTracker) -> io::Result<Recorder> {
        let (sender, receiver) = crossbeam_channel::bounded(RECORD_QUEUE_FRAMES);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let label = format!(
            "app={} stream={} conn_id={}",
            request.app, request.stream, request.conn_id
        );
        let queued = Arc::clone(&queued_bytes);
        let name = format!("rec-{}", request.conn_id);
        tracker.spawn(name, move || write_recording(request, receiver, queued))?;
        Ok(Recorder {
            sender,
            queued_bytes,
            budget,
            dropping: false,
            dropped: 0,
            has_video: false,
            label,
        })
    }

    /// Queues a frame. Returns false once the writer has stopped (I/O error): the caller
    /// should drop the recorder; ingest goes on.
    pub fn send(&mut self, frame: &Frame) -> bool {
        self.has_video |= frame.kind == FrameKind::Video;
        let queued = self.queued_bytes.load(Ordering::Relaxed);
        if self.dropping {
            let can_resume = queued <= self.budget / 2 && self.is_resume_point(frame);
            if !can_resume && !frame.sequence_header {
                self.dropped += 1;
                return true;
            }
            if can_resume {
                warn!("recording resumed {} dropped_frames={}", self.label, self.dropped);
                self.dropping = false;
            }
        } else if queued.saturating_add(frame.len()) > self.budget && !frame.sequence_header {
            warn!(
                "recording falls behind the disk, dropping frames until a keyframe {} queued_bytes={queued}",
                self.label
            );
            self.dropping = true;
            self.dropped += 1;
            return true;
        }
        self.queued_bytes.fetch_add(frame.len(), Ordering::Relaxed);
        match self.sender.try_send(frame.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
                self.dropping = true;
                self.dropped += 1;
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn is_resume_point(&self, frame: &Frame) -> bool {
        if self.has_video {
            frame.kind == FrameKind::Video && frame.keyframe
        } else {
            frame.kind == FrameKind::Audio
        }
    }
}

/// The writer thread: opens the file, writes every frame as a whole tag, flushes at least
/// every FLUSH_INTERVAL, and finalizes when the channel closes.
fn write_recording(request: RecordingRequest, receiver: Receiver<Frame>, queued: Arc<AtomicUsize>) {
    let label = format!(
        "app={} stream={} conn_id={}",
        request.app, request.stream, request.conn_id
    );
    let stem = naming::file_stem(&request.app, &request.stream, request.started_at);
    let opened = std::fs::create_dir_all(&request.dir).and_then(|()| naming::create_unique(&request.dir, &stem));
    let (path, file) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            error!(
                "recording failed to start {label} dir={} error=\"{e}\"",
                request.dir.display()
            );
            return;
        }
    };
    info!("recording started {label} file={}", path.display());
    let started = Instant::now();
    let mut recording = FlvRecording::new();
    let mut out = BufWriter::with_capacity(FILE_BUFFER_SIZE, file);
    let result = pump(&mut recording, &mut out, &receiver, &queued);
    drop(receiver);
    let finalized = result.and_then(|()| finalize(out, &recording));
    let duration_ms = recording.last_timestamp;
    match finalized {
        Ok(()) => info!(
            "recorder closed {label} file={} bytes={} tags={} duration_ms={duration_ms} wall_s={:.1}",
            path.display(),
            recording.bytes,
            recording.tags,
            started.elapsed().as_secs_f64()
        ),
        Err(e) => error!(
            "recording stopped by I/O error {label} file={} bytes={} tags={} error=\"{e}\"",
            path.display(),
            recording.bytes,
            recording.tags
        ),
    }
}

fn pump(
    recording: &mut FlvRecording,
    out: &mut BufWriter<File>,
    receiver: &Receiver<Frame>,
    queued: &AtomicUsize,
) -> io::Result<()> {
    out.write_all(&recording.header())?;
    let mut tag = Vec::with_capacity(64 * 1024);
    let mut last_flush = Instant::now();
    loop {
        match receiver.recv_timeout(FLUSH_INTERVAL) {
            Ok(frame) => {
                queued.fetch_sub(frame.len(), Ordering::Relaxed);
                tag.clear();
                recording
                    .push(&frame, &mut tag)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                out.write_all(&tag)?;
                if last_flush.elapsed() >= FLUSH_INTERVAL {
                    out.flush()?;
                    last_flush = Instant::now();
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                out.flush()?;
                last_flush = Instant::now();
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

/// Flushes, writes the header flags that match the file's streams, fsyncs and closes.
fn finalize(out: BufWriter<File>, recording: &FlvRecording) -> io::Result<()> {
    let mut file = out.into_inner().map_err(|e| e.into_error())?;
    file.seek(SeekFrom::Start(crate::flv::FLAGS_OFFSET))?;
    file.write_all(&[recording.final_flags()])?;
    file.sync_all()
}
