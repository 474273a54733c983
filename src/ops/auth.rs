//! Stream-key auth: key files (`app/stream secret` or `app/* secret` per line, # comments),
//! plain keys (`?key=SECRET`) compared in constant time, and signed expiring keys
//! (`?exp=UNIX&sig=HEX(HMAC-SHA256(secret, "app/stream:exp"))`). `Auth` holds the live key
//! sets and reloads them from their files (SIGHUP). Secrets never appear in errors.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// Query parameter carrying a plain key.
pub const KEY_PARAM: &str = "key";
/// Query parameters of a signed key.
pub const EXPIRES_PARAM: &str = "exp";
pub const SIGNATURE_PARAM: &str = "sig";
/// Characters a secret may not hold: they would change the meaning of the URL query.
pub const URL_RESERVED: &[char] = &['&', '=', '?', '#', '%', '+'];
/// Largest key file read (bytes); a bigger one is refused rather than half-read.
pub const MAX_KEY_FILE_BYTES: u64 = 1 << 20;

/// One line of a key file.
#[derive(Clone)]
struct KeyEntry {
    app: String,
    /// None for `app/*`.
    stream: Option<String>,
    secret: Vec<u8>,
}

impl KeyEntry {
    fn covers(&self, app: &str, stream: &str) -> bool {
        self.app == app && self.stream.as_deref().is_none_or(|s| s == stream)
    }
}

/// A parsed key file.
#[derive(Clone, Default)]
pub struct KeyFile {
    entries: Vec<KeyEntry>,
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyFile {{ entries: {} }}", self.entries.len())
    }
}

/// Why a key file could not be used. Never holds a secret.
#[derive(Debug)]
pub enum KeyFileError {
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    TooLarge {
        path: PathBuf,
    },
    /// 1-based line number and what is wrong with it.
    Line {
        line: usize,
        why: &'static str,
    },
    InFile {
        path: PathBuf,
        line: usize,
        why: &'static str,
    },
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            KeyFileError::TooLarge { path } => {
                write!(f, "{}: larger than {MAX_KEY_FILE_BYTES} bytes", path.display())
            }
            KeyFileError::Line { line, why } => write!(f, "line {line}: {why}"),
            KeyFileError::InFile { path, line, why } => write!(f, "{}: line {line}: {why}", path.display()),
        }
    }
}

impl std::error::Error for KeyFileError {}

/// Why a publish or play was refused (for the log; the peer only sees the status code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No line of the key file covers this app/stream.
    NotListed,
    MissingKey,
    WrongKey,
    Expired,
    BadSignature,
    /// --allow-publish does not include the peer's address.
    AddressNotAllowed,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Denied::NotListed => "no key configured for this stream",
            Denied::MissingKey => "missing key",
            Denied::WrongKey => "wrong key",
            Denied::Expired => "signed key expired",
            Denied::BadSignature => "bad signature",
            Denied::AddressNotAllowed => "address not allowed to publish",
        })
    }
}

