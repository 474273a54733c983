//! The uploader's queue without a store: a recording is journaled when it starts, named when
//! it is finalized, dropped when it fails, kept from retention until uploaded.

use super::options::{parse_endpoint, parse_upload_target, UploadOptions};
use super::*;
use crate::events::StreamName;
use std::time::{Duration, Instant};

fn options(delete_unsent: bool) -> Arc<UploadOptions> {
    Arc::new(UploadOptions {
        target: parse_upload_target("s3://bucket/p").unwrap(),
        // Nothing listens there: every attempt fails, the queue stays.
        endpoint: Some(parse_endpoint("http://127.0.0.1:9").unwrap()),
        region: "r".into(),
        path_style: None,
        credentials_file: None,
        delete: false,
        concurrency: 1,
        part_size: 1 << 20,
        delete_unsent_when_full: delete_unsent,
    })
}

fn wait_for(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn recordings_are_journaled_at_start_named_at_finalize_and_kept_from_retention() {
    let dir = std::env::temp_dir().join(format!("rtmp-upload-queue-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bus = Arc::new(EventBus::new());
    let settings: SettingsFor = Arc::new(|app: &str, _: &str| (app == "live").then(|| options(false)));
    let uploader = Uploader::start(&dir, &bus, settings, Arc::new(Vec::new));
    let name = StreamName::new("live", "cam");
    let part = dir.join("a.flv.part");
    std::fs::write(&part, b"flv").unwrap();
    bus.emit(Event::RecordingStarted {
        name: name.clone(),
        path: part.clone(),
    });
    // Inline: journaled before emit returns; not yet in the upload queue.
    assert_eq!(journal::load(&journal::queue_dir(&dir)).0.len(), 1);
    assert!(uploader.queue().is_empty());
    let done = dir.join("a.flv");
    assert!(!uploader.may_delete(&done), "finalized, its event not seen yet: kept");
    std::fs::rename(&part, &done).unwrap();
    bus.emit(Event::RecordingFinalized {
        name: name.clone(),
        path: done.clone(),
        duration_ms: 1,
        bytes: 3,
        publisher: crate::events::Publisher {
            conn_id: 1,
            remote: "127.0.0.1:5000".parse().unwrap(),
            query: crate::events::Query::default(),
        },
    });
    wait_for("the file queued", || uploader.queue().len() == 1);
    let queued = uploader.queue();
    assert_eq!((queued[0].path.as_path(), queued[0].bytes), (Path::new("a.flv"), 3));
    assert!(!uploader.may_delete(&done) && uploader.may_delete(&dir.join("other.flv")));

    // Another stream's recording fails: its entry goes.
    bus.emit(Event::RecordingStarted {
        name: name.clone(),
        path: dir.join("b.flv.part"),
    });
    bus.emit(Event::RecordingFailed {
        name: name.clone(),
        path: Some(dir.join("b.flv.part")),
        error: "disk".into(),
    });
    wait_for("the failed entry dropped", || {
        journal::load(&journal::queue_dir(&dir)).0.len() == 1
    });
    // Streams that do not upload are not queued.
    bus.emit(Event::RecordingStarted {
        name: StreamName::new("other", "x"),
        path: dir.join("c.flv.part"),
    });
    assert_eq!(journal::load(&journal::queue_dir(&dir)).0.len(), 1);
    uploader.stop();
    bus.close(Instant::now() + Duration::from_secs(5));

    // upload_delete_unsent_when_full: retention may take it, and the entry goes with it.
    let bus = Arc::new(EventBus::new());
    let settings: SettingsFor = Arc::new(|_: &str, _: &str| Some(options(true)));
    let uploader = Uploader::start(&dir, &bus, settings, Arc::new(Vec::new));
    assert_eq!(uploader.queue().len(), 1, "the queue survives a restart");
    assert!(uploader.may_delete(&done));
    assert!(uploader.queue().is_empty() && journal::load(&journal::queue_dir(&dir)).0.is_empty());
    assert_eq!(uploader.stats().lost_files.load(Ordering::Relaxed), 1);
    uploader.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}
