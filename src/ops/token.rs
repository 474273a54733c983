//! The HTTP API's optional bearer token (`--http-token-file FILE`, the first line of the
//! file): with it, requests must carry `Authorization: Bearer TOKEN` or the dashboard's
//! session cookie (`rtmp_token=HEX`, the token hex-encoded), compared in constant
//! time. Reloaded with the key files on SIGHUP (a broken file keeps the token in use). The
//! token never appears in errors or logs.

use super::auth::{constant_time_eq, decode_hex};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// Largest token file read (bytes); a bigger one is refused rather than half-read.
pub const MAX_TOKEN_FILE_BYTES: u64 = 4096;
/// The Authorization scheme (compared without regard to case, as RFC 7235 says).
const BEARER: &str = "bearer";
/// The dashboard's session cookie (set by `POST /api/session`).
pub const COOKIE_NAME: &str = "rtmp_token";

/// Why a token file could not be used. Never holds the token.
#[derive(Debug)]
pub enum TokenFileError {
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    TooLarge {
        path: PathBuf,
    },
    /// The first line is empty (after trimming) or holds whitespace inside.
    Malformed {
        path: PathBuf,
        why: &'static str,
    },
}

impl fmt::Display for TokenFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenFileError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            TokenFileError::TooLarge { path } => {
                write!(f, "{}: larger than {MAX_TOKEN_FILE_BYTES} bytes", path.display())
            }
            TokenFileError::Malformed { path, why } => write!(f, "{}: {why}", path.display()),
        }
    }
}

impl std::error::Error for TokenFileError {}

/// The token from file text: its first line, surrounding whitespace trimmed.
pub fn parse_token(text: &str) -> Result<Vec<u8>, &'static str> {
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        return Err("the first line holds no token");
    }
    if token.chars().any(char::is_whitespace) {
        return Err("the token holds whitespace");
    }
    Ok(token.as_bytes().to_vec())
}

/// Reads a token file (at most `MAX_TOKEN_FILE_BYTES`).
pub fn load_token(path: &Path) -> Result<Vec<u8>, TokenFileError> {
    let io = |error| TokenFileError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    file.take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(TokenFileError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    parse_token(&text).map_err(|why| TokenFileError::Malformed {
        path: path.to_path_buf(),
        why,
    })
}

/// The API token in use, if one is configured.
pub struct HttpToken {
    path: Option<PathBuf>,
    /// Empty until loaded: with a configured file nothing is let in before `reload` works.
    token: RwLock<Vec<u8>>,
}

impl fmt::Debug for HttpToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpToken {{ path: {:?} }}", self.path)
    }
}

impl HttpToken {
    pub fn new(path: Option<PathBuf>) -> HttpToken {
        HttpToken {
            path,
            token: RwLock::new(Vec::new()),
        }
    }

    /// True when `--http-token-file` is set.
    pub fn enabled(&self) -> bool {
        self.path.is_some()
    }

