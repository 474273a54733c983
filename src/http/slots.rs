//! Sans-IO bookkeeping of open HTTP connections and the admission choice at the caps (all
//! connections, and per client address): which connection a newcomer evicts (the one waiting
//! longest without a whole request; at the per-address cap, one of that address), or whether
//! the newcomer is refused. Generic over the handle used to close a connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most evicted connections whose threads may still be exiting. Past it, a newcomer at the
/// cap waits for one of them to end instead of evicting another: the thread count stays at
/// most `--http-max-connections` + this.
pub const MAX_EVICTIONS_IN_FLIGHT: usize = 8;
/// The "cap reached" warning is logged at most once per this interval.
pub const CAP_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Where a connection is in its request cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Has not finished sending a request (fresh, keep-alive idle, or part of a request in):
    /// may be evicted at the cap.
    Waiting,
    /// Its request is whole and being answered: never evicted.
    Busy,
    /// Closed by an eviction; its thread has not ended yet.
    Evicting,
}

#[derive(Debug)]
struct Slot<H> {
    phase: Phase,
    /// The client's address bucket (the per-address cap counts these).
    ip: IpAddr,
    /// When the connection entered its phase.
    since: Instant,
    handle: H,
}

/// Which cap a newcomer met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// `--http-max-connections`: all connections.
    Total,
    /// `--http-max-connections-per-ip`: the connections from the newcomer's address.
    PerIp,
}

/// What to do with a newly accepted connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Serve it as connection `id`; first close `evict` if given (now marked `Evicting`),
    /// which made room under the cap named.
    Admit { id: u64, evict: Option<(u64, Cap)> },
    /// Evicted connections are still ending (too many in flight, or nothing else to evict):
    /// ask again once one has ended.
    Wait,
    /// Every connection under this cap is busy with a request: refuse it.
    Refuse(Cap),
}

/// What the per-address cap counts: an IPv4 address (also when IPv4-mapped), or an IPv6
/// address's /64 (one subscriber's LAN has a whole /64 to pick addresses from).
pub fn address_bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// The open connections, keyed by id.
#[derive(Debug)]
pub struct ConnTable<H> {
    slots: HashMap<u64, Slot<H>>,
    next_id: u64,
    cap: usize,
    per_ip_cap: usize,
    last_warning: Option<Instant>,
}

impl<H> ConnTable<H> {
    /// A table for at most `cap` connections, `per_ip_cap` of them from one address (each
    /// at least 1).
    pub fn new(cap: usize, per_ip_cap: usize) -> Self {
        ConnTable {
            slots: HashMap::new(),
            next_id: 1,
            cap: cap.max(1),
            per_ip_cap: per_ip_cap.max(1),
            last_warning: None,
        }
    }

    /// Open connections, evicted ones whose threads still run included.
    pub fn open(&self) -> usize {
        self.slots.len()
    }

