//! The transfer of one queued file: a single PUT up to the part size, else a multipart
//! upload whose parts go in parallel (up to the concurrency) and are recorded in the job's
//! journal file as the store confirms them; then the object is checked (size and ETag)
//! before it counts as uploaded.

use super::journal::{self, Job, Multipart};
use super::options::{load_credentials, object_key, UploadOptions};
use super::plan;
use super::s3::{Client, S3Error};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

/// Why a transfer failed.
#[derive(Debug)]
pub enum TransferError {
    /// The local file is gone: nothing to upload (the job is dropped).
    Missing,
    /// The local file could not be read.
    Io(std::io::Error),
    Credentials(super::options::CredentialsError),
    S3(S3Error),
}

impl TransferError {
    pub fn kind(&self) -> &'static str {
        match self {
            TransferError::Missing => "missing",
            TransferError::Io(_) => "io",
            TransferError::Credentials(_) => "credentials",
            TransferError::S3(e) => e.kind(),
        }
    }
}

impl std::fmt::Display for TransferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransferError::Missing => f.write_str("the local file is gone"),
            TransferError::Io(e) => write!(f, "reading the file: {e}"),
            TransferError::Credentials(e) => write!(f, "{e}"),
            TransferError::S3(e) => write!(f, "{e}"),
        }
    }
}

impl From<S3Error> for TransferError {
    fn from(e: S3Error) -> Self {
        TransferError::S3(e)
    }
}

/// What was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    pub bytes: u64,
    pub etag: String,
}

/// A client for `options` with the credentials in force now.
pub fn client(options: &UploadOptions) -> Result<Client, TransferError> {
    let credentials = load_credentials(options.credentials_file.as_deref()).map_err(TransferError::Credentials)?;
    Ok(Client::new(options, &credentials)?)
}

/// Told of the job after each change of its multipart state (for the API).
pub type Progress<'a> = &'a (dyn Fn(&Job) + Sync);

/// What the parts of one multipart upload share.
struct Upload<'a> {
    client: &'a Client,
    file: &'a std::fs::File,
    key: &'a str,
    queue_dir: &'a Path,
    progress: Progress<'a>,
}

/// Uploads `job`'s file; `job` (saved to `queue_dir` on each change, then given to
/// `progress`) carries the multipart state across attempts and restarts.
pub fn transfer(
    record_dir: &Path,
    queue_dir: &Path,
    job: &mut Job,
    options: &UploadOptions,
    progress: Progress<'_>,
) -> Result<Stored, TransferError> {
    let client = client(options)?;
    let key = object_key(&options.target.prefix, &job.path);
    // A small signed GET first: a wrong key or a missing bucket is told as such (a store may
    // refuse a PUT before reading its body, which the client sees as a broken pipe).
    client.list_uploads(&key)?;
    let file = match std::fs::File::open(record_dir.join(&job.path)) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(TransferError::Missing),
        Err(e) => return Err(TransferError::Io(e)),
    };
    let bytes = file.metadata().map_err(TransferError::Io)?.len();
    if job.multipart.is_none() && !plan::is_multipart(bytes, options.part_size) {
        let mut data = Vec::with_capacity(usize::try_from(bytes).unwrap_or(0));
        std::io::Read::read_to_end(&mut &file, &mut data).map_err(TransferError::Io)?;
        client.put(&key, &data)?;
        return verify(&client, &key, bytes, &plan::md5_hex(&data));
    }
    let upload = Upload {
        client: &client,
        file: &file,
        key: &key,
        queue_dir,
        progress,
    };
    let result = multipart(&upload, bytes, job, options);
    if let Err(TransferError::S3(e)) = &result {
        if e.kind() == "no_upload" {
            // The store forgot the upload (aborted elsewhere, expired): start it again.
            job.multipart = None;
            let _ = journal::save(queue_dir, job);
        }
    }
    result
}

