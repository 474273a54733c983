//! The `--upload*` settings: where recordings go (`s3://BUCKET/PREFIX`, endpoint, region,
//! URL style), how (concurrency, part size) and what happens to the local file. Parsers for
//! the flags, the object key of a file, and the credentials (from a file or the environment;
//! their Debug never shows the secret).

use std::path::{Path, PathBuf};

pub const DEFAULT_UPLOAD_CONCURRENCY: usize = 2;
pub const DEFAULT_UPLOAD_PART_SIZE: u64 = 16 * 1024 * 1024;
/// Parts smaller than this are refused (S3 needs 5 MiB, but stores such as Garage and MinIO
/// accept smaller ones; tests use them).
pub const MIN_UPLOAD_PART_SIZE: u64 = 64 * 1024;
pub const DEFAULT_REGION: &str = "us-east-1";

/// `s3://BUCKET/PREFIX` of `--upload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTarget {
    pub bucket: String,
    /// No leading or trailing slash; empty for none.
    pub prefix: String,
}

/// Parses `--upload s3://BUCKET[/PREFIX]`.
pub fn parse_upload_target(value: &str) -> Result<UploadTarget, String> {
    let error = || "expected s3://BUCKET or s3://BUCKET/PREFIX".to_owned();
    let rest = value.strip_prefix("s3://").ok_or_else(error)?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    if bucket.len() < 3 || bucket.len() > 63 || !bucket.chars().all(valid) {
        return Err(format!("{}: bucket names are 3 to 63 of a-z 0-9 . -", error()));
    }
    Ok(UploadTarget {
        bucket: bucket.to_owned(),
        prefix: prefix.trim_matches('/').to_owned(),
    })
}

/// Parses `--upload-endpoint`: an http:// or https:// URL.
pub fn parse_endpoint(value: &str) -> Result<url::Url, String> {
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
        _ => Err("expected an http:// or https:// URL such as http://127.0.0.1:3900".to_owned()),
    }
}

/// Parses `--upload-concurrency`: 1 to 64.
pub fn parse_concurrency(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err("expected a number from 1 to 64".to_owned()),
    }
}

/// Largest part size: each part in flight is held in memory (times the concurrency).
pub const MAX_UPLOAD_PART_SIZE: u64 = 1024 * 1024 * 1024;

/// Parses `--upload-part-size`: a size of at least 64K, at most 1G.
pub fn parse_part_size(value: &str) -> Result<u64, String> {
    let size = crate::record::options::parse_size(value)?;
    if !(MIN_UPLOAD_PART_SIZE..=MAX_UPLOAD_PART_SIZE).contains(&size) {
        return Err("expected a part size from 64K to 1G (each part in flight is held in memory)".to_owned());
    }
    Ok(size)
}

/// Everything about uploads of one stream's recordings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOptions {
    pub target: UploadTarget,
    /// None: AWS (`https://s3.REGION.amazonaws.com`).
    pub endpoint: Option<url::Url>,
    pub region: String,
    /// None: on for a custom endpoint, off for AWS.
    pub path_style: Option<bool>,
    pub credentials_file: Option<PathBuf>,
    pub delete: bool,
    pub concurrency: usize,
    pub part_size: u64,
    pub delete_unsent_when_full: bool,
}

impl UploadOptions {
    pub fn uses_path_style(&self) -> bool {
        self.path_style.unwrap_or(self.endpoint.is_some())
    }

    /// The endpoint requests go to.
    pub fn endpoint_url(&self) -> Result<url::Url, String> {
        match &self.endpoint {
            Some(url) => Ok(url.clone()),
            None => parse_endpoint(&format!("https://s3.{}.amazonaws.com", self.region)),
        }
    }

    /// Where this target's objects are, for logs and the API: `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        match self.target.prefix.as_str() {
            "" => format!("s3://{}", self.target.bucket),
            prefix => format!("s3://{}/{prefix}", self.target.bucket),
        }
    }
}

