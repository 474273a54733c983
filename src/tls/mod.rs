//! RTMPS: rustls configurations built from PEM files, with typed errors that name the file.
//! `server_config` serves `--tls-listen` with `--tls-cert`/`--tls-key`; `client_config` is
//! what the RTMP client uses for rtmps:// (the system roots plus `--push-ca`). The crypto
//! provider is always ring, passed explicitly (no process-wide default to install).
//! `options` checks the flags, `server_stream` runs the TLS side of a server connection.

pub mod options;
pub mod server_stream;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use rustls;

/// Why a certificate, key or CA file could not be used.
#[derive(Debug)]
pub enum TlsError {
    /// The file could not be read (missing, unreadable).
    Read { path: PathBuf, error: io::Error },
    /// The file is not valid PEM.
    Pem { path: PathBuf, error: pem::Error },
    /// The file holds no `CERTIFICATE` section.
    NoCertificate { path: PathBuf },
    /// The file holds no private key (PKCS#8, PKCS#1 or SEC1).
    NoKey { path: PathBuf },
    /// The key is of a kind rustls cannot sign with, or malformed.
    UnsupportedKey { path: PathBuf, error: rustls::Error },
    /// The key is not the one of the certificate's public key.
    KeyMismatch { cert: PathBuf, key: PathBuf },
    /// A CA certificate rustls refused as a trust anchor.
    BadCa { path: PathBuf, error: rustls::Error },
    /// The certificate chain or settings were refused (e.g. a malformed certificate).
    Config { path: PathBuf, error: rustls::Error },
    /// No trust anchor at all: no system roots and no extra CA.
    NoRoots,
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsError::Read { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            TlsError::Pem { path, error } => write!(f, "{} is not valid PEM: {error}", path.display()),
            TlsError::NoCertificate { path } => {
                write!(f, "no certificate (CERTIFICATE PEM section) in {}", path.display())
            }
            TlsError::NoKey { path } => write!(
                f,
                "no private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY PEM section) in {}",
                path.display()
            ),
            TlsError::UnsupportedKey { path, error } => {
                write!(f, "unsupported or malformed private key in {}: {error}", path.display())
            }
            TlsError::KeyMismatch { cert, key } => write!(
                f,
                "the private key in {} does not match the certificate in {}",
                key.display(),
                cert.display()
            ),
            TlsError::BadCa { path, error } => write!(f, "unusable CA certificate in {}: {error}", path.display()),
            TlsError::Config { path, error } => write!(f, "certificate in {} refused: {error}", path.display()),
            TlsError::NoRoots => write!(
                f,
                "no trusted root certificates (none in the system store, no extra CA)"
            ),
        }
    }
}

impl std::error::Error for TlsError {}

/// The one crypto provider of the project.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        path: path.to_path_buf(),
        error,
    })
}

/// Every certificate in a PEM file, in order; at least one.
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::Pem {
            path: path.to_path_buf(),
            error,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The first private key in a PEM file.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_path_buf(),
        },
        error => TlsError::Pem {
            path: path.to_path_buf(),
            error,
        },
    })
}

/// The server's TLS configuration: the chain in `cert` (leaf first) and the key in `key`,
/// checked to belong together.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = load_certificates(cert)?;
    let private_key = load_private_key(key)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config {
            path: cert.to_path_buf(),
            error,
        })?
        .with_no_client_auth();
    let config = builder
        .with_single_cert(chain, private_key)
        .map_err(|error| match error {
            rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            },
            rustls::Error::General(_) => TlsError::UnsupportedKey {
                path: key.to_path_buf(),
                error,
            },
            error => TlsError::Config {
                path: cert.to_path_buf(),
                error,
            },
        })?;
    Ok(Arc::new(config))
}

/// The client's TLS configuration: the system's root certificates plus every certificate
/// in `extra_ca` (which must hold at least one usable CA).
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        log::debug!("system root certificates: {error}");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    log::debug!("system root certificates loaded={added} ignored={ignored}");
    if let Some(path) = extra_ca {
        for cert in load_certificates(path)? {
            roots.add(cert).map_err(|error| TlsError::BadCa {
                path: path.to_path_buf(),
                error,
            })?;
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    client_config_with_roots(roots, extra_ca)
}

/// A client configuration trusting exactly `roots` (tests, and `client_config`).
pub fn client_config_with_roots(roots: RootCertStore, ca: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config {
            path: ca.map(Path::to_path_buf).unwrap_or_default(),
            error,
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A client configuration trusting only the CA certificates in `path` (no system roots):
/// for a private origin, and for tests that must not depend on the machine's store.
pub fn client_config_only(path: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certificates(path)? {
        roots.add(cert).map_err(|error| TlsError::BadCa {
            path: path.to_path_buf(),
            error,
        })?;
    }
    client_config_with_roots(roots, Some(path))
}
