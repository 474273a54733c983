//! Tests of the supervisor with real (harmless) processes: `sleep` stands in for FFmpeg.

use super::*;
use crate::events::{Query, SessionEnd, StreamName};
use std::path::Path;

const WAIT: Duration = Duration::from_secs(30);

fn table(name: &str, command: &[&str]) -> SourceTable {
    SourceTable {
        name: name.to_owned(),
        command: command.iter().map(|s| (*s).to_owned()).collect(),
        on_demand: None,
        on_demand_idle: Duration::from_secs(10),
    }
}

fn status(sources: &Sources, name: &str) -> Option<SourceStatus> {
    sources.snapshot().into_iter().find(|s| s.name == name)
}

/// Waits until `name`'s status satisfies `condition`; returns it.
fn wait_for(sources: &Sources, name: &str, condition: impl Fn(&SourceStatus) -> bool) -> SourceStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(s) = status(sources, name).filter(|s| condition(s)) {
            return s;
        }
        assert!(Instant::now() < deadline, "{name}: {:?}", status(sources, name));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn alive(pid: u32) -> bool {
    // A reaped child's /proc entry is gone (a zombie would still show: runners reap theirs).
    Path::new(&format!("/proc/{pid}")).exists()
}

fn wait_gone(pid: u32) {
    let deadline = Instant::now() + WAIT;
    while alive(pid) {
        assert!(Instant::now() < deadline, "pid {pid} still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn running_pid(sources: &Sources, name: &str) -> u32 {
    wait_for(sources, name, |s| s.state == State::Running && s.pid.is_some())
        .pid
        .unwrap()
}

#[test]
fn a_reload_plan_names_what_changes() {
    let old = vec![table("a", &["x"]), table("b", &["x"]), table("c", &["x"])];
    let new = vec![table("a", &["x"]), table("b", &["y"]), table("d", &["x"])];
    assert_eq!(
        ReloadPlan::between(&old, &new),
        ReloadPlan {
            keep: vec!["a".into()],
            restart: vec!["b".into()],
            stop: vec!["c".into()],
            start: vec!["d".into()],
        }
    );
    assert_eq!(ReloadPlan::between(&old, &old).keep.len(), 3);
}

#[test]
fn reload_restarts_only_changed_sources_and_shutdown_ends_them_all() {
    let sources = Sources::new(vec![
        table("a", &["sleep", "300"]),
        table("b", &["sleep", "300"]),
        table("c", &["sleep", "300"]),
    ]);
    assert_eq!(
        status(&sources, "a").unwrap().state,
        State::Stopped,
        "nothing before start"
    );
    sources.start();
    let (a, b, c) = (
        running_pid(&sources, "a"),
        running_pid(&sources, "b"),
        running_pid(&sources, "c"),
    );
    let plan = sources.reload(vec![
        table("a", &["sleep", "300"]),
        table("b", &["sleep", "301"]),
        table("d", &["sleep", "300"]),
    ]);
    assert_eq!(plan.restart, vec!["b".to_owned()]);
    let b2 = wait_for(&sources, "b", |s| s.pid.is_some_and(|p| p != b)).pid.unwrap();
    let d = running_pid(&sources, "d");
    wait_gone(b);
    wait_gone(c);
    assert!(status(&sources, "c").is_none(), "removed from the list");
    assert_eq!(running_pid(&sources, "a"), a, "unchanged: left running");
    assert_eq!(status(&sources, "b").unwrap().restarts, 0, "a reload is no restart");
    assert!(sources.shutdown(Instant::now() + WAIT));
    for pid in [a, b2, d] {
        assert!(!alive(pid), "pid {pid} outlived the shutdown");
    }
    assert!(sources.snapshot().iter().all(|s| s.state == State::Stopped));
    sources.start();
    assert!(
        sources.snapshot().iter().all(|s| s.pid.is_none()),
        "no start after a stop"
    );
}

#[test]
fn a_killed_source_is_restarted_after_a_backoff() {
    let sources = Sources::new(vec![table("k", &["sleep", "300"])]);
    sources.start();
    let first = running_pid(&sources, "k");
    let killed = Instant::now();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(first as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let after = wait_for(&sources, "k", |s| s.restarts == 1 && s.pid.is_some());
    assert!(
        killed.elapsed() >= machine::FIRST_BACKOFF,
        "restarted only after the backoff"
    );
    assert_ne!(after.pid, Some(first));
    assert_eq!(after.last_exit, Some(Exit::Signal(9)));
    assert!(sources.shutdown(Instant::now() + WAIT));
}

#[test]
fn a_missing_program_backs_off_and_says_why() {
    let sources = Sources::new(vec![table("m", &["/no/such/program"])]);
    sources.start();
    let s = wait_for(&sources, "m", |s| s.state == State::Backoff);
    assert!(matches!(s.last_exit, Some(Exit::SpawnFailed(_))), "{s:?}");
    assert!(sources.shutdown(Instant::now() + WAIT));
}

fn play(name: &StreamName, started: bool) -> Event {
    let remote = "127.0.0.1:1".parse().unwrap();
    if started {
        Event::PlayStarted {
            name: name.clone(),
            conn_id: 1,
            remote,
            query: Query::default(),
        }
    } else {
        Event::PlayStopped {
            name: name.clone(),
            end: SessionEnd {
                conn_id: 1,
                reason: "peer_closed".into(),
                remote,
                query: Query::default(),
                duration_ms: 1,
                bytes: 0,
            },
        }
    }
}

#[test]
fn an_on_demand_source_runs_while_its_stream_has_players() {
    let mut door = table("door", &["sleep", "300"]);
    door.on_demand = Some("cams/door".into());
    door.on_demand_idle = Duration::from_millis(300);
    let sources = Sources::new(vec![door]);
    let mut observer = sources.observer();
    sources.start();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(status(&sources, "door").unwrap().state, State::Idle);
    let name = StreamName::new("cams", "door");
    observer.on_event(&play(&StreamName::new("cams", "yard"), true));
    observer.on_event(&play(&name, true));
    let pid = running_pid(&sources, "door");
    observer.on_event(&play(&name, true));
    observer.on_event(&play(&name, false));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        status(&sources, "door").unwrap().pid,
        Some(pid),
        "one player is still there"
    );
    let left = Instant::now();
    observer.on_event(&play(&name, false));
    wait_for(&sources, "door", |s| s.state == State::Idle && s.pid.is_none());
    assert!(left.elapsed() >= Duration::from_millis(300), "not before the idle time");
    wait_gone(pid);
    assert!(sources.shutdown(Instant::now() + WAIT));
}

#[test]
fn dropping_the_supervisor_stops_its_sources() {
    let sources = Sources::new(vec![table("orphan", &["sleep", "300"])]);
    sources.start();
    let pid = running_pid(&sources, "orphan");
    drop(sources);
    wait_gone(pid);
}
