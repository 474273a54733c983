//! `[[source]]` tables of the config file: supervised source commands (not yet supported).

use super::file::{location, ConfigError};
use toml::de::DeValue;
use toml::Spanned;

/// The array-of-tables key.
pub const TABLE: &str = "source";

/// One `[[source]]` table as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTable {
    pub name: String,
}

/// Parses the value of the top-level `source` key.
pub fn parse_tables(
    path: &str,
    text: &str,
    value: &Spanned<DeValue<'_>>,
) -> Result<Vec<SourceTable>, Vec<ConfigError>> {
    Err(vec![ConfigError::UnknownKey {
        at: location(path, text, value.span().start),
        key: TABLE.to_owned(),
    }])
}
