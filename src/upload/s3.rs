//! The S3 calls an upload needs, each one blocking request: rusty-s3 signs (presigned
//! SigV4 URLs, sans-IO) and parses, ureq sends. Errors are typed and sorted into kinds
//! (`auth`, `no_bucket`, `network`...) for the log, the retry and the metrics.

use super::options::{Credentials, UploadOptions};
use rusty_s3::actions::{CompleteMultipartUploadResponse, CreateMultipartUpload};
use rusty_s3::{Bucket, S3Action, UrlStyle};
use std::time::Duration;

/// How long a signed URL stays valid.
const SIGN_FOR: Duration = Duration::from_secs(3600);
/// Bound of one request (a part of 16M on a slow link included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// Bound of connecting to the store.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer body read (XML answers; `get` in tests).
const MAX_ANSWER: u64 = 1 << 30;

/// Why an S3 call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Error {
    /// No answer (connection refused, reset, timeout...).
    Transport(String),
    /// An error answer: HTTP status and the S3 error code and message.
    Status { status: u16, code: String, message: String },
    /// A 2xx answer we could not use.
    BadAnswer(String),
    /// The store holds something else than what was sent.
    Verify(String),
    /// The settings cannot make a request (bad endpoint or bucket).
    Setup(String),
}

impl S3Error {
    /// The failure's kind, for logs and `rtmp_upload_failures_total{kind}`.
    pub fn kind(&self) -> &'static str {
        match self {
            S3Error::Transport(_) => "network",
            S3Error::Status { code, .. } if code == "NoSuchBucket" => "no_bucket",
            S3Error::Status { code, .. } if code == "NoSuchUpload" => "no_upload",
            S3Error::Status { status: 401 | 403, .. } => "auth",
            S3Error::Status { code, .. }
                if matches!(
                    code.as_str(),
                    "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied"
                ) =>
            {
                "auth"
            }
            S3Error::Status { status, .. } if *status >= 500 => "server",
            S3Error::Status { .. } => "refused",
            S3Error::BadAnswer(_) => "bad_answer",
            S3Error::Verify(_) => "verify",
            S3Error::Setup(_) => "setup",
        }
    }
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            S3Error::Transport(e) => write!(f, "no answer: {e}"),
            S3Error::Status { status, code, message } => write!(f, "HTTP {status} {code}: {message}"),
            S3Error::BadAnswer(e) => write!(f, "unusable answer: {e}"),
            S3Error::Verify(e) => write!(f, "verification failed: {e}"),
            S3Error::Setup(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for S3Error {}

/// The text between `<tag>` and `</tag>`, first occurrence.
fn xml_field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml.get(start..)?.find(&format!("</{tag}>"))? + start;
    xml.get(start..end)
}

/// The (key, upload id) pairs of a ListMultipartUploads answer, and whether it is truncated.
pub fn parse_uploads(xml: &str) -> (Vec<(String, String)>, bool) {
    let mut found = Vec::new();
    for chunk in xml.split("<Upload>").skip(1) {
        if let (Some(key), Some(id)) = (xml_field(chunk, "Key"), xml_field(chunk, "UploadId")) {
            found.push((unescape(key), unescape(id)));
        }
    }
    (found, xml_field(xml, "IsTruncated") == Some("true"))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// What HEAD says about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub bytes: u64,
    pub etag: String,
}

/// One bucket with one set of credentials.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    bucket: Bucket,
    credentials: rusty_s3::Credentials,
}

type Answer = ureq::http::Response<ureq::Body>;

impl Client {
    pub fn new(options: &UploadOptions, credentials: &Credentials) -> Result<Client, S3Error> {
        let endpoint = options.endpoint_url().map_err(S3Error::Setup)?;
        let style = if options.uses_path_style() {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(endpoint, style, options.target.bucket.clone(), options.region.clone())
            .map_err(|e| S3Error::Setup(format!("bucket: {e}")))?;
        let credentials = match &credentials.token {
            Some(token) => rusty_s3::Credentials::new_with_token(&credentials.key_id, &credentials.secret, token),
            None => rusty_s3::Credentials::new(&credentials.key_id, &credentials.secret),
        };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .build()
            .into();
        Ok(Client {
            agent,
            bucket,
            credentials,
        })
    }

    /// The answer when 2xx, else its error.
    fn check(result: Result<Answer, ureq::Error>) -> Result<Answer, S3Error> {
        let mut answer = result.map_err(|e| S3Error::Transport(e.to_string()))?;
        let status = answer.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        let body = answer
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let code = xml_field(&body, "Code").unwrap_or(match status {
            404 => "NotFound",
            403 => "Forbidden",
            _ => "",
        });
        Err(S3Error::Status {
            status,
            code: code.to_owned(),
            message: xml_field(&body, "Message").unwrap_or_default().to_owned(),
        })
    }

    fn text(mut answer: Answer) -> Result<String, S3Error> {
        answer
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| S3Error::Transport(e.to_string()))
    }

