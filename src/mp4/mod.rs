//! Fragmented MP4 (ISO BMFF) files, pure bytes in and out except `repair`: `boxes` (box
//! writing and reading), `entries` (sample entries per codec), `init` (`ftyp` + `moov`,
//! duration fields), `fragment` (`moof` + `mdat`), `index` (the reserved `sidx`), `reader`
//! (tracks and samples of a fragmented file, for the client's E-RTMP publishing) and
//! `repair` (a file cut short: torn fragment cut, index and durations rebuilt).

pub mod boxes;
pub mod entries;
pub mod fragment;
pub mod index;
pub mod init;
pub mod reader;
pub mod repair;
