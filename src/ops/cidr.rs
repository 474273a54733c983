//! CIDR address ranges (`10.0.0.0/8`, `::1/128`, or a bare address) for --deny and
//! --allow-publish. IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`) match IPv4 ranges.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a CIDR did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    BadAddress,
    BadPrefix,
    /// Bits set below the prefix, e.g. 10.0.0.1/8: almost always a typo.
    HostBitsSet,
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidrError::BadAddress => write!(f, "expected ADDRESS[/PREFIX], e.g. 10.0.0.0/8 or ::1"),
            CidrError::BadPrefix => write!(f, "prefix must be 0..=32 (IPv4) or 0..=128 (IPv6)"),
            CidrError::HostBitsSet => write!(f, "address has bits set beyond the prefix"),
        }
    }
}

impl std::error::Error for CidrError {}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Cidr, CidrError> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().map_err(|_| CidrError::BadAddress)?;
        let max = max_prefix(network);
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().map_err(|_| CidrError::BadPrefix)?,
            None => max,
        };
        if prefix > max {
            return Err(CidrError::BadPrefix);
        }
        let cidr = Cidr { network, prefix };
        if bits(network) & !cidr.mask() != 0 {
            return Err(CidrError::HostBitsSet);
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Cidr {
    /// True when `ip` lies in this range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        if ip.is_ipv4() != self.network.is_ipv4() {
            return false;
        }
        bits(ip) & self.mask() == bits(self.network)
    }

    fn mask(&self) -> u128 {
        let width = u32::from(max_prefix(self.network));
        let ones = u32::from(self.prefix);
        let all = if width == 32 { u128::from(u32::MAX) } else { u128::MAX };
        all & !all.checked_shr(ones).unwrap_or(0)
    }
}

/// True when any range in `list` contains `ip`.
pub fn any_contains(list: &[Cidr], ip: IpAddr) -> bool {
    list.iter().any(|cidr| cidr.contains(ip))
}

fn max_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// IPv4-mapped IPv6 addresses (dual-stack listeners) become plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv4_ranges_match_by_prefix() {
        let net = cidr("10.1.0.0/16");
        assert!(net.contains(ip("10.1.2.3")) && net.contains(ip("10.1.255.255")));
        assert!(!net.contains(ip("10.2.0.0")) && !net.contains(ip("::1")));
        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
        let host = cidr("127.0.0.1");
        assert!(host.contains(ip("127.0.0.1")) && !host.contains(ip("127.0.0.2")));
        assert_eq!(host.to_string(), "127.0.0.1/32");
    }

    #[test]
    fn ipv6_ranges_and_mapped_ipv4() {
        let net = cidr("2001:db8::/32");
        assert!(net.contains(ip("2001:db8:1::5")) && !net.contains(ip("2001:db9::1")));
        assert!(cidr("::/0").contains(ip("::1")) && !cidr("::/0").contains(ip("1.2.3.4")));
        assert!(cidr("192.168.0.0/24").contains(ip("::ffff:192.168.0.7")));
        assert!(cidr("::1").contains(ip("::1")));
    }

    #[test]
    fn bad_ranges_are_rejected() {
        assert_eq!("nope".parse::<Cidr>(), Err(CidrError::BadAddress));
        assert_eq!("10.0.0.0/33".parse::<Cidr>(), Err(CidrError::BadPrefix));
        assert_eq!("::/129".parse::<Cidr>(), Err(CidrError::BadPrefix));
        assert_eq!("10.0.0.0/x".parse::<Cidr>(), Err(CidrError::BadPrefix));
        assert_eq!("10.0.0.1/8".parse::<Cidr>(), Err(CidrError::HostBitsSet));
    }

    #[test]
    fn any_contains_checks_every_range() {
        let list = [cidr("10.0.0.0/8"), cidr("::1")];
        assert!(any_contains(&list, ip("10.9.9.9")) && any_contains(&list, ip("::1")));
        assert!(!any_contains(&list, ip("127.0.0.1")) && !any_contains(&[], ip("::1")));
    }
}
