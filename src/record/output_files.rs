//! The writer's file life cycle, per sink: open (disk guard, retry timer, `.part` name from
//! the template and the muxer's extension, the muxer's header), finalize (the muxer's last
//! in-place rewrites, fsync, rename), and on an I/O error salvage (repair, rename) and retry
//! later.

use super::{OpenFile, Writer, DISK_CHECK_INTERVAL, RETRY_AFTER_ERROR};
use crate::events::{Event, StreamName};
use crate::record::disk;
use crate::record::hook::FinishedFile;
use crate::record::muxer::MuxError;
use crate::record::muxer::Patch;
use crate::record::naming;
use crate::record::recover::repair_and_finalize;
use crate::record::sink::FileSink;
use log::{error, info, warn};
use std::io;
use std::path::PathBuf;
use std::time::Instant;

impl Writer {
    /// Opens the next file of every sink if the disk guard and the retry timer allow it;
    /// whether one opened.
    pub(super) fn open_file(&mut self) -> bool {
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
        let index = self.planner.next_index();
        let at = naming::local_time(std::time::SystemTime::now(), self.shared.local_offset);
        let relative = self.options.path_template.render(&self.app, &self.stream, at, index);
        let mut created = Vec::new();
        let mut unsupported = Vec::new();
        for (i, sink) in self.sinks.iter().enumerate() {
            match naming::create_part(&self.shared.dir, &relative, sink.muxer.extension()) {
                Ok((part, file)) => created.push((i, part, file)),
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
                }
            }
        }
        if created.is_empty() {
            return false;
        }
        self.planner.open();
        let data = self.planner.take_held_data();
        for (i, part, file) in created {
            info!(
                "recording started {} file={} segment={index}",
                self.label,
                part.display()
            );
            self.shared.events.emit(Event::RecordingStarted {
                name: StreamName::new(&self.app, &self.stream),
                path: part.clone(),
            });
            let Some(sink) = self.sinks.get_mut(i) else {
                continue;
            };
            self.buf.clear();
            match sink.muxer.open(&self.planner.headers(), &data, &mut self.buf) {
                Ok(()) => {}
                Err(e @ MuxError::Unsupported(_)) => {
                    // Not this format's stream: no file (`drop_sink` logs it once).
                    drop(file);
                    let _ = std::fs::remove_file(&part);
                    unsupported.push((i, e));
                    continue;
                }
                Err(e) => warn!("recording header not built {} error=\"{e}\"", self.label),
            }
            let mut file_sink = FileSink::new(file, &part);
            let written = file_sink.append(&self.buf);
            self.shared.counters.opened();
            if i == 0 {
                self.status.opened(part.clone());
            }
            sink.file = Some(OpenFile {
                part,
                sink: file_sink,
                opened: now,
            });
            self.last_refresh = now;
            if let Err(e) = written {
                self.fail(i, e);
            }
        }
        for (i, e) in unsupported.into_iter().rev() {
            self.drop_sink(i, e);
        }
        self.any_open()
    }

    /// Finalizes every open file: flush, the muxer's final in-place rewrites, fsync, rename.
    pub(super) fn close_file(&mut self) {
        for i in 0..self.sinks.len() {
            let Some((muxer, file)) = super::open_sink(&mut self.sinks, i) else {
                continue;
            };
            self.buf.clear();
            if let Err(e) = muxer.drain(&mut self.buf) {
                warn!("held frames not recorded {} error=\"{e}\"", self.label);
            }
            if let Err(e) = file.sink.append(&self.buf) {
                self.fail(i, e);
            }
        }
        self.flush();
        for i in 0..self.sinks.len() {
            let Some(sink) = self.sinks.get_mut(i) else {
                continue;
            };
            let Some(file) = sink.file.take() else {
                continue;
            };
            if i == 0 {
                self.status.closed();
            }
            let extension = sink.muxer.extension();
            let Some((patches, summary)) = sink.muxer.finalize() else {
                self.shared.counters.closed(false);
                continue;
            };
            let OpenFile { part, mut sink, opened } = file;
            let synced = patch(&mut sink, &patches).and_then(|()| sink.file().sync_all());
            if let Err(e) = synced {
                error!(
                    "recording stopped by I/O error {} file={} bytes={} tags={} error=\"{e}\"",
                    self.label,
                    part.display(),
                    summary.bytes,
                    summary.frames
                );
                self.shared.counters.closed(false);
                self.salvage(part);
                continue;
            }
            let renamed = naming::finalize_part(&part, extension);
            self.shared.counters.closed(renamed.is_ok());
            match renamed {
                Ok(done) => self.finished(done, summary.bytes, summary.frames, summary.duration_ms, opened),
                Err(e) => error!(
                    "recording not renamed {} file={} error=\"{e}\"",
                    self.label,
                    part.display()
                ),
            }
        }
        self.planner.close();
    }

    pub(super) fn finished(&self, path: PathBuf, bytes: u64, tags: u64, duration_ms: u32, opened: Instant) {
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
            program: None,
            publisher: self.publisher.clone(),
        });
    }

    /// A write to sink `i` failed: keep what reached the disk (repair cuts a torn tail),
    /// retry later.
    pub(super) fn fail(&mut self, i: usize, e: io::Error) {
        let Some(sink) = self.sinks.get_mut(i) else {
            return;
        };
        let Some(file) = sink.file.take() else {
            return;
        };
        sink.muxer.abandon();
        if i == 0 {
            self.status.closed();
        }
        self.shared.counters.closed(false);
        if !self.any_open() {
            self.planner.close();
        }
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

    pub(super) fn salvage(&mut self, part: PathBuf) {
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

/// Writes a muxer's in-place rewrites (after handing the kernel everything staged, so the
/// patched statistics match the file).
pub(super) fn patch(sink: &mut FileSink, patches: &[Patch]) -> io::Result<()> {
    for (offset, bytes) in patches {
        sink.write_at(bytes, *offset)?;
    }
    Ok(())
}