/// The object key of `relative` (a file's path under the record dir): `PREFIX/relative`,
/// one slash between them; the path alone without a prefix.
pub fn object_key(prefix: &str, relative: &Path) -> String {
    let path: Vec<String> = relative
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let path = path.join("/");
    match prefix.trim_matches('/') {
        "" => path,
        prefix => format!("{prefix}/{path}"),
    }
}

/// An access key pair (and session token). Debug shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub key_id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.key_id)
    }
}

/// Why no credentials could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsError {
    /// The file could not be read (the OS error).
    Unreadable(PathBuf, String),
    /// The file lacks the key id or the secret.
    Incomplete(PathBuf),
    /// No file and no `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.
    Missing,
}

impl std::fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialsError::Unreadable(path, e) => write!(f, "credentials file {} unreadable: {e}", path.display()),
            CredentialsError::Incomplete(path) => write!(
                f,
                "credentials file {} needs access_key_id and secret_access_key",
                path.display()
            ),
            CredentialsError::Missing => {
                f.write_str("no credentials: set --upload-credentials-file or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
            }
        }
    }
}

/// Parses a credentials file: `key = value` lines (`access_key_id`, `secret_access_key`,
/// `session_token`, with or without the `aws_` prefix, as in `~/.aws/credentials`); `#`
/// comments and `[section]` lines are ignored.
pub fn parse_credentials(text: &str) -> Option<Credentials> {
    let (mut key_id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.starts_with('[') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_owned();
        match name.trim().to_ascii_lowercase().trim_start_matches("aws_") {
            "access_key_id" => key_id = Some(value),
            "secret_access_key" => secret = Some(value),
            "session_token" => token = Some(value),
            _ => {}
        }
    }
    Some(Credentials {
        key_id: key_id.filter(|k| !k.is_empty())?,
        secret: secret.filter(|s| !s.is_empty())?,
        token: token.filter(|t| !t.is_empty()),
    })
}

/// The credentials in force now: the file when one is set (read on every call, so a fixed
/// file applies at the next attempt), else the environment.
pub fn load_credentials(file: Option<&Path>) -> Result<Credentials, CredentialsError> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CredentialsError::Unreadable(path.to_path_buf(), e.to_string()))?;
        return parse_credentials(&text).ok_or_else(|| CredentialsError::Incomplete(path.to_path_buf()));
    }
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(key_id), Some(secret)) => Ok(Credentials {
            key_id,
            secret,
            token: var("AWS_SESSION_TOKEN"),
        }),
        _ => Err(CredentialsError::Missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_keys_and_credentials_parse() {
        let t = parse_upload_target("s3://rec-bucket/edge/one/").unwrap();
        assert_eq!((t.bucket.as_str(), t.prefix.as_str()), ("rec-bucket", "edge/one"));
        assert_eq!(parse_upload_target("s3://rec").unwrap().prefix, "");
        assert!(parse_upload_target("http://x/y").is_err());
        assert!(parse_upload_target("s3://UP").is_err());
        assert_eq!(object_key("edge/", Path::new("live/a.flv")), "edge/live/a.flv");
        assert_eq!(object_key("", Path::new("a.flv")), "a.flv");
        assert!(parse_endpoint("ftp://x").is_err());
        assert!(parse_part_size("1K").is_err());
        assert_eq!(parse_part_size("1M").unwrap(), 1024 * 1024);
        assert!(parse_part_size("2G").is_err());
        let c = parse_credentials("[default]\n# c\naws_access_key_id = GK1\nsecret_access_key=\"s3cr3t\"\n").unwrap();
        assert_eq!(
            (c.key_id.as_str(), c.secret.as_str(), c.token.clone()),
            ("GK1", "s3cr3t", None)
        );
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert_eq!(parse_credentials("access_key_id=a\n"), None);
    }
}
