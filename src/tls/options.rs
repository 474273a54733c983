//! The RTMPS settings (`--tls-listen`, `--tls-cert`, `--tls-key`, `--push-ca`) and the check
//! that the three listening flags come together.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where and with what the server accepts RTMPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsListen {
    pub addr: SocketAddr,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// All RTMPS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// None: no RTMPS listener.
    pub listen: Option<TlsListen>,
    /// Extra CA trusted (besides the system roots) for rtmps:// push targets.
    pub push_ca: Option<PathBuf>,
}

impl TlsOptions {
    /// Builds the settings; `--tls-listen`, `--tls-cert` and `--tls-key` go together.
    /// The error is the usage line (without the program name).
    pub fn from_flags(
        listen: Option<SocketAddr>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        push_ca: Option<PathBuf>,
    ) -> Result<TlsOptions, String> {
        let listen = match (listen, cert, key) {
            (None, None, None) => None,
            (Some(addr), Some(cert), Some(key)) => Some(TlsListen { addr, cert, key }),
            (listen, cert, key) => {
                let missing: Vec<&str> = [
                    (listen.is_none(), "--tls-listen"),
                    (cert.is_none(), "--tls-cert"),
                    (key.is_none(), "--tls-key"),
                ]
                .iter()
                .filter(|(absent, _)| *absent)
                .map(|(_, flag)| *flag)
                .collect();
                return Err(format!(
                    "--tls-listen, --tls-cert and --tls-key go together: missing {}",
                    missing.join(" and ")
                ));
            }
        };
        Ok(TlsOptions { listen, push_ca })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_or_none() {
        let addr: SocketAddr = "127.0.0.1:1936".parse().unwrap();
        assert_eq!(
            TlsOptions::from_flags(None, None, None, None),
            Ok(TlsOptions::default())
        );
        let full = TlsOptions::from_flags(Some(addr), Some("c.pem".into()), Some("k.pem".into()), None).unwrap();
        assert_eq!(full.listen.unwrap().addr, addr);
        let err = TlsOptions::from_flags(Some(addr), Some("c.pem".into()), None, None).unwrap_err();
        assert_eq!(
            err,
            "--tls-listen, --tls-cert and --tls-key go together: missing --tls-key"
        );
        let err = TlsOptions::from_flags(None, None, Some("k.pem".into()), None).unwrap_err();
        assert!(err.ends_with("missing --tls-listen and --tls-cert"), "{err}");
    }
}
