//! One run of the `--on-record-done` program: finding it as execvp does (checked at
//! start-up), starting it for a finished file (no shell, stdin from /dev/null, its own process
//! group), logging each line of its stdout/stderr prefixed with the file (the query it was
//! given, which may carry the client's key, and its values shown as `***`), and killing the
//! whole group when it outlives its timeout.

use crate::events::Publisher;
use log::{info, warn};
use std::ffi::OsStr;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a finished recording file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedFile {
    pub path: PathBuf,
    pub app: String,
    pub stream: String,
    pub duration_ms: u32,
    pub bytes: u64,
    /// The program to run for it (its stream's policy); None: the runner's own.
    pub program: Option<PathBuf>,
    /// The (latest) publisher of the recording.
    pub publisher: Publisher,
}

/// A running hook is checked for exit this often (std has no wait with a timeout).
pub const HOOK_POLL: Duration = Duration::from_millis(50);
/// Longest line of hook output logged as one line (bytes); a longer one is logged in pieces.
pub const MAX_HOOK_LINE: usize = 4096;
/// Most output lines logged per hook run; the rest is read (so the hook never blocks on a
/// full pipe) and dropped, and how many were dropped is logged.
pub const MAX_HOOK_LOG_LINES: usize = 1000;
/// After the hook exits, its output is awaited this long (a background process it started
/// may hold the pipe open; its output is then still logged, just not waited for).
pub const HOOK_OUTPUT_DRAIN: Duration = Duration::from_secs(2);
/// The search path execvp uses when PATH is unset.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Why the `--on-record-done` program cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookProgramError {
    /// A name without '/' found in no PATH folder.
    NotInPath(PathBuf),
    /// A path that does not exist.
    Missing(PathBuf),
    /// Found, but not a regular file with execute permission.
    NotExecutable(PathBuf),
}

impl fmt::Display for HookProgramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookProgramError::NotInPath(name) => write!(f, "{} not found in PATH", name.display()),
            HookProgramError::Missing(path) => write!(f, "{} does not exist", path.display()),
            HookProgramError::NotExecutable(path) => {
                write!(f, "{} is not an executable file", path.display())
            }
        }
    }
}

impl std::error::Error for HookProgramError {}

/// The program execvp would run for `program` with this PATH: a name with '/' as it is, else
/// the first executable `DIR/name` in PATH (an empty entry is the current folder).
pub fn resolve(program: &Path, path_var: Option<&OsStr>) -> Result<PathBuf, HookProgramError> {
    let bytes = program.as_os_str().as_bytes();
    if bytes.contains(&b'/') {
        return match std::fs::metadata(program) {
            Err(_) => Err(HookProgramError::Missing(program.to_path_buf())),
            Ok(_) if is_executable(program) => Ok(program.to_path_buf()),
            Ok(_) => Err(HookProgramError::NotExecutable(program.to_path_buf())),
        };
    }
    let search = path_var.unwrap_or(OsStr::new(DEFAULT_PATH)).as_bytes();
    let mut not_executable = None;
    if !bytes.is_empty() {
        for folder in search.split(|b| *b == b':') {
            let folder = if folder.is_empty() { b".".as_slice() } else { folder };
            let candidate = Path::new(OsStr::from_bytes(folder)).join(program);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
            if not_executable.is_none() && candidate.exists() {
                not_executable = Some(candidate);
            }
        }
    }
    Err(not_executable
        .map(HookProgramError::NotExecutable)
        .unwrap_or_else(|| HookProgramError::NotInPath(program.to_path_buf())))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file()) && rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok()
}

/// How one hook run ended.
#[derive(Debug)]
pub enum HookOutcome {
    Exited(ExitStatus),
    /// Still running at its timeout: its process group was killed.
    TimedOut,
    WaitFailed(std::io::Error),
}

/// Starts `program` for `file` (not waiting for it).
pub fn start(program: &Path, file: &FinishedFile) -> std::io::Result<Child> {
    Command::new(program)
        .arg(&file.path)
        .env("RTMP_RECORD_PATH", &file.path)
        .env("RTMP_APP", &file.app)
        .env("RTMP_STREAM", &file.stream)
        .env("RTMP_DURATION_MS", file.duration_ms.to_string())
        .env("RTMP_BYTES", file.bytes.to_string())
        .env("RTMP_EVENT", "record_done")
        .env("RTMP_QUERY", &file.publisher.query.0)
        .env("RTMP_CLIENT_ADDR", file.publisher.remote.to_string())
        .env("RTMP_CONN_ID", file.publisher.conn_id.to_string())
        .env("RTMP_TIME", now_rfc3339())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group: a timeout kills what it started too, and a Ctrl-C meant for the
        // server does not reach it.
        .process_group(0)
        .spawn()
}

/// Now in RFC 3339, UTC (`RTMP_TIME`).
fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Logs the child's output with every one of `secrets` (see [`secrets_of`]) shown as `***`,
/// waits for it at most `timeout` (then kills its process group) and returns how it ended.
pub fn supervise(mut child: Child, file: &Path, timeout: Duration, secrets: &[String]) -> HookOutcome {
    let (done, drained) = crossbeam_channel::bounded::<()>(2);
    let mut readers = 0;
    if let Some(out) = child.stdout.take() {
        readers += usize::from(log_output(out, file, "stdout", secrets.to_vec(), done.clone()));
    }
    if let Some(err) = child.stderr.take() {
        readers += usize::from(log_output(err, file, "stderr", secrets.to_vec(), done));
    }
    let deadline = Instant::now() + timeout;
    let outcome = loop {
        match child.try_wait() {
            Ok(Some(status)) => break HookOutcome::Exited(status),
            Ok(None) if Instant::now() >= deadline => {
                kill_group(&mut child);
                break HookOutcome::TimedOut;
            }
            Ok(None) => std::thread::sleep(HOOK_POLL),
            Err(e) => break HookOutcome::WaitFailed(e),
        }
    };
    let drain_until = Instant::now() + HOOK_OUTPUT_DRAIN;
    for _ in 0..readers {
        if drained.recv_deadline(drain_until).is_err() {
            info!(
                "record hook output still open after exit (a background process holds it) file={}",
                file.display()
            );
            break;
        }
    }
    outcome
}