    /// Reads the file again; on an error the token in use stays.
    pub fn reload(&self) -> Result<(), TokenFileError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let token = load_token(path)?;
        *self.token.write().unwrap_or_else(|e| e.into_inner()) = token;
        Ok(())
    }

    /// Whether a request with this Authorization header value (if any) may pass.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        if self.path.is_none() {
            return true;
        }
        let Some((scheme, presented)) = authorization.and_then(|v| v.trim().split_once(' ')) else {
            return false;
        };
        let token = self.token.read().unwrap_or_else(|e| e.into_inner());
        let scheme_ok = scheme.eq_ignore_ascii_case(BEARER);
        // Compared even for a wrong scheme, so the time taken says nothing about either.
        let token_ok = !token.is_empty() && constant_time_eq(&token, presented.trim().as_bytes());
        scheme_ok && token_ok
    }

    /// Whether `presented` is the token (constant time; false before a token is loaded).
    /// True when no token file is set.
    pub fn matches(&self, presented: &[u8]) -> bool {
        if self.path.is_none() {
            return true;
        }
        let token = self.token.read().unwrap_or_else(|e| e.into_inner());
        !token.is_empty() && constant_time_eq(&token, presented)
    }

    /// Whether a `Cookie` header value carries the session cookie with the token in use.
    pub fn allows_cookie(&self, cookie: Option<&str>) -> bool {
        if self.path.is_none() {
            return true;
        }
        let presented = cookie
            .and_then(|header| cookie_value(header, COOKIE_NAME))
            .and_then(decode_hex);
        match presented {
            Some(bytes) => self.matches(&bytes),
            None => false,
        }
    }

    /// The session cookie's value for the token in use (its hex encoding).
    pub fn cookie_value(&self) -> String {
        let token = self.token.read().unwrap_or_else(|e| e.into_inner());
        token.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The value of cookie `name` in a `Cookie` header (`a=1; b=2`), the first one named so.
fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_the_trimmed_first_line() {
        assert_eq!(parse_token("  abc123 \nsecond line\n").unwrap(), b"abc123");
        assert_eq!(parse_token("tok"), Ok(b"tok".to_vec()));
        assert!(parse_token("").is_err());
        assert!(parse_token("\nabc").is_err());
        assert!(parse_token("two words").is_err());
    }

    #[test]
    fn only_the_right_bearer_token_passes() {
        let dir = std::env::temp_dir().join(format!("rtmp-token-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "s3cret-token\n").unwrap();
        let token = HttpToken::new(Some(path.clone()));
        assert!(
            !token.allows(Some("Bearer s3cret-token")),
            "nothing passes before loading"
        );
        token.reload().unwrap();
        assert!(token.allows(Some("Bearer s3cret-token")));
        assert!(token.allows(Some("bearer s3cret-token")));
        assert!(!token.allows(Some("Bearer s3cret-tokem")));
        assert!(!token.allows(Some("Bearer s3cret-token2")));
        assert!(!token.allows(Some("Basic s3cret-token")));
        assert!(!token.allows(Some("s3cret-token")));
        assert!(!token.allows(Some("Bearer ")));
        assert!(!token.allows(None));
        // A broken file keeps the token in use; a good one replaces it.
        std::fs::write(&path, "\n").unwrap();
        let error = token.reload().unwrap_err().to_string();
        assert!(!error.contains("s3cret"), "{error}");
        assert!(token.allows(Some("Bearer s3cret-token")));
        std::fs::write(&path, "next-token").unwrap();
        token.reload().unwrap();
        assert!(!token.allows(Some("Bearer s3cret-token")));
        assert!(token.allows(Some("Bearer next-token")));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(HttpToken::new(None).allows(None), "no token file: open API");
    }

    #[test]
    fn only_the_right_session_cookie_passes() {
        let dir = std::env::temp_dir().join(format!("rtmp-token-cookie-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "s3cret\n").unwrap();
        let token = HttpToken::new(Some(path));
        assert!(
            !token.allows_cookie(Some("rtmp_token=")),
            "nothing passes before loading"
        );
        token.reload().unwrap();
        let value = token.cookie_value();
        assert_eq!(value, "733363726574");
        assert!(token.allows_cookie(Some(&format!("rtmp_token={value}"))));
        assert!(token.allows_cookie(Some(&format!("a=b; rtmp_token={value}; c=d"))));
        assert!(!token.allows_cookie(Some("rtmp_token=733363726575")));
        assert!(!token.allows_cookie(Some("rtmp_token=s3cret")));
        assert!(!token.allows_cookie(Some("rtmp_token=7")));
        assert!(!token.allows_cookie(Some(&format!("other={value}"))));
        assert!(!token.allows_cookie(None));
        assert!(token.matches(b"s3cret") && !token.matches(b"s3cre"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(HttpToken::new(None).allows_cookie(None), "no token file: open API");
    }
}
