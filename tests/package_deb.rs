//! The Debian package: scripts/package-deb.sh builds it with cargo-deb in this build's target
//! dir (the release build is reused after the first run), and `dpkg-deb -I`/`-c`/`-x` show
//! its metadata, conffile, maintainer script and contents. The postinst also runs in a
//! private mount namespace (copies of /etc and /var/lib). Nothing is installed system-wide.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

/// The target dir this test binary was built in (…/target/debug/deps/package_deb-HASH).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .unwrap()
        .to_owned()
}

fn dpkg_deb(args: &[&str]) -> String {
    let output = Command::new("dpkg-deb")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "dpkg-deb {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The package, built once for every test here (they would race on the same output file).
fn package() -> PathBuf {
    static DEB: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DEB.get_or_init(build_package).clone()
}

/// Runs scripts/package-deb.sh; returns the .deb it names on its last line.
fn build_package() -> PathBuf {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let have_cargo_deb = Command::new(&cargo)
        .args(["deb", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    // In CI scripts/test.sh installs it; elsewhere the script installs it itself.
    assert!(
        have_cargo_deb || !in_ci,
        "cargo-deb is required for this test (scripts/test.sh installs it with cargo install)"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = Command::new("bash");
    // Without the variables cargo sets for this test (CARGO_PKG_NAME, CARGO_MANIFEST_DIR...):
    // build scripts (ring's) watch them, so the release build would not be reused between
    // this test and the script run by hand.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        let set_by_cargo = ["CARGO_PKG_", "CARGO_BIN_", "CARGO_CFG_", "CARGO_MANIFEST_"]
            .iter()
            .any(|p| name.starts_with(p))
            || [
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&name.as_str());
        if set_by_cargo {
            command.env_remove(&name);
        }
    }
    let output: Output = command
        .arg(root.join("scripts/package-deb.sh"))
        .arg("--fast")
        .env("CARGO_TARGET_DIR", target_dir())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "package-deb.sh failed");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let deb = PathBuf::from(stdout.lines().last().unwrap_or_default());
    assert!(deb.starts_with(target_dir()), "{deb:?} outside the target dir");
    assert!(deb.is_file(), "{deb:?}");
    deb
}

#[test]
fn deb_has_the_binary_units_conffile_docs_and_a_postinst_that_creates_the_user() {
    common::require_tool("dpkg-deb");
    let deb = package();
    let deb_str = deb.to_str().unwrap();

    // Metadata.
    let info = dpkg_deb(&["-I", deb_str]);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.trim_start().strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name}: {info}"))
            .to_owned()
    };
    assert_eq!(field("Package"), "rtmp-server");
    assert_eq!(field("Version"), format!("{}-1", env!("CARGO_PKG_VERSION")));
    assert_eq!(field("Section"), "net");
    assert!(field("Depends").contains("libc6"), "{info}");
    assert!(field("Description").contains("RTMP server"), "{info}");
    assert!(!field("Maintainer").is_empty());

    // The conffile: the example config in /etc, kept by dpkg across upgrades.
    let conffiles = dpkg_deb(&["-I", deb_str, "conffiles"]);
    assert_eq!(
        conffiles.lines().collect::<Vec<_>>(),
        ["/etc/rtmp-server/rtmp-server.toml"]
    );

    // The postinst creates the system user and the state dir before enabling the units.
    let postinst = dpkg_deb(&["-I", deb_str, "postinst"]);
    let user = postinst.find("useradd --system").expect("postinst creates the user");
    assert!(postinst.contains("\"rtmp-server\" \"$USER_NAME\"") || postinst.contains("USER_NAME=rtmp-server"));
    assert!(postinst.contains("$STATE_DIR/recordings") && postinst.contains("STATE_DIR=/var/lib/rtmp-server"));
    let enable = postinst
        .find("deb-systemd-helper enable rtmp-server.socket")
        .expect("postinst enables the socket");
    assert!(user < enable, "the user must exist before the units start: {postinst}");
    assert!(postinst.contains("deb-systemd-helper enable rtmp-server.service"));
    let syntax = Command::new("sh").args(["-n", "-c", &postinst]).status().unwrap();
    assert!(syntax.success(), "postinst has a syntax error");

    // Contents: owner root, the binary executable at /usr/bin, no bench tool.
    let contents = dpkg_deb(&["-c", deb_str]);
    let entry = |path: &str| {
        contents
            .lines()
            .find(|l| l.ends_with(&format!(" .{path}")))
            .unwrap_or_else(|| panic!("{path} missing: {contents}"))
            .to_owned()
    };
    assert!(entry("/usr/bin/rtmp-server").starts_with("-rwxr-xr-x 0/0"));
    for path in [
        "/usr/lib/systemd/system/rtmp-server.service",
        "/usr/lib/systemd/system/rtmp-server.socket",
        "/etc/rtmp-server/rtmp-server.toml",
        "/usr/share/doc/rtmp-server/README.md",
        "/usr/share/doc/rtmp-server/LICENSE",
        "/usr/share/doc/rtmp-server/copyright",
    ] {
        assert!(entry(path).starts_with("-rw-r--r-- 0/0"), "{path}");
    }
    assert!(!contents.contains("rtmp-bench"), "{contents}");

    // The files themselves: the unit runs the packaged binary, the conffile is the example,
    // and the packaged binary accepts it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = common::TempDir::new("deb");
    dpkg_deb(&["-x", deb_str, dir.path().to_str().unwrap()]);
    let service = std::fs::read_to_string(dir.path().join("usr/lib/systemd/system/rtmp-server.service")).unwrap();
    assert!(
        service
            .lines()
            .any(|l| l == "ExecStart=/usr/bin/rtmp-server --config /etc/rtmp-server/rtmp-server.toml $RTMP_SERVER_ARGS"),
        "{service}"
    );
    let conffile = dir.path().join("etc/rtmp-server/rtmp-server.toml");
    assert_eq!(
        std::fs::read_to_string(&conffile).unwrap(),
        std::fs::read_to_string(root.join("scripts/rtmp-server.toml")).unwrap()
    );
    let binary = dir.path().join("usr/bin/rtmp-server");
    let version = Command::new(&binary).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
    let check = Command::new(&binary)
        .arg("check-config")
        .arg(&conffile)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
}

