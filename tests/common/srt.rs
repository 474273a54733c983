//! SRT test helpers: the server's SRT address, FFmpeg publishing over SRT, decoded-frame
//! hashes, a lossy UDP relay and a sender of hostile datagrams.

use super::log_contract::SRT_LISTENING;
use super::{field, require_tool, run_ok, ServerProcess, DEADLINE};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The SRT address the server logged (it listens on an ephemeral port).
pub fn srt_addr(server: &ServerProcess) -> SocketAddr {
    let line = server.wait_for_log(SRT_LISTENING, DEADLINE);
    field(&line, "addr")
        .expect("addr= in the SRT listening line")
        .parse()
        .unwrap()
}

/// `srt://ADDR?streamid=ID&linger=5` plus `extra` (e.g. `&passphrase=...`). The linger
/// makes FFmpeg's libsrt deliver its last packets before it closes (live mode's default
/// is to drop them).
pub fn srt_url(addr: SocketAddr, stream_id: &str, extra: &str) -> String {
    format!("srt://{addr}?streamid={stream_id}&linger=5{extra}")
}

/// `ffmpeg -re -i SOURCE -c copy -f mpegts URL` as a child.
pub fn srt_publish(source: &Path, url: &str) -> Child {
    require_tool("ffmpeg");
    Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-re", "-i"])
        .arg(source)
        .args(["-c", "copy", "-f", "mpegts", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ffmpeg")
}

/// `ffmpeg -re -f data -i JUNK -map 0 -c copy -f data URL`: arbitrary bytes as the SRT
/// payload (malformed TS).
pub fn srt_publish_bytes(junk: &Path, url: &str) -> Child {
    Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-f", "data", "-i"])
        .arg(junk)
        .args(["-map", "0", "-c", "copy", "-f", "data", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ffmpeg")
}

/// The md5 of each decoded frame of `path`'s first video ("v") or audio ("a") stream:
/// equal lists mean the same pictures or samples, whatever the container.
pub fn decoded_hashes(path: &Path, kind: &str) -> Vec<String> {
    let output = run_ok(Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args([
        "-map",
        &format!("0:{kind}:0"),
        "-f",
        "framemd5",
        "-",
    ]));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_owned()))
        .collect()
}

/// A deterministic pseudo-random sequence (64-bit LCG).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// A UDP relay between one client and `server` that drops `percent` of the datagrams
/// both ways (pseudo-random, seeded), after the first few (the handshake).
pub struct LossyRelay {
    pub addr: SocketAddr,
    pub dropped: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LossyRelay {
    pub fn start(server: SocketAddr, percent: u64, seed: u64) -> LossyRelay {
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        let back = UdpSocket::bind("127.0.0.1:0").unwrap();
        back.connect(server).unwrap();
        front.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        back.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        let addr = front.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let (stop_flag, drops) = (Arc::clone(&stop), Arc::clone(&dropped));
        let thread = std::thread::spawn(move || {
            let mut rng = Lcg(seed);
            let mut client: Option<SocketAddr> = None;
            let mut seen = 0u64;
            let mut buf = [0u8; 2048];
            let lose = |rng: &mut Lcg, seen: &mut u64| {
                *seen += 1;
                let lost = *seen > 20 && rng.next() % 100 < percent;
                if lost {
                    drops.fetch_add(1, Ordering::Relaxed);
                }
                lost
            };
            while !stop_flag.load(Ordering::Relaxed) {
                while let Ok((len, from)) = front.recv_from(&mut buf) {
                    client = Some(from);
                    if !lose(&mut rng, &mut seen) {
                        let _ = back.send(&buf[..len]);
                    }
                }
                while let Ok(len) = back.recv(&mut buf) {
                    if let Some(client) = client {
                        if !lose(&mut rng, &mut seen) {
                            let _ = front.send_to(&buf[..len], client);
                        }
                    }
                }
            }
        });
        LossyRelay {
            addr,
            dropped,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for LossyRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends random datagrams (and random SRT-looking control packets) at `target` until
/// dropped; returns how many it sent.
pub struct HostileSender {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl HostileSender {
    pub fn start(target: SocketAddr, seed: u64) -> HostileSender {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let sockets: Vec<UdpSocket> = (0..4).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
            let mut rng = Lcg(seed);
            let mut sent = 0u64;
            while !stop_flag.load(Ordering::Relaxed) {
                let len = (rng.next() % 1500) as usize + 1;
                let mut datagram: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                match rng.next() % 3 {
                    // A control packet header: handshake (type 0) or another control type.
                    0 if len >= 16 => datagram[0] = 0x80,
                    1 if len >= 16 => datagram[0] &= 0x7F, // a data packet
                    _ => {}
                }
                let socket = &sockets[(rng.next() % 4) as usize];
                let _ = socket.send_to(&datagram, target);
                sent += 1;
                if sent.is_multiple_of(50) {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            sent
        });
        HostileSender {
            stop,
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map(|t| t.join().unwrap()).unwrap_or(0)
    }
}

impl Drop for HostileSender {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
