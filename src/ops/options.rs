//! The operations settings (auth, admission and API token flags) and their flag parsers.

use super::cidr::{Cidr, CidrError};
use std::path::PathBuf;

/// Auth and admission settings (`--publish-keys` ... `--max-connections-per-ip`).
#[derive(Debug, Clone, Default)]
pub struct OpsOptions {
    pub publish_keys: Option<PathBuf>,
    pub play_keys: Option<PathBuf>,
    /// Empty: anyone may publish.
    pub allow_publish: Vec<Cidr>,
    pub deny: Vec<Cidr>,
    /// Zero: no per-address limit.
    pub max_connections_per_ip: usize,
    /// `--http-token-file`: the API wants `Authorization: Bearer TOKEN` (None: open API).
    pub http_token_file: Option<PathBuf>,
}

pub fn parse_cidr(value: &str) -> Result<Cidr, String> {
    value.parse().map_err(|e: CidrError| e.to_string())
}

pub fn parse_max_connections(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a whole number of at least 1".to_owned()),
    }
}
