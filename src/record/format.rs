//! The recording formats: each one's file extension, muxer and repair, and which format a
//! file on disk is. A new format is one variant here and its muxer file.

use super::flv_muxer::FlvMuxer;
use super::mp4_muxer::Mp4Muxer;
use super::muxer::Muxer;
use crate::flv::repair::{RepairError, RepairReport};
use std::path::Path;

/// The recording formats (`--record-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Flv,
    /// Fragmented MP4 (`mp4_muxer`).
    Mp4,
}

impl Format {
    pub const ALL: [Format; 2] = [Format::Flv, Format::Mp4];

    /// A format by its name (`flv`, `mp4`), for `--record-format`.
    pub fn parse(value: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.extension() == value)
            .ok_or_else(|| "expected flv or mp4".to_owned())
    }

    /// The extension of its files, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Flv => "flv",
            Format::Mp4 => "mp4",
        }
    }

    /// A new muxer for one recording's files.
    pub fn muxer(self) -> Box<dyn Muxer> {
        match self {
            Format::Flv => Box::new(FlvMuxer::new()),
            Format::Mp4 => Box::new(Mp4Muxer::new()),
        }
    }

    /// The format of a (finished or `.part`) file, by its extension.
    pub fn of_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?;
        let name = name.strip_suffix(super::naming::PART_SUFFIX).unwrap_or(name);
        let (_, extension) = name.rsplit_once('.')?;
        Format::ALL.into_iter().find(|f| f.extension() == extension)
    }

    /// Repairs a file cut short (crash, I/O error) in place: torn tail cut, reserved header
    /// rebuilt. Content that is not this format is refused unchanged.
    pub fn repair(self, path: &Path) -> Result<RepairReport, RepairError> {
        match self {
            Format::Flv => FlvMuxer::repair(path),
            Format::Mp4 => crate::mp4::repair::repair(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_found_by_extension_with_or_without_part() {
        assert_eq!(Format::of_path(Path::new("/r/a_b.flv")), Some(Format::Flv));
        assert_eq!(Format::of_path(Path::new("/r/a.b-1.flv.part")), Some(Format::Flv));
        assert_eq!(Format::of_path(Path::new("/r/a.FLV.part")), None);
        assert_eq!(Format::of_path(Path::new("/r/a.mkv.part")), None);
        assert_eq!(Format::of_path(Path::new("/r/flv")), None);
        assert_eq!(Format::of_path(Path::new("/r/a.mp4.part")), Some(Format::Mp4));
        assert_eq!(Format::Flv.muxer().extension(), "flv");
        assert_eq!(Format::Mp4.muxer().extension(), "mp4");
        assert_eq!(Format::parse("mp4"), Ok(Format::Mp4));
        assert!(Format::parse("mkv").is_err());
    }
}
