//! Recording: the manager decides which publishes record and parks recordings across
//! reconnects (`manager`); a connection feeds its recording through the `recorder` handle
//! (bounded queue, back-pressure), and one writer thread per recording (`output`) owns its
//! files, driven by the I/O-free `segmenter` (start points, rotation, bytes) and `timeline`
//! (timestamp rebase), writing through `sink` (staged, `O_DIRECT`); `naming` (templates,
//! `.part` files), `disk` (free space), `retention`, `walk` (the record dir's files), `hook` (the
//! `--on-record-done` pool; `hook_program` runs one),
//! `recover` (start-up repair of `.part` files), `options` (the `--record-*` flags) and
//! `status` (file, bytes and counters for the API).

pub mod disk;
pub mod hook;
pub mod hook_program;
pub mod manager;
pub mod naming;
pub mod options;
pub mod output;
pub mod recorder;
pub mod recover;
pub mod retention;
pub mod segmenter;
pub mod sink;
pub mod status;
pub mod timeline;
pub mod walk;