/// The postinst, run as dpkg runs it on a first install (`configure`) and again on a
/// reconfigure, in a private mount namespace where /etc is a copy, /var/lib an empty dir and
/// /run/systemd hidden: it creates the system user and the state dirs owned by it, and a second
/// run changes nothing. This machine's own users and dirs are not touched. Needs root (CI).
#[test]
fn postinst_creates_the_user_and_state_dirs_in_a_sandbox() {
    let is_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    if !is_root {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!in_ci, "this test needs root (CI runs as root)");
        eprintln!("SKIPPED postinst sandbox: needs root (runs as root in CI)");
        return;
    }
    common::require_tool("dpkg-deb");
    let deb = package();
    let dir = common::TempDir::new("postinst");
    let postinst = dpkg_deb(&["-I", deb.to_str().unwrap(), "postinst"]);
    std::fs::write(dir.path().join("postinst"), postinst).unwrap();
    std::fs::create_dir(dir.path().join("varlib")).unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg("/etc")
        .arg(dir.path().join("etc"))
        .status()
        .unwrap();
    assert!(copied.success());
    let host_had_user = Command::new("getent")
        .args(["passwd", "rtmp-server"])
        .output()
        .unwrap()
        .status
        .success();
    // Every mount must succeed before the postinst runs (set -e), or nothing runs.
    let sandboxed = r#"set -e
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount --make-rprivate /
mount --bind "$1/etc" /etc
mount --bind "$1/varlib" /var/lib
if [ -d /run/systemd ]; then mount -t tmpfs none /run/systemd; fi
sh -e "$1/postinst" configure ""
sh -e "$1/postinst" configure 0.1.0-1
getent passwd rtmp-server
getent group rtmp-server
stat -c '%U:%G %a %n' /var/lib/rtmp-server /var/lib/rtmp-server/recordings
"#;
    let output = Command::new("unshare")
        .args(["--mount", "sh", "-c", sandboxed, "sh"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let user = stdout
        .lines()
        .find(|l| l.starts_with("rtmp-server:x:"))
        .expect("user created");
    assert!(user.ends_with(":/var/lib/rtmp-server:/usr/sbin/nologin"), "{user}");
    let uid: u32 = user.split(':').nth(2).unwrap().parse().unwrap();
    assert!(uid < 1000, "a system user: {user}");
    let gid = user.split(':').nth(3).unwrap();
    assert!(
        stdout.lines().any(|l| l.starts_with(&format!("rtmp-server:x:{gid}:"))),
        "its own group: {stdout}"
    );
    for dir in ["/var/lib/rtmp-server", "/var/lib/rtmp-server/recordings"] {
        assert!(
            stdout
                .lines()
                .any(|l| l == format!("rtmp-server:rtmp-server 750 {dir}")),
            "{dir}: {stdout}"
        );
    }
    let host_has_user = Command::new("getent")
        .args(["passwd", "rtmp-server"])
        .output()
        .unwrap()
        .status
        .success();
    assert_eq!(
        host_has_user, host_had_user,
        "the sandbox leaked a user into this machine"
    );
}
