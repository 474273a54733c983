//! Reading a process's CPU time (/proc/PID/stat utime + stime) and memory (/proc/PID/status
//! VmRSS, VmHWM), and a sampler thread that tracks the peak VmRSS during a run.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Clock ticks per second of /proc times (USER_HZ, 100 on every mainstream Linux ABI).
pub const USER_HZ: f64 = 100.0;
/// How often the sampler reads VmRSS.
pub const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// Most samples one sampler takes (bounds it to about an hour).
const MAX_RSS_SAMPLES: u32 = 72_000;

/// A process to read: a PID, or this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    Pid(u32),
    Current,
}

impl Process {
    fn path(self, file: &str) -> String {
        match self {
            Process::Pid(pid) => format!("/proc/{pid}/{file}"),
            Process::Current => format!("/proc/self/{file}"),
        }
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// User plus system CPU seconds the process has used so far (its threads included).
pub fn cpu_seconds(process: Process) -> io::Result<f64> {
    let stat = std::fs::read_to_string(process.path("stat"))?;
    parse_cpu_seconds(&stat).ok_or_else(|| invalid("unexpected /proc/PID/stat format"))
}

fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    // Fields after "pid (comm)": state is field 3, utime 14 and stime 15.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// A `Vm*:` field of /proc/PID/status in kB (e.g. "VmRSS", "VmHWM").
pub fn status_kb(process: Process, field: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(process.path("status"))?;
    parse_status_kb(&status, field).ok_or_else(|| invalid("field missing from /proc/PID/status"))
}

fn parse_status_kb(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// Samples a process's VmRSS until stopped; `stop` returns the peak seen, in kB.
#[derive(Debug)]
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<u64>,
}

impl RssSampler {
    pub fn start(process: Process) -> io::Result<RssSampler> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new().name("rss-sampler".into()).spawn(move || {
            let mut peak = 0;
            for _ in 0..MAX_RSS_SAMPLES {
                if let Ok(kb) = status_kb(process, "VmRSS") {
                    peak = peak.max(kb);
                }
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(RSS_SAMPLE_EVERY);
            }
            peak
        })?;
        Ok(RssSampler { stop, handle })
    }

    /// Stops sampling (after one last sample) and returns the peak VmRSS in kB.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_the_name() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 9 1000 200";
        assert_eq!(parse_cpu_seconds(stat), Some(3.0));
        assert_eq!(parse_cpu_seconds("garbage"), None);
    }

    #[test]
    fn parses_status_fields() {
        let status = "Name:\tx\nVmHWM:\t    5120 kB\nVmRSS:\t    4096 kB\n";
        assert_eq!(parse_status_kb(status, "VmRSS"), Some(4096));
        assert_eq!(parse_status_kb(status, "VmHWM"), Some(5120));
        assert_eq!(parse_status_kb(status, "VmSwap"), None);
    }

    #[test]
    fn reads_this_process() {
        assert!(cpu_seconds(Process::Current).unwrap() >= 0.0);
        assert!(status_kb(Process::Current, "VmRSS").unwrap() > 0);
        let sampler = RssSampler::start(Process::Current).unwrap();
        assert!(sampler.stop() > 0);
    }
}
