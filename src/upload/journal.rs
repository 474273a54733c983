//! The durable upload queue: one small text file per queued recording in
//! `RECORD_DIR/.upload-queue/`, written atomically (temp file, fsync, rename, fsync of the
//! folder), removed once the object is confirmed. A multipart upload in flight records its
//! upload id and each confirmed part there, so a restart resumes it. `encode`/`decode` are pure.

use std::path::{Path, PathBuf};

/// The queue's folder under the record dir (hidden: retention and the API skip it).
pub const QUEUE_DIR: &str = ".upload-queue";
const EXT: &str = "job";

/// A multipart upload in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    pub upload_id: String,
    pub part_size: u64,
    /// Confirmed parts: number and ETag, ascending.
    pub parts: Vec<(u16, String)>,
}

/// One queued recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Unique and ascending in queue order (the file's name).
    pub id: u64,
    /// The file, relative to the record dir.
    pub path: PathBuf,
    /// The stream, when known (empty for files finalized by start-up repair).
    pub app: String,
    pub stream: String,
    pub bytes: u64,
    /// When it was queued, seconds since the epoch.
    pub queued_at: u64,
    pub multipart: Option<Multipart>,
}

/// Why a job file could not be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    Missing(&'static str),
    Bad(&'static str),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Missing(key) => write!(f, "missing {key}"),
            DecodeError::Bad(key) => write!(f, "bad {key}"),
        }
    }
}

/// The job as text (`key=value` lines; a path with a line break cannot be queued).
pub fn encode(job: &Job) -> Option<String> {
    let path = job.path.to_str().filter(|p| !p.contains(['\n', '\r']))?;
    let clean = |s: &str| s.replace(['\n', '\r'], "");
    let mut text = format!(
        "path={path}\napp={}\nstream={}\nbytes={}\nqueued={}\n",
        clean(&job.app),
        clean(&job.stream),
        job.bytes,
        job.queued_at
    );
    if let Some(m) = &job.multipart {
        text.push_str(&format!(
            "upload_id={}\npart_size={}\n",
            clean(&m.upload_id),
            m.part_size
        ));
        for (n, etag) in &m.parts {
            text.push_str(&format!("part={n} {}\n", clean(etag)));
        }
    }
    Some(text)
}

/// Reads a job back from its text and id.
pub fn decode(id: u64, text: &str) -> Result<Job, DecodeError> {
    let mut job = Job {
        id,
        path: PathBuf::new(),
        app: String::new(),
        stream: String::new(),
        bytes: 0,
        queued_at: 0,
        multipart: None,
    };
    let (mut path, mut bytes, mut upload_id, mut part_size) = (None, None, None, None);
    let mut parts = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "path" => path = Some(PathBuf::from(value)),
            "app" => job.app = value.to_owned(),
            "stream" => job.stream = value.to_owned(),
            "bytes" => bytes = Some(value.parse().map_err(|_| DecodeError::Bad("bytes"))?),
            "queued" => job.queued_at = value.parse().map_err(|_| DecodeError::Bad("queued"))?,
            "upload_id" => upload_id = Some(value.to_owned()),
            "part_size" => part_size = Some(value.parse().map_err(|_| DecodeError::Bad("part_size"))?),
            "part" => {
                let (n, etag) = value.split_once(' ').ok_or(DecodeError::Bad("part"))?;
                parts.push((n.parse().map_err(|_| DecodeError::Bad("part"))?, etag.to_owned()));
            }
            _ => {}
        }
    }
    job.path = path.ok_or(DecodeError::Missing("path"))?;
    job.bytes = bytes.ok_or(DecodeError::Missing("bytes"))?;
    if let (Some(upload_id), Some(part_size)) = (upload_id, part_size) {
        parts.sort();
        parts.dedup_by_key(|(n, _)| *n);
        job.multipart = Some(Multipart {
            upload_id,
            part_size,
            parts,
        });
    }
    Ok(job)
}

/// The queue folder of a record dir.
pub fn queue_dir(record_dir: &Path) -> PathBuf {
    record_dir.join(QUEUE_DIR)
}

fn job_file(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.{EXT}"))
}

/// Writes `job` atomically (the previous version or the new one survives a crash).
pub fn save(dir: &Path, job: &Job) -> std::io::Result<()> {
    use std::io::Write;
    let text = encode(job).ok_or_else(|| std::io::Error::other("path not queueable"))?;
    std::fs::create_dir_all(dir)?;
    let target = job_file(dir, job.id);
    let tmp = dir.join(format!("{:020}.tmp", job.id));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, &target)?;
    sync_dir(dir);
    Ok(())
}

/// Removes a job (its object is confirmed, or its file is gone).
pub fn remove(dir: &Path, id: u64) -> std::io::Result<()> {
    match std::fs::remove_file(job_file(dir, id)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => {
            sync_dir(dir);
            Ok(())
        }
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
}

/// Every job in `dir`, in queue order; unreadable files are returned as (file, error) and
/// left in place. Leftover temp files are removed.
pub fn load(dir: &Path) -> (Vec<Job>, Vec<(PathBuf, String)>) {
    let (mut jobs, mut errors) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (jobs, errors);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ext = path.extension().and_then(|e| e.to_str());
        if ext == Some("tmp") {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u64>().ok());
        let (Some(EXT), Some(id)) = (ext, id) else {
            continue;
        };
        match std::fs::read_to_string(&path).map_err(|e| e.to_string()) {
            Ok(text) => match decode(id, &text) {
                Ok(job) => jobs.push(job),
                Err(e) => errors.push((path, e.to_string())),
            },
            Err(e) => errors.push((path, e)),
        }
    }
    jobs.sort_by_key(|j| j.id);
    (jobs, errors)
}

/// A new job id after every id in `existing`: microseconds since the epoch, made unique.
pub fn next_id(last: u64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    now.max(last.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_through_text_and_files() {
        let mut job = Job {
            id: 7,
            path: PathBuf::from("live/cam=1.flv"),
            app: "live".into(),
            stream: "cam".into(),
            bytes: 42,
            queued_at: 1000,
            multipart: None,
        };
        assert_eq!(decode(7, &encode(&job).unwrap()).unwrap(), job);
        job.multipart = Some(Multipart {
            upload_id: "abc".into(),
            part_size: 10,
            parts: vec![(1, "\"e1\"".into()), (2, "\"e2\"".into())],
        });
        assert_eq!(decode(7, &encode(&job).unwrap()).unwrap(), job);
        assert_eq!(decode(1, "app=x\n"), Err(DecodeError::Missing("path")));
        let dir = std::env::temp_dir().join(format!("rtmp-upload-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        save(&dir, &job).unwrap();
        std::fs::write(dir.join("x.tmp"), "torn").unwrap();
        let (jobs, errors) = load(&dir);
        assert_eq!((jobs, errors.len()), (vec![job], 0));
        assert!(!dir.join("x.tmp").exists());
        remove(&dir, 7).unwrap();
        assert!(load(&dir).0.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(next_id(u64::MAX - 1) == u64::MAX && next_id(5) > 5);
    }
}
