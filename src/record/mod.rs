//! Recording: the manager decides which publishes record and parks recordings across
//! reconnects (`manager`); a connection feeds its recording through the `recorder` handle
//! (bounded queue, back-pressure), and one writer thread per recording (`output`) owns its
//! files. The writer is driven by the format-neutral, I/O-free `planner` (start points,
//! rotation, held sequence headers and data, each file's timestamp base; `timeline` rebases
//! discontinuities and reconnects) and holds a list of sinks, one per recording format: a
//! `muxer` (the `Muxer` trait, bytes only: open, append, in-place checkpoint/finalize,
//! repair, extension; `flv_muxer` is FLV, `mp4_muxer` fragmented MP4; `format` lists them) and its open file, written
//! through `sink` (staged, `O_DIRECT`); `naming` (templates, `.EXT.part` files), `disk`
//! (free space), `retention`, `walk` (the record dir's files), `hook` (the
//! `--on-record-done` pool; `hook_program` runs one), `recover` (start-up repair of `.part`
//! files by their format), `remux` (FLV to MP4 offline) `remux_range` (a time range of
//! an FLV file as MP4 made while it is sent) and `mp4_range` (a time range of an MP4 file,
//! its fragments copied), `options` (the `--record-*` flags) and `status` (file, bytes and
//! counters for the API).

pub mod disk;
pub mod flv_muxer;
pub mod format;
pub mod hook;
pub mod hook_program;
pub mod manager;
pub mod mp4_muxer;
pub mod mp4_range;
pub mod muxer;
pub mod naming;
pub mod options;
pub mod output;
pub mod planner;
pub mod recorder;
pub mod recover;
pub mod remux;
pub mod remux_range;
pub mod retention;
pub mod sink;
pub mod status;
#[cfg(test)]
pub(crate) mod test_frames;
pub mod timeline;
pub mod walk;
