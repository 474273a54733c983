//! Test certificates: a CA and a server certificate for localhost/127.0.0.1 it signed
//! (rcgen), written as PEM files, and a recording server with an RTMPS listener using them.

use super::{field, ServerProcess, DEADLINE};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A test CA and a server certificate it signed, as PEM files.
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn make_pki(dir: &Path, name: &str) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("rtmp-server test CA {name}"));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca).unwrap();
    let pki = Pki {
        ca: dir.join(format!("{name}-ca.pem")),
        cert: dir.join(format!("{name}-cert.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.cert, cert.pem()).unwrap();
    std::fs::write(&pki.key, key.serialize_pem()).unwrap();
    pki
}

/// A server recording everything into `record_dir` with an RTMPS listener on 127.0.0.1 using
/// `pki`'s certificate; returns it and its TLS address.
pub fn recording_tls_server(record_dir: &Path, pki: &Pki, extra: &[&str]) -> (ServerProcess, SocketAddr) {
    let mut args = vec![
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
        pki.cert.to_str().unwrap(),
        "--tls-key",
        pki.key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let server = ServerProcess::start(&args);
    let line = server.wait_for_log("RTMPS server listening", DEADLINE);
    let addr = field(&line, "addr").expect("addr in the RTMPS listening line");
    (server, addr.parse().unwrap())
}