fn kill_group(child: &mut Child) {
    let group = rustix::process::Pid::from_child(child);
    if let Err(e) = rustix::process::kill_process_group(group, rustix::process::Signal::KILL) {
        warn!("record hook group not killed pid={} error=\"{e}\"", child.id());
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// Logs each line `out` yields on a thread of its own; true if the thread started (it then
/// sends on `done` at end of output).
fn log_output(
    out: impl Read + Send + 'static,
    file: &Path,
    name: &'static str,
    secrets: Vec<String>,
    done: crossbeam_channel::Sender<()>,
) -> bool {
    let file = file.display().to_string();
    let spawned = std::thread::Builder::new()
        .name("record-hook-out".to_owned())
        .spawn(move || {
            let mut reader = BufReader::new(out);
            let mut line = Vec::with_capacity(256);
            let mut logged = 0usize;
            let mut dropped = 0usize;
            loop {
                line.clear();
                match reader.by_ref().take(MAX_HOOK_LINE as u64).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if logged >= MAX_HOOK_LOG_LINES => dropped += 1,
                    Ok(_) => {
                        logged += 1;
                        info!("record hook output file={file} {name}: {}", printable(&line, &secrets));
                    }
                }
            }
            if dropped > 0 {
                warn!("record hook output cut file={file} {name} lines_not_logged={dropped}");
            }
            let _ = done.send(());
        });
    match spawned {
        Ok(_) => true,
        Err(e) => {
            warn!("record hook output not logged error=\"{e}\"");
            false
        }
    }
}

/// The line without its line end, each of `secrets` shown as `***`, control characters as `?`.
fn printable(line: &[u8], secrets: &[String]) -> String {
    let mut text = String::from_utf8_lossy(line).into_owned();
    for secret in secrets {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "***");
        }
    }
    text.trim_end_matches(['\n', '\r'])
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// What a hook's logged output must not show: the query it was given (it may carry the
/// client's key, see `RTMP_QUERY`) and each of the query's values, as sent and
/// percent-decoded; longest first, so a value inside the whole query is not half-hidden.
pub fn secrets_of(query: &str) -> Vec<String> {
    let mut secrets = vec![query.to_owned()];
    for pair in query.split('&') {
        let value = pair.split_once('=').map_or(pair, |(_, value)| value);
        secrets.push(value.to_owned());
        secrets.push(percent_decode(value));
    }
    secrets.retain(|s| !s.is_empty());
    secrets.sort();
    secrets.dedup();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets
}

/// `%XX` escapes decoded (`+` as a space); anything malformed kept as it is.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (b, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn programs_are_found_as_execvp_finds_them() {
        let dir = std::env::temp_dir().join(format!("rtmp-hook-resolve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let script = dir.join("bin/upload");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.join("bin/notes");
        std::fs::write(&plain, "text").unwrap();
        let path = format!("/no/such:{}", dir.join("bin").display());
        let path = Some(OsStr::new(&path));
        assert_eq!(resolve(Path::new("upload"), path), Ok(script.clone()));
        assert_eq!(resolve(&script, None), Ok(script.clone()), "a path is used as it is");
        assert_eq!(
            resolve(Path::new("upload"), Some(OsStr::new("/no/such"))),
            Err(HookProgramError::NotInPath(PathBuf::from("upload")))
        );
        assert_eq!(
            resolve(Path::new("notes"), path),
            Err(HookProgramError::NotExecutable(plain.clone()))
        );
        assert_eq!(resolve(&plain, None), Err(HookProgramError::NotExecutable(plain)));
        assert_eq!(
            resolve(Path::new("bin/upload"), None),
            Err(HookProgramError::Missing(PathBuf::from("bin/upload"))),
            "with a '/' PATH is not searched"
        );
        assert!(resolve(Path::new("sh"), None).is_ok(), "the default path has sh");
        assert!(resolve(&dir.join("bin"), None).is_err(), "a folder is not a program");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn output_lines_are_printable_without_their_line_end() {
        assert_eq!(printable(b"done\r\n", &[]), "done");
        assert_eq!(printable(b"a\x1b[31mb\n", &[]), "a?[31mb");
        assert_eq!(printable(&[0xff, b'x'], &[]), "\u{fffd}x");
    }

    #[test]
    fn the_query_and_its_values_are_hidden_in_hook_output() {
        let secrets = secrets_of("key=s%2Fcr3t&user=bob");
        assert_eq!(secrets[0], "key=s%2Fcr3t&user=bob");
        let shown = |line: &str| printable(line.as_bytes(), &secrets);
        assert_eq!(shown("RTMP_QUERY=key=s%2Fcr3t&user=bob\n"), "RTMP_QUERY=***");
        assert_eq!(shown("checking s/cr3t for bob"), "checking *** for ***");
        assert_eq!(shown("raw s%2Fcr3t"), "raw ***");
        assert!(secrets_of("").is_empty());
        assert_eq!(secrets_of("SECRET"), vec!["SECRET".to_owned()]);
        assert_eq!(percent_decode("a%zz%41+b%"), "a%zzA b%");
    }
}
