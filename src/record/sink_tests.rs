//! FileSink against a model: whatever mix of appends, flushes and in-place rewrites, the file
//! ends up byte-identical to the model, and `written` counts only what reached the kernel.

use super::*;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rtmp-sink-unit-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("out.flv.part")
}

fn create(path: &Path, direct: bool) -> FileSink {
    let file = File::options().write(true).create_new(true).open(path).unwrap();
    if direct {
        FileSink::new(file, path)
    } else {
        FileSink::buffered(file)
    }
}

/// Deterministic bytes that differ at every offset within a stage.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn a_small_append_reaches_the_file_on_flush_only() {
    let path = scratch("small");
    let mut sink = create(&path, true);
    sink.append(b"FLV\x01\x05").unwrap();
    assert_eq!(sink.written(), 0);
    assert_eq!(std::fs::read(&path).unwrap(), b"");
    sink.flush().unwrap();
    assert_eq!(sink.written(), 5);
    assert_eq!(std::fs::read(&path).unwrap(), b"FLV\x01\x05");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// Appends of awkward sizes (crossing stage ends, one larger than three stages), flushes at
/// unaligned points and rewrites both in the stage and behind it.
fn mixed_workload(path: &Path, direct: bool) -> FileSink {
    let mut sink = create(path, direct);
    let mut model = Vec::new();
    let sizes = [
        13usize,
        4096,
        4083,
        700_001,
        1,
        1_048_576,
        3 * STAGE_BYTES + 77,
        9,
        65_536,
        300_000,
    ];
    for (i, size) in sizes.iter().enumerate() {
        let data = pattern(*size, i as u32);
        sink.append(&data).unwrap();
        model.extend_from_slice(&data);
        assert!(sink.written() <= model.len() as u64);
        if i % 3 == 1 {
            sink.flush().unwrap();
            assert_eq!(sink.written(), model.len() as u64);
        }
        // Rewrite the header region and a span just behind the end of the model.
        if model.len() >= 53 {
            let patch = pattern(40, 100 + i as u32);
            sink.write_at(&patch, 13).unwrap();
            model[13..53].copy_from_slice(&patch);
            let at = model.len() - 30;
            let patch = pattern(20, 200 + i as u32);
            sink.write_at(&patch, at as u64).unwrap();
            model[at..at + 20].copy_from_slice(&patch);
            assert_eq!(sink.written(), model.len() as u64, "write_at flushes first");
        }
        sink.append(b"x").unwrap();
        model.push(b'x');
    }
    sink.flush().unwrap();
    assert_eq!(sink.written(), model.len() as u64);
    let on_disk = std::fs::read(path).unwrap();
    assert_eq!(on_disk.len(), model.len());
    assert!(on_disk == model, "file differs from the model");
    sink
}

#[test]
fn direct_and_buffered_writes_mix_into_exactly_the_appended_bytes() {
    let path = scratch("mixed-direct");
    let sink = mixed_workload(&path, true);
    // On a file system that takes O_DIRECT, none of those writes may have been refused: a
    // misaligned buffer, offset or length would have turned direct writes off.
    let supports_direct = File::options()
        .write(true)
        .custom_flags(direct_flag())
        .open(&path)
        .is_ok();
    assert_eq!(sink.is_direct(), supports_direct);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn a_buffered_only_sink_writes_the_same_bytes() {
    let path = scratch("mixed-buffered");
    let sink = mixed_workload(&path, false);
    assert!(!sink.is_direct());
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn the_stage_is_aligned_never_moves_and_starts_untouched() {
    let path = scratch("aligned");
    let mut sink = create(&path, false);
    let start = sink.memory.as_ptr() as usize;
    assert_eq!((start + sink.window) % DIRECT_ALIGN, 0);
    assert!(sink.window + STAGE_BYTES <= sink.memory.capacity());
    assert_eq!(sink.memory.len(), sink.window, "nothing staged, nothing filled");
    sink.append(&pattern(STAGE_BYTES * 5 / 2, 9)).unwrap();
    sink.flush().unwrap();
    assert_eq!(sink.memory.as_ptr() as usize, start, "the stage was never reallocated");
    assert!(
        sink.memory.len() < sink.window + DIRECT_ALIGN,
        "a flush keeps only the last partial block"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