fn multipart(upload: &Upload<'_>, bytes: u64, job: &mut Job, options: &UploadOptions) -> Result<Stored, TransferError> {
    let (client, key) = (upload.client, upload.key);
    let part_size = plan::effective_part_size(bytes, options.part_size);
    let parts = plan::parts(bytes, part_size);
    let reusable = job
        .multipart
        .as_ref()
        .is_some_and(|m| m.part_size == part_size && m.parts.iter().all(|(n, _)| usize::from(*n) <= parts.len()));
    if !reusable {
        if let Some(old) = job.multipart.take() {
            let _ = client.abort(key, &old.upload_id);
        }
        let upload_id = client.create_multipart(key)?;
        job.multipart = Some(Multipart {
            upload_id,
            part_size,
            parts: Vec::new(),
        });
        journal::save(upload.queue_dir, job).map_err(TransferError::Io)?;
        (upload.progress)(job);
    }
    let Some(state) = job.multipart.clone() else {
        return Err(TransferError::Io(std::io::Error::other("multipart state lost")));
    };
    let todo: Vec<plan::Part> = parts
        .iter()
        .filter(|p| !state.parts.iter().any(|(n, _)| *n == p.number))
        .copied()
        .collect();
    let shared = Mutex::new((job.clone(), todo.into_iter(), None::<TransferError>));
    let workers = options.concurrency.max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| part_worker(upload, &state.upload_id, &shared));
        }
    });
    let (done, _, error) = shared.into_inner().unwrap_or_else(|e| e.into_inner());
    *job = done;
    if let Some(error) = error {
        return Err(error);
    }
    let confirmed = job.multipart.as_ref().map(|m| m.parts.clone()).unwrap_or_default();
    let etags: Vec<String> = confirmed.iter().map(|(_, etag)| etag.clone()).collect();
    let numbered = confirmed.iter().enumerate().all(|(i, (n, _))| usize::from(*n) == i + 1);
    if etags.len() != parts.len() || !numbered {
        return Err(TransferError::S3(S3Error::Verify(format!(
            "{} of {} parts confirmed",
            etags.len(),
            parts.len()
        ))));
    }
    client.complete(key, &state.upload_id, &etags)?;
    let expected = plan::multipart_etag(&etags).unwrap_or_default();
    verify(client, key, bytes, &expected)
}

/// One of the parallel part senders: takes the next part, sends it, records its ETag.
fn part_worker(
    upload: &Upload<'_>,
    upload_id: &str,
    shared: &Mutex<(Job, std::vec::IntoIter<plan::Part>, Option<TransferError>)>,
) {
    loop {
        let part = {
            let mut guard = shared.lock().unwrap_or_else(|e| e.into_inner());
            if guard.2.is_some() {
                return;
            }
            match guard.1.next() {
                Some(part) => part,
                None => return,
            }
        };
        let result = send_part(upload.client, upload.file, upload.key, upload_id, part);
        let mut guard = shared.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(etag) => {
                let (job, _, error) = &mut *guard;
                if let Some(m) = job.multipart.as_mut() {
                    m.parts.push((part.number, etag));
                    m.parts.sort();
                }
                match journal::save(upload.queue_dir, job) {
                    Ok(()) => (upload.progress)(job),
                    Err(e) => {
                        error.get_or_insert(TransferError::Io(e));
                    }
                }
            }
            Err(e) => {
                guard.2.get_or_insert(e);
                return;
            }
        }
    }
}

fn send_part(
    client: &Client,
    file: &std::fs::File,
    key: &str,
    upload_id: &str,
    part: plan::Part,
) -> Result<String, TransferError> {
    let mut data = vec![0u8; usize::try_from(part.len).unwrap_or(0)];
    file.read_exact_at(&mut data, part.offset).map_err(TransferError::Io)?;
    let etag = client.upload_part(key, upload_id, part.number, &data)?;
    if plan::bare_etag(&etag) != plan::md5_hex(&data) {
        return Err(TransferError::S3(S3Error::Verify(format!(
            "part {} ETag {etag} is not its MD5",
            part.number
        ))));
    }
    Ok(etag)
}

/// HEADs the object: its size must be `bytes` and its ETag `etag` (when the store gives an
/// MD5-style one).
fn verify(client: &Client, key: &str, bytes: u64, etag: &str) -> Result<Stored, TransferError> {
    let info = client.head(key)?;
    if info.bytes != bytes {
        return Err(TransferError::S3(S3Error::Verify(format!(
            "stored {} bytes, sent {bytes}",
            info.bytes
        ))));
    }
    if plan::bare_etag(&info.etag) != etag {
        return Err(TransferError::S3(S3Error::Verify(format!(
            "stored ETag {} , expected {etag}",
            info.etag
        ))));
    }
    Ok(Stored {
        key: key.to_owned(),
        bytes,
        etag: plan::bare_etag(&info.etag),
    })
}