    fn etag(answer: &Answer) -> Result<String, S3Error> {
        answer
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| S3Error::BadAnswer("no ETag".to_owned()))
    }

    /// PUTs a whole object with its Content-MD5; returns its ETag.
    pub fn put(&self, key: &str, data: &[u8]) -> Result<String, S3Error> {
        let url = self.bucket.put_object(Some(&self.credentials), key).sign(SIGN_FOR);
        let answer = self
            .agent
            .put(url.as_str())
            .header("content-md5", super::plan::md5_base64(data))
            .send(data);
        Self::etag(&Self::check(answer)?)
    }

    /// Starts a multipart upload; returns its id.
    pub fn create_multipart(&self, key: &str) -> Result<String, S3Error> {
        let url = self
            .bucket
            .create_multipart_upload(Some(&self.credentials), key)
            .sign(SIGN_FOR);
        let answer = Self::check(self.agent.post(url.as_str()).send_empty())?;
        let body = Self::text(answer)?;
        CreateMultipartUpload::parse_response(&body)
            .map(|r| r.upload_id().to_owned())
            .map_err(|e| S3Error::BadAnswer(format!("CreateMultipartUpload: {e}")))
    }

    /// PUTs one part with its Content-MD5; returns its ETag.
    pub fn upload_part(&self, key: &str, upload_id: &str, number: u16, data: &[u8]) -> Result<String, S3Error> {
        let url = self
            .bucket
            .upload_part(Some(&self.credentials), key, number, upload_id)
            .sign(SIGN_FOR);
        let answer = self
            .agent
            .put(url.as_str())
            .header("content-md5", super::plan::md5_base64(data))
            .send(data);
        Self::etag(&Self::check(answer)?)
    }

    /// Completes a multipart upload from its parts' ETags (parts 1..=n in order).
    pub fn complete(&self, key: &str, upload_id: &str, etags: &[String]) -> Result<String, S3Error> {
        let action = self.bucket.complete_multipart_upload(
            Some(&self.credentials),
            key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let url = action.sign(SIGN_FOR);
        let body = action.body();
        let answer = Self::check(self.agent.post(url.as_str()).send(body.as_bytes()))?;
        let text = Self::text(answer)?;
        if xml_field(&text, "Code").is_some() {
            return Err(S3Error::Status {
                status: 200,
                code: xml_field(&text, "Code").unwrap_or_default().to_owned(),
                message: xml_field(&text, "Message").unwrap_or_default().to_owned(),
            });
        }
        CompleteMultipartUploadResponse::parse(&text)
            .map(|r| r.etag().to_owned())
            .map_err(|e| S3Error::BadAnswer(format!("CompleteMultipartUpload: {e}")))
    }

    pub fn abort(&self, key: &str, upload_id: &str) -> Result<(), S3Error> {
        let url = self
            .bucket
            .abort_multipart_upload(Some(&self.credentials), key, upload_id)
            .sign(SIGN_FOR);
        match Self::check(self.agent.delete(url.as_str()).call()) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == "no_upload" => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Size and ETag of an object.
    pub fn head(&self, key: &str) -> Result<ObjectInfo, S3Error> {
        let url = self.bucket.head_object(Some(&self.credentials), key).sign(SIGN_FOR);
        let answer = Self::check(self.agent.head(url.as_str()).call())?;
        let bytes = answer
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| S3Error::BadAnswer("no Content-Length".to_owned()))?;
        Ok(ObjectInfo {
            bytes,
            etag: Self::etag(&answer)?,
        })
    }

    /// An object's bytes.
    pub fn get(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let url = self.bucket.get_object(Some(&self.credentials), key).sign(SIGN_FOR);
        let mut answer = Self::check(self.agent.get(url.as_str()).call())?;
        answer
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| S3Error::Transport(e.to_string()))
    }

    /// The multipart uploads in progress under `prefix`: (key, upload id).
    pub fn list_uploads(&self, prefix: &str) -> Result<Vec<(String, String)>, S3Error> {
        // Sorted by name: the signer merges them with its own sorted parameters.
        let query = [("prefix", prefix), ("uploads", "")];
        let headers: [(&str, &str); 0] = [];
        let url = rusty_s3::signing::sign(
            &jiff::Timestamp::now(),
            rusty_s3::Method::Get,
            self.bucket.base_url().clone(),
            self.credentials.key(),
            self.credentials.secret(),
            self.credentials.token(),
            self.bucket.region(),
            SIGN_FOR.as_secs(),
            query.iter().copied(),
            headers.iter().copied(),
        );
        let answer = Self::check(self.agent.get(url.as_str()).call())?;
        // One page (1000 uploads) is plenty at start-up; the rest go at the next start.
        Ok(parse_uploads(&Self::text(answer)?).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_answers_and_error_kinds_parse() {
        let xml = "<ListMultipartUploadsResult><Bucket>b</Bucket><IsTruncated>false</IsTruncated>\
                   <Upload><Key>p/a&amp;b.flv</Key><UploadId>u1</UploadId></Upload>\
                   <Upload><Key>p/c.flv</Key><UploadId>u2</UploadId></Upload></ListMultipartUploadsResult>";
        let (uploads, truncated) = parse_uploads(xml);
        assert_eq!(
            uploads,
            vec![("p/a&b.flv".into(), "u1".into()), ("p/c.flv".into(), "u2".into())]
        );
        assert!(!truncated);
        let status = |status, code: &str| S3Error::Status {
            status,
            code: code.into(),
            message: String::new(),
        };
        assert_eq!(status(403, "InvalidAccessKeyId").kind(), "auth");
        assert_eq!(status(400, "SignatureDoesNotMatch").kind(), "auth");
        assert_eq!(status(404, "NoSuchBucket").kind(), "no_bucket");
        assert_eq!(status(503, "SlowDown").kind(), "server");
        assert_eq!(S3Error::Transport("refused".into()).kind(), "network");
    }
}