    /// Admits a new connection from `ip` (closed with `handle` if it is evicted later). At the
    /// per-address cap it evicts that address's longest-waiting connection, at the total cap
    /// the longest-waiting one of all; connections busy with a request are never evicted.
    pub fn admit(&mut self, ip: IpAddr, handle: H, now: Instant) -> Admission {
        let ip = address_bucket(ip);
        let evicting = self.slots.values().filter(|s| s.phase == Phase::Evicting).count();
        // Evicted connections of the address no longer count against its cap.
        let from_ip = self
            .slots
            .values()
            .filter(|s| s.ip == ip && s.phase != Phase::Evicting)
            .count();
        let full = if from_ip >= self.per_ip_cap {
            Some(Cap::PerIp)
        } else if self.slots.len() >= self.cap {
            Some(Cap::Total)
        } else {
            None
        };
        let mut evict = None;
        if let Some(cap) = full {
            if evicting >= MAX_EVICTIONS_IN_FLIGHT {
                return Admission::Wait;
            }
            let only = (cap == Cap::PerIp).then_some(ip);
            let Some(victim) = self.pick_victim(only) else {
                // At the total cap evicted connections still hold places until they end.
                return if evicting > 0 && cap == Cap::Total {
                    Admission::Wait
                } else {
                    Admission::Refuse(cap)
                };
            };
            if let Some(slot) = self.slots.get_mut(&victim) {
                slot.phase = Phase::Evicting;
                slot.since = now;
            }
            evict = Some((victim, cap));
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.slots.insert(
            id,
            Slot {
                phase: Phase::Waiting,
                ip,
                since: now,
                handle,
            },
        );
        Admission::Admit { id, evict }
    }

    /// The waiting connection (from `only`, if given) that has waited longest (lowest id on
    /// a tie).
    fn pick_victim(&self, only: Option<IpAddr>) -> Option<u64> {
        self.slots
            .iter()
            .filter(|(_, s)| s.phase == Phase::Waiting && only.is_none_or(|ip| s.ip == ip))
            .min_by_key(|(id, s)| (s.since, **id))
            .map(|(id, _)| *id)
    }

    /// The handle of connection `id`, to close it.
    pub fn handle(&self, id: u64) -> Option<&H> {
        self.slots.get(&id).map(|s| &s.handle)
    }

    /// Moves connection `id` to `Waiting` or `Busy`; false if it was evicted (or is gone),
    /// in which case its thread should stop.
    pub fn set_phase(&mut self, id: u64, phase: Phase, now: Instant) -> bool {
        match self.slots.get_mut(&id) {
            Some(slot) if slot.phase != Phase::Evicting => {
                slot.phase = phase;
                slot.since = now;
                true
            }
            _ => false,
        }
    }

    /// Forgets connection `id` (its thread ended).
    pub fn remove(&mut self, id: u64) {
        self.slots.remove(&id);
    }

    /// The cap a "cap reached" warning is due for (none within the interval): `hit` when
    /// the admission just met one, else the total cap if the table is at it.
    pub fn cap_warning_due(&mut self, now: Instant, hit: Option<Cap>) -> Option<Cap> {
        let cap = hit.or_else(|| (self.slots.len() >= self.cap).then_some(Cap::Total))?;
        let due = self
            .last_warning
            .is_none_or(|last| now.saturating_duration_since(last) >= CAP_WARNING_INTERVAL);
        if due {
            self.last_warning = Some(now);
        }
        due.then_some(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    /// A connection from A; the per-address cap is out of the way unless a test sets it.
    fn admit(table: &mut ConnTable<()>, at: Instant) -> Admission {
        table.admit(A, (), at)
    }

    fn table(cap: usize) -> ConnTable<()> {
        ConnTable::new(cap, usize::MAX)
    }

    #[test]
    fn below_the_cap_everyone_is_admitted_without_eviction() {
        let mut table = table(3);
        let t = Instant::now();
        for expected in 1..=3 {
            assert_eq!(
                admit(&mut table, t),
                Admission::Admit {
                    id: expected,
                    evict: None
                }
            );
        }
        assert_eq!(table.open(), 3);
    }

    #[test]
    fn at_the_cap_the_longest_waiting_connection_is_evicted_and_busy_ones_never() {
        let mut table = table(3);
        let t = Instant::now();
        let s = Duration::from_secs(1);
        admit(&mut table, t); // 1
        admit(&mut table, t + s); // 2
        admit(&mut table, t + 2 * s); // 3
        assert!(table.set_phase(1, Phase::Busy, t + 3 * s));
        // 2 has waited longest among the waiting ones.
        assert_eq!(
            admit(&mut table, t + 4 * s),
            Admission::Admit {
                id: 4,
                evict: Some((2, Cap::Total))
            }
        );
        assert!(
            !table.set_phase(2, Phase::Busy, t + 4 * s),
            "an evicted connection stops"
        );
        // 1 went idle again after answering: its idle time counts from then.
        assert!(table.set_phase(1, Phase::Waiting, t + 5 * s));
        table.remove(2);
        assert_eq!(
            admit(&mut table, t + 6 * s),
            Admission::Admit {
                id: 5,
                evict: Some((3, Cap::Total))
            }
        );
        table.remove(3);
        assert_eq!(
            admit(&mut table, t + 7 * s),
            Admission::Admit {
                id: 6,
                evict: Some((4, Cap::Total))
            }
        );
    }

    #[test]
    fn when_everyone_is_busy_the_newcomer_is_refused() {
        let mut table = table(2);
        let t = Instant::now();
        admit(&mut table, t);
        admit(&mut table, t);
        table.set_phase(1, Phase::Busy, t);
        table.set_phase(2, Phase::Busy, t);
        assert_eq!(admit(&mut table, t), Admission::Refuse(Cap::Total));
        table.remove(1);
        assert!(matches!(admit(&mut table, t), Admission::Admit { evict: None, .. }));
    }

    #[test]
    fn when_only_evicted_connections_hold_the_cap_the_newcomer_waits() {
        let mut table = table(2);
        let t = Instant::now();
        admit(&mut table, t); // 1
        admit(&mut table, t); // 2
        table.set_phase(2, Phase::Busy, t);
        assert_eq!(
            admit(&mut table, t),
            Admission::Admit {
                id: 3,
                evict: Some((1, Cap::Total))
            }
        );
        table.set_phase(3, Phase::Busy, t);
        assert_eq!(admit(&mut table, t), Admission::Wait, "1 is still ending");
        table.remove(1);
        assert_eq!(admit(&mut table, t), Admission::Refuse(Cap::Total), "2 and 3 are busy");
    }

    #[test]
    fn evictions_in_flight_are_bounded() {
        let cap = 2 * MAX_EVICTIONS_IN_FLIGHT;
        let mut table = table(cap);
        let t = Instant::now();
        for _ in 0..cap {
            admit(&mut table, t);
        }
        // No evicted thread ends: after MAX_EVICTIONS_IN_FLIGHT evictions, newcomers wait.
        let mut evicted = Vec::new();
        for _ in 0..MAX_EVICTIONS_IN_FLIGHT {
            match admit(&mut table, t) {
                Admission::Admit {
                    evict: Some((id, _)), ..
                } => evicted.push(id),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(admit(&mut table, t), Admission::Wait);
        assert_eq!(table.open(), cap + MAX_EVICTIONS_IN_FLIGHT);
        // One evicted thread ends: the next newcomer may evict again.
        table.remove(evicted[0]);
        assert!(matches!(admit(&mut table, t), Admission::Admit { evict: Some(_), .. }));
    }

    #[test]
    fn the_cap_warning_is_rate_limited() {
        let mut table = table(1);
        let t = Instant::now();
        assert_eq!(table.cap_warning_due(t, None), None, "below the cap");
        admit(&mut table, t);
        assert_eq!(table.cap_warning_due(t, None), Some(Cap::Total));
        assert_eq!(table.cap_warning_due(t + Duration::from_secs(1), None), None);
        assert_eq!(
            table.cap_warning_due(t + CAP_WARNING_INTERVAL, Some(Cap::PerIp)),
            Some(Cap::PerIp)
        );
    }

    #[test]
    fn at_the_per_address_cap_that_address_loses_its_longest_waiting_connection() {
        let mut table = ConnTable::new(10, 2);
        let t = Instant::now();
        let s = Duration::from_secs(1);
        assert!(matches!(table.admit(B, (), t), Admission::Admit { id: 1, evict: None }));
        assert!(matches!(
            table.admit(A, (), t + s),
            Admission::Admit { id: 2, evict: None }
        ));
        assert!(matches!(
            table.admit(A, (), t + 2 * s),
            Admission::Admit { id: 3, evict: None }
        ));
        // B's connection waited longest, but only A is at its cap.
        assert_eq!(
            table.admit(A, (), t + 3 * s),
            Admission::Admit {
                id: 4,
                evict: Some((2, Cap::PerIp))
            }
        );
        // The evicted one does not count against A while it ends.
        assert!(table.set_phase(3, Phase::Busy, t + 4 * s));
        assert!(table.set_phase(4, Phase::Busy, t + 4 * s));
        assert_eq!(
            table.admit(A, (), t + 5 * s),
            Admission::Refuse(Cap::PerIp),
            "A's are busy"
        );
        // Another address is unaffected.
        assert!(matches!(
            table.admit(B, (), t + 5 * s),
            Admission::Admit { id: 5, evict: None }
        ));
        table.set_phase(3, Phase::Waiting, t + 6 * s);
        assert_eq!(
            table.admit(A, (), t + 7 * s),
            Admission::Admit {
                id: 6,
                evict: Some((3, Cap::PerIp))
            }
        );
    }

    #[test]
    fn the_total_cap_applies_across_addresses() {
        let mut table = ConnTable::new(2, 2);
        let t = Instant::now();
        table.admit(A, (), t); // 1
        table.admit(B, (), t + Duration::from_secs(1)); // 2
                                                        // A is under its cap; the total is full: the longest-waiting of all (A's) goes.
        assert_eq!(
            table.admit(B, (), t + Duration::from_secs(2)),
            Admission::Admit {
                id: 3,
                evict: Some((1, Cap::Total))
            }
        );
        table.remove(1);
        table.set_phase(2, Phase::Busy, t);
        table.set_phase(3, Phase::Busy, t);
        // B is at its cap with both busy: refused under the per-address cap.
        assert_eq!(table.admit(B, (), t), Admission::Refuse(Cap::PerIp));
        assert_eq!(table.admit(A, (), t), Admission::Refuse(Cap::Total));
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let v6 = |text: &str| IpAddr::V6(text.parse().unwrap());
        assert_eq!(address_bucket(v6("2001:db8:1:2:aaaa::1")), v6("2001:db8:1:2::"));
        assert_eq!(address_bucket(v6("::ffff:10.0.0.1")), A);
        assert_eq!(address_bucket(A), A);
        let mut table = ConnTable::new(10, 1);
        let t = Instant::now();
        table.admit(v6("2001:db8:1:2::1"), (), t);
        table.set_phase(1, Phase::Busy, t);
        assert_eq!(table.admit(v6("2001:db8:1:2::2"), (), t), Admission::Refuse(Cap::PerIp));
        assert!(matches!(
            table.admit(v6("2001:db8:1:3::1"), (), t),
            Admission::Admit { evict: None, .. }
        ));
    }
}
