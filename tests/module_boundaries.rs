//! Module boundaries as a rule: the sans-IO protocol core names nothing of the layers above
//! it. Every `crate::` path in src/protocol (test files aside) must stay inside
//! `crate::protocol`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::` paths in `text` that leave `crate::protocol`, with their line numbers.
fn outside_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let path: String = rest[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if !path.starts_with("crate::protocol") {
                found.push((number + 1, path.clone()));
            }
            rest = &rest[at + "crate::".len()..];
        }
    }
    found
}

#[test]
fn the_protocol_core_uses_nothing_outside_protocol() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/protocol");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 10, "src/protocol was read");
    let mut offenders = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with("_tests.rs") || name == "tests.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // A file's own unit-test module (at its end) may use anything.
        let code = text.split("#[cfg(test)]\nmod tests {").next().unwrap_or(&text);
        for (line, path) in outside_paths(code) {
            offenders.push(format!("{}:{line}: {path}", file.display()));
        }
    }
    assert!(
        offenders.is_empty(),
        "protocol reaches outside itself:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_check_sees_paths_outside_protocol() {
    let found =
        outside_paths("use crate::protocol::amf0;\nuse crate::media::FrameKind; x(crate::flv::reader::parse_tag)");
    assert_eq!(
        found,
        vec![
            (2, "crate::media::FrameKind".to_owned()),
            (2, "crate::flv::reader::parse_tag".to_owned())
        ]
    );
}