impl KeyFile {
    /// Parses key-file text: `app/stream secret` or `app/* secret`, blank lines and `#`
    /// comments ignored.
    pub fn parse(text: &str) -> Result<KeyFile, KeyFileError> {
        let mut entries = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why| KeyFileError::Line { line: index + 1, why };
            let mut words = line.split_whitespace();
            let (Some(target), Some(secret)) = (words.next(), words.next()) else {
                return Err(bad("expected `app/stream secret`"));
            };
            if words.next().is_some() {
                return Err(bad("expected two words: `app/stream secret`"));
            }
            let Some((app, stream)) = target.split_once('/') else {
                return Err(bad("expected app/stream or app/*"));
            };
            if app.is_empty() || stream.is_empty() {
                return Err(bad("empty app or stream"));
            }
            if secret.contains(URL_RESERVED) {
                return Err(bad("secret holds one of & = ? # % + (not usable in ?key=)"));
            }
            entries.push(KeyEntry {
                app: app.to_owned(),
                stream: (stream != "*").then(|| stream.to_owned()),
                secret: secret.as_bytes().to_vec(),
            });
        }
        Ok(KeyFile { entries })
    }

    /// Reads and parses a key file (at most `MAX_KEY_FILE_BYTES`).
    pub fn load(path: &Path) -> Result<KeyFile, KeyFileError> {
        let io = |error| KeyFileError::Io {
            path: path.to_path_buf(),
            error,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        file.take(MAX_KEY_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_KEY_FILE_BYTES {
            return Err(KeyFileError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        KeyFile::parse(&text).map_err(|e| match e {
            KeyFileError::Line { line, why } => KeyFileError::InFile {
                path: path.to_path_buf(),
                line,
                why,
            },
            other => other,
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks the credentials in `query` (the part after `?` of the stream name) for
    /// app/stream at time `now_unix` (seconds).
    pub fn check(&self, app: &str, stream: &str, query: &str, now_unix: u64) -> Result<(), Denied> {
        let candidates: Vec<&KeyEntry> = self.entries.iter().filter(|e| e.covers(app, stream)).collect();
        if candidates.is_empty() {
            return Err(Denied::NotListed);
        }
        let params = Params::parse(query);
        if let Some(sig) = params.get(SIGNATURE_PARAM) {
            let exp_text = params.get(EXPIRES_PARAM).ok_or(Denied::BadSignature)?;
            let exp: u64 = exp_text.parse().map_err(|_| Denied::BadSignature)?;
            let sig = decode_hex(sig).ok_or(Denied::BadSignature)?;
            let message = signed_message(app, stream, exp);
            let valid = candidates
                .iter()
                .fold(false, |ok, e| ok | verify_signature(&e.secret, &message, &sig));
            if !valid {
                return Err(Denied::BadSignature);
            }
            return if exp > now_unix { Ok(()) } else { Err(Denied::Expired) };
        }
        let key = params.get(KEY_PARAM).ok_or(Denied::MissingKey)?;
        let valid = candidates
            .iter()
            .fold(false, |ok, e| ok | constant_time_eq(&e.secret, key.as_bytes()));
        if valid {
            Ok(())
        } else {
            Err(Denied::WrongKey)
        }
    }
}

/// The text a signed key signs: `app/stream:exp`.
pub fn signed_message(app: &str, stream: &str, exp: u64) -> String {
    format!("{app}/{stream}:{exp}")
}

/// HEX(HMAC-SHA256(secret, "app/stream:exp")): what an operator hands out as `sig`.
pub fn sign(secret: &[u8], app: &str, stream: &str, exp: u64) -> String {
    let mut mac = hmac_for(secret);
    mac.update(signed_message(app, stream, exp).as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[allow(
    clippy::expect_used,
    reason = "HMAC takes keys of any length, so new_from_slice never fails"
)]
fn hmac_for(secret: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts any key length")
}

/// `verify_slice` compares in constant time.
fn verify_signature(secret: &[u8], message: &str, sig: &[u8]) -> bool {
    let mut mac = hmac_for(secret);
    mac.update(message.as_bytes());
    mac.verify_slice(sig).is_ok()
}

/// Compares two secrets in time independent of where they differ and of their lengths
/// (both are hashed first, then every byte of the digests is compared).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (da, db) = (Sha256::digest(a), Sha256::digest(b));
    da.iter().zip(db.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digits = text.as_bytes();
    digits
        .chunks(2)
        .map(|pair| {
            let hi = (pair.first()?).to_ascii_lowercase();
            let lo = (pair.get(1)?).to_ascii_lowercase();
            let value = |c: u8| (c as char).to_digit(16);
            Some((value(hi)? * 16 + value(lo)?) as u8)
        })
        .collect()
}

/// `a=1&b=2` query parameters; the first occurrence of a name wins.
struct Params<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Params<'a> {
    fn parse(query: &'a str) -> Params<'a> {
        let query = query.strip_prefix('?').unwrap_or(query);
        Params(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').unwrap_or((p, "")))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }
}

/// The live publish and play key sets, reloadable from their files.
#[derive(Debug)]
pub struct Auth {
    publish_path: Option<PathBuf>,
    play_path: Option<PathBuf>,
    keys: RwLock<Keys>,
}

#[derive(Debug, Clone)]
struct Keys {
    /// None: no key file configured, anyone may publish (play).
    publish: Option<KeyFile>,
    play: Option<KeyFile>,
}

/// How many lines each reloaded file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCounts {
    pub publish: Option<usize>,
    pub play: Option<usize>,
}

impl fmt::Display for KeyCounts {
    /// `publish_keys=N play_keys=M`, `off` for a file not configured.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |n: Option<usize>| n.map_or_else(|| "off".to_owned(), |n| n.to_string());
        write!(f, "publish_keys={} play_keys={}", show(self.publish), show(self.play))
    }
}

impl Auth {
    /// Configured but not yet loaded files deny everything (fail closed) until `reload`.
    pub fn new(publish_path: Option<PathBuf>, play_path: Option<PathBuf>) -> Auth {
        let keys = Keys {
            publish: publish_path.as_ref().map(|_| KeyFile::default()),
            play: play_path.as_ref().map(|_| KeyFile::default()),
        };
        Auth {
            publish_path,
            play_path,
            keys: RwLock::new(keys),
        }
    }

    /// True when a key file is configured.
    pub fn enabled(&self) -> bool {
        self.publish_path.is_some() || self.play_path.is_some()
    }

    /// What the loaded files hold.
    pub fn counts(&self) -> KeyCounts {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        KeyCounts {
            publish: keys.publish.as_ref().map(KeyFile::len),
            play: keys.play.as_ref().map(KeyFile::len),
        }
    }

    /// Reads both files; on any error the keys in use stay as they were.
    pub fn reload(&self) -> Result<KeyCounts, KeyFileError> {
        let publish = self.publish_path.as_deref().map(KeyFile::load).transpose()?;
        let play = self.play_path.as_deref().map(KeyFile::load).transpose()?;
        let counts = KeyCounts {
            publish: publish.as_ref().map(KeyFile::len),
            play: play.as_ref().map(KeyFile::len),
        };
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Keys { publish, play };
        Ok(counts)
    }

    pub fn check_publish(&self, app: &str, stream: &str, query: &str) -> Result<(), Denied> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        match &keys.publish {
            Some(file) => file.check(app, stream, query, now_unix()),
            None => Ok(()),
        }
    }

    pub fn check_play(&self, app: &str, stream: &str, query: &str) -> Result<(), Denied> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        match &keys.play {
            Some(file) => file.check(app, stream, query, now_unix()),
            None => Ok(()),
        }
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeyFile {
        KeyFile::parse("# publishers\n\n  live/cam s3cret\nlive/* wildcard\nother/x xkey\n").unwrap()
    }

    #[test]
    fn parses_lines_comments_and_wildcards() {
        let file = keys();
        assert_eq!(file.len(), 3);
        let three = KeyFile::parse("# c\nlive/a k1\nlive/b k2 extra\n");
        assert!(matches!(three, Err(KeyFileError::Line { line: 3, .. })));
        for bad in [
            "cam hidden",
            "live/cam",
            "/cam hidden",
            "live/ hidden",
            "live/a hid&den",
        ] {
            let err = KeyFile::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("line 1:") && !err.contains("hidden"), "{err}");
        }
    }

    #[test]
    fn plain_keys_match_exact_and_wildcard_lines() {
        let file = keys();
        assert_eq!(file.check("live", "cam", "key=s3cret", 0), Ok(()));
        assert_eq!(file.check("live", "cam", "key=wildcard", 0), Ok(()));
        assert_eq!(file.check("live", "other", "key=wildcard", 0), Ok(()));
        assert_eq!(file.check("live", "other", "key=s3cret", 0), Err(Denied::WrongKey));
        assert_eq!(file.check("live", "cam", "key=s3cre", 0), Err(Denied::WrongKey));
        assert_eq!(file.check("live", "cam", "", 0), Err(Denied::MissingKey));
        assert_eq!(file.check("live", "cam", "foo=1&key=s3cret", 0), Ok(()));
        assert_eq!(file.check("nope", "cam", "key=s3cret", 0), Err(Denied::NotListed));
        assert_eq!(file.check("other", "y", "key=xkey", 0), Err(Denied::NotListed));
        assert_eq!(
            KeyFile::default().check("live", "cam", "key=x", 0),
            Err(Denied::NotListed)
        );
    }

    #[test]
    fn signed_keys_valid_expired_and_forged() {
        let file = keys();
        let sig = sign(b"s3cret", "live", "cam", 1000);
        assert_eq!(sig.len(), 64);
        // The README's openssl recipe: printf 'live/cam:100' | openssl dgst -sha256 -hmac k
        let openssl = "1a6d78593e8e8fdd548b644b419d0687c3d0cf8069e236332a1ad562e04c3222";
        assert_eq!(sign(b"k", "live", "cam", 100), openssl);
        let query = format!("exp=1000&sig={sig}");
        assert_eq!(file.check("live", "cam", &query, 999), Ok(()));
        assert_eq!(file.check("live", "cam", &query, 1000), Err(Denied::Expired));
        let upper = format!("exp=1000&sig={}", sig.to_uppercase());
        assert_eq!(file.check("live", "cam", &upper, 10), Ok(()));
        // Another stream, another expiry, another secret, or garbage: forged.
        assert_eq!(file.check("live", "cam2", &query, 10), Err(Denied::BadSignature));
        let later = format!("exp=2000&sig={sig}");
        assert_eq!(file.check("live", "cam", &later, 10), Err(Denied::BadSignature));
        let forged = format!("exp=1000&sig={}", sign(b"guess", "live", "cam", 1000));
        assert_eq!(file.check("live", "cam", &forged, 10), Err(Denied::BadSignature));
        for bad in [
            "sig=zz&exp=1000",
            "sig=abc&exp=1000",
            "sig=00",
            &format!("sig={sig}&exp=x"),
        ] {
            assert_eq!(file.check("live", "cam", bad, 10), Err(Denied::BadSignature), "{bad}");
        }
        // The wildcard line's secret signs any stream of its app.
        let wild = format!("exp=50&sig={}", sign(b"wildcard", "live", "any", 50));
        assert_eq!(file.check("live", "any", &wild, 10), Ok(()));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn auth_fails_closed_until_loaded_and_reloads() {
        let dir = std::env::temp_dir().join(format!("rtmp-auth-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("publish.keys");
        std::fs::write(&path, "live/cam one\n").unwrap();
        let auth = Auth::new(Some(path.clone()), None);
        assert!(auth.enabled());
        assert_eq!(auth.check_publish("live", "cam", "key=one"), Err(Denied::NotListed));
        assert_eq!(auth.check_play("live", "cam", ""), Ok(()), "no play keys: open");
        let counts = auth.reload().unwrap();
        assert_eq!((counts.publish, counts.play), (Some(1), None));
        assert_eq!(counts.to_string(), "publish_keys=1 play_keys=off");
        assert_eq!(auth.check_publish("live", "cam", "key=one"), Ok(()));
        std::fs::write(&path, "live/cam two\n").unwrap();
        auth.reload().unwrap();
        assert_eq!(auth.check_publish("live", "cam", "key=one"), Err(Denied::WrongKey));
        std::fs::write(&path, "broken line here\n").unwrap();
        let err = auth.reload().unwrap_err().to_string();
        assert!(err.contains("line 1") && !err.contains("broken"), "{err}");
        assert_eq!(auth.check_publish("live", "cam", "key=two"), Ok(()), "old keys kept");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!Auth::new(None, None).enabled());
    }
}
