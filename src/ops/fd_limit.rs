//! The open-files limit: a plain player holds up to four descriptors (its socket and three
//! handles of it) and a recording one more, so the common soft limit of 1024 would refuse
//! connections long before `--max-connections`. At start-up the soft limit is raised toward
//! what the connection limit needs, never past the hard limit (as nginx's
//! worker_rlimit_nofile does, without a setting to forget).

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Descriptors budgeted per allowed connection.
pub const FDS_PER_CONNECTION: u64 = 5;
/// Descriptors kept for everything else (listeners, recordings, HTTP API, logs).
pub const FDS_RESERVED: u64 = 256;

/// The soft limit to set, if the current one is below what `wanted` needs: `wanted`, capped
/// by the hard limit (`None` means unlimited).
pub fn raised_soft_limit(current: Option<u64>, maximum: Option<u64>, wanted: u64) -> Option<u64> {
    let target = maximum.map_or(wanted, |hard| wanted.min(hard));
    match current {
        Some(soft) if soft < target => Some(target),
        _ => None,
    }
}

/// Raises the soft open-files limit for `max_connections`; logs what it did.
pub fn raise_for(max_connections: usize) {
    let wanted = (max_connections as u64)
        .saturating_mul(FDS_PER_CONNECTION)
        .saturating_add(FDS_RESERVED);
    let limit = getrlimit(Resource::Nofile);
    if let Some(soft) = raised_soft_limit(limit.current, limit.maximum, wanted) {
        let new = Rlimit {
            current: Some(soft),
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, new) {
            Ok(()) => log::info!("open files limit raised from={:?} to={soft}", limit.current),
            Err(e) => log::warn!("open files limit not raised current={:?} error=\"{e}\"", limit.current),
        }
    }
    let effective = getrlimit(Resource::Nofile).current;
    if effective.is_some_and(|soft| soft < wanted) {
        log::warn!(
            "open files limit below what --max-connections needs limit={effective:?} wanted={wanted} max_connections={max_connections}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_to_what_is_wanted_within_the_hard_limit() {
        assert_eq!(raised_soft_limit(Some(1024), Some(524_288), 5256), Some(5256));
        assert_eq!(raised_soft_limit(Some(1024), Some(4096), 5256), Some(4096));
        assert_eq!(raised_soft_limit(Some(1024), None, 5256), Some(5256));
    }

    #[test]
    fn never_lowers_or_touches_an_unlimited_soft_limit() {
        assert_eq!(raised_soft_limit(Some(65_536), Some(524_288), 5256), None);
        assert_eq!(raised_soft_limit(None, None, 5256), None);
        assert_eq!(raised_soft_limit(Some(4096), Some(4096), 5256), None);
    }
}
