//! Recording: one writer thread per recording owns its FLV file (`recorder`), file names
//! that can never leave the record directory (`naming`).

pub mod naming;
pub mod recorder;
pub mod writer;
