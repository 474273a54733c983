//! A single-node Garage (S3-compatible object store) for upload tests: started on loopback
//! ports in a temp dir, given a layout, a bucket and a key with the `garage` CLI, stopped
//! (by PID) on drop. `scripts/test.sh` installs Garage (`cargo install garage --locked`);
//! without it a test skips, except with CI=true, where it fails.
#![allow(dead_code)]

use super::{TempDir, DEADLINE};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGION: &str = "garage";
pub const KEY_ID: &str = "GK0123456789abcdef01234567";
pub const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The `garage` binary: $GARAGE_BIN, on PATH, or in ~/.cargo/bin. None when missing
/// outside CI; with CI=true a missing Garage panics.
pub fn garage_binary() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("GARAGE_BIN").map(PathBuf::from),
        Some(PathBuf::from("garage")),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/garage")),
    ];
    for candidate in candidates.into_iter().flatten() {
        let runs = Command::new(&candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if runs {
            return Some(candidate);
        }
    }
    assert!(
        std::env::var("CI").ok().as_deref() != Some("true"),
        "garage is required for this test (scripts/test.sh installs it: cargo install garage --locked)"
    );
    eprintln!("garage not installed: upload test skipped (scripts/test.sh installs it)");
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running single-node Garage with bucket `bucket` and the key `KEY_ID`/`SECRET`.
pub struct Garage {
    bin: PathBuf,
    dir: TempDir,
    config: PathBuf,
    child: Option<Child>,
    pub s3_port: u16,
    pub bucket: String,
}

impl Garage {
    /// Starts Garage and sets it up; None when Garage is not installed (outside CI).
    pub fn start(bucket: &str) -> Option<Garage> {
        let bin = garage_binary()?;
        let dir = TempDir::new("garage");
        let (rpc, s3, admin) = (free_port(), free_port(), free_port());
        let config = dir.path().join("garage.toml");
        let root = dir.path().display();
        std::fs::write(
            &config,
            format!(
                "metadata_dir = \"{root}/meta\"\ndata_dir = \"{root}/data\"\ndb_engine = \"sqlite\"\n\
                 replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_secret = \"{SECRET}\"\n\n[s3_api]\ns3_region = \"{REGION}\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n\
                 root_domain = \".s3.garage.localhost\"\n\n[admin]\napi_bind_addr = \"127.0.0.1:{admin}\"\n"
            ),
        )
        .unwrap();
        let mut garage = Garage {
            bin,
            dir,
            config,
            child: None,
            s3_port: s3,
            bucket: bucket.to_owned(),
        };
        garage.resume();
        let node = garage.cli_retry(&["node", "id", "-q"]);
        let node = node.trim().split('@').next().unwrap().to_owned();
        garage.cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node]);
        garage.cli(&["layout", "apply", "--version", "1"]);
        // The bucket creation waits for the layout to be in force.
        garage.cli_retry(&["bucket", "create", bucket]);
        garage.cli(&["key", "import", "--yes", "-n", "test-key", KEY_ID, SECRET]);
        garage.cli(&[
            "bucket", "allow", "--read", "--write", "--owner", bucket, "--key", "test-key",
        ]);
        garage.wait_s3_ready();
        Some(garage)
    }

    /// The S3 endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// A credentials file for the key (or a wrong secret) in `dir`.
    pub fn credentials_file(&self, dir: &Path, secret: &str) -> PathBuf {
        let path = dir.join("s3.key");
        std::fs::write(
            &path,
            format!("access_key_id = {KEY_ID}\nsecret_access_key = {secret}\n"),
        )
        .unwrap();
        path
    }

    /// The server flags uploading to this node under `prefix`.
    pub fn upload_args(&self, prefix: &str, credentials: &Path) -> Vec<String> {
        vec![
            "--upload".into(),
            format!("s3://{}/{prefix}", self.bucket),
            "--upload-endpoint".into(),
            self.endpoint(),
            "--upload-region".into(),
            REGION.into(),
            "--upload-credentials-file".into(),
            credentials.display().to_string(),
        ]
    }

    /// A client of the bucket with the test key.
    pub fn client(&self) -> rtmp_server::upload::s3::Client {
        let options = rtmp_server::upload::options::UploadOptions {
            target: rtmp_server::upload::options::parse_upload_target(&format!("s3://{}", self.bucket)).unwrap(),
            endpoint: Some(rtmp_server::upload::options::parse_endpoint(&self.endpoint()).unwrap()),
            region: REGION.into(),
            path_style: Some(true),
            credentials_file: None,
            delete: false,
            concurrency: 1,
            part_size: 16 << 20,
            delete_unsent_when_full: false,
        };
        let credentials = rtmp_server::upload::options::Credentials {
            key_id: KEY_ID.into(),
            secret: SECRET.into(),
            token: None,
        };
        rtmp_server::upload::s3::Client::new(&options, &credentials).unwrap()
    }

    /// Stops the node (kill by PID, ours); `resume` starts it again on the same ports and data.
    pub fn pause(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts (again) the node's server process.
    pub fn resume(&mut self) {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("garage.log"))
            .unwrap();
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.config)
            .arg("server")
            .env("RUST_LOG", "garage=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start garage");
        self.child = Some(child);
        self.wait_s3_ready();
    }

    /// Waits until the S3 port answers a request.
    fn wait_s3_ready(&self) {
        let deadline = Instant::now() + DEADLINE;
        while std::net::TcpStream::connect(("127.0.0.1", self.s3_port)).is_err() {
            assert!(Instant::now() < deadline, "garage S3 API not listening");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn command(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.bin)
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run garage")
    }

    /// Runs a garage CLI command; panics with its output unless it succeeds.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self.command(args);
        assert!(
            out.status.success(),
            "garage {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Like `cli`, retried until it succeeds (the node is still starting).
    fn cli_retry(&self, args: &[&str]) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let out = self.command(args);
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).into_owned();
            }
            assert!(
                Instant::now() < deadline,
                "garage {args:?} kept failing: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.pause();
    }
}

/// A TCP proxy to Garage that forwards `limit` bytes of requests and then stops forwarding
/// (answers still flow): uploads through it hang part-way, deterministically.
pub struct StallingProxy {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl StallingProxy {
    pub fn start(target_port: u16, limit: u64) -> StallingProxy {
        use std::io::{Read, Write};
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let stopping = Arc::clone(&stop);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target_port)) else {
                    continue;
                };
                let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut s_read, mut c_write) = (server, client);
                let sent = Arc::clone(&sent);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match c_read.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let before = sent.fetch_add(n as u64, Ordering::SeqCst);
                        let allowed = limit.saturating_sub(before).min(n as u64) as usize;
                        if s_write.write_all(&buf[..allowed]).is_err() {
                            return;
                        }
                        if allowed < n {
                            // Stalled: hold the connection, forward nothing more.
                            std::thread::sleep(Duration::from_secs(3600));
                            return;
                        }
                    }
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                });
            }
        });
        StallingProxy { port, stop }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for StallingProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}
