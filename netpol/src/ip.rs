//! IPv4 address ranges: `ipBlock`s (a CIDR minus its `except`s) and the external peers of a
//! map, which are the pieces the policies' ipBlocks cut the address space into.

use std::fmt;
use std::net::Ipv4Addr;

/// An inclusive range of IPv4 addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpRange {
    /// The first address.
    pub first: u32,
    /// The last address.
    pub last: u32,
}

impl IpRange {
    /// Every IPv4 address.
    pub const ALL: IpRange = IpRange {
        first: 0,
        last: u32::MAX,
    };

    /// Whether `self` lies wholly inside `other`.
    pub fn within(&self, other: &IpRange) -> bool {
        other.first <= self.first && self.last <= other.last
    }

    /// The smallest CIDR block that holds this range, and the blocks of it outside the
    /// range: one ipBlock (`cidr` with `except`) that is exactly this range.
    pub fn as_block(&self) -> (String, Vec<String>) {
        let differing = self.first ^ self.last;
        let prefix = differing.leading_zeros();
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        let start = self.first & mask;
        let end = start | !mask;
        let mut except = Vec::new();
        if start < self.first {
            except.extend(
                IpRange {
                    first: start,
                    last: self.first - 1,
                }
                .cidrs(),
            );
        }
        if self.last < end {
            except.extend(
                IpRange {
                    first: self.last + 1,
                    last: end,
                }
                .cidrs(),
            );
        }
        (format!("{}/{prefix}", Ipv4Addr::from(start)), except)
    }

    /// The CIDR blocks that cover exactly this range, largest first.
    pub fn cidrs(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut start = u64::from(self.first);
        let end = u64::from(self.last);
        while start <= end {
            // The largest aligned block starting at `start` that fits.
            let mut size: u64 = if start == 0 {
                1 << 32
            } else {
                1 << start.trailing_zeros().min(32)
            };
            while start + size - 1 > end {
                size >>= 1;
            }
            let prefix = 32 - size.trailing_zeros();
            out.push(format!("{}/{prefix}", Ipv4Addr::from(start as u32)));
            start += size;
        }
        out
    }
}

impl fmt::Display for IpRange {
    /// `10.0.0.0-10.255.255.255`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            Ipv4Addr::from(self.first),
            Ipv4Addr::from(self.last)
        )
    }
}

/// Why a CIDR was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum CidrError {
    /// An IPv6 CIDR (the map covers IPv4).
    Ipv6,
    /// Not a CIDR.
    Invalid,
}

/// Reads `a.b.c.d/n` as a range. Host bits set below the prefix are ignored, as Kubernetes
/// does when it matches (`10.1.2.3/8` is `10.0.0.0/8`).
pub fn parse_cidr(text: &str) -> Result<IpRange, CidrError> {
    let (addr, prefix) = text.trim().split_once('/').ok_or(CidrError::Invalid)?;
    if addr.contains(':') {
        return Err(CidrError::Ipv6);
    }
    let addr: Ipv4Addr = addr.parse().map_err(|_| CidrError::Invalid)?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 2 {
        return Err(CidrError::Invalid);
    }
    let prefix: u32 = prefix.parse().map_err(|_| CidrError::Invalid)?;
    if prefix > 32 {
        return Err(CidrError::Invalid);
    }
    let mask: u32 = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    let first = u32::from(addr) & mask;
    Ok(IpRange {
        first,
        last: first | !mask,
    })
}

/// A set of addresses: sorted, disjoint, non-adjacent ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IpSet {
    ranges: Vec<IpRange>,
}

impl IpSet {
    /// The addresses of `range`.
    pub fn of(range: IpRange) -> IpSet {
        IpSet {
            ranges: vec![range],
        }
    }

    /// The maximal ranges, in increasing order.
    pub fn ranges(&self) -> &[IpRange] {
        &self.ranges
    }

    /// Whether `range` lies wholly inside the set.
    pub fn covers(&self, range: &IpRange) -> bool {
        let i = self.ranges.partition_point(|r| r.last < range.first);
        self.ranges.get(i).is_some_and(|r| range.within(r))
    }

    /// The addresses of `self` outside `hole`.
    pub fn minus(&self, hole: &IpRange) -> IpSet {
        let mut ranges = Vec::with_capacity(self.ranges.len() + 1);
        for r in &self.ranges {
            if hole.last < r.first || hole.first > r.last {
                ranges.push(*r);
                continue;
            }
            if hole.first > r.first {
                ranges.push(IpRange {
                    first: r.first,
                    last: hole.first - 1,
                });
            }
            if hole.last < r.last {
                ranges.push(IpRange {
                    first: hole.last + 1,
                    last: r.last,
                });
            }
        }
        IpSet { ranges }
    }
}

/// The pieces `0.0.0.0-255.255.255.255` is cut into at the first address of each range of
/// `blocks` and just after its last address, in increasing order.
pub fn cut(blocks: &[&IpSet]) -> Vec<IpRange> {
    let mut starts: Vec<u64> = vec![0];
    for set in blocks {
        for r in set.ranges() {
            starts.push(u64::from(r.first));
            starts.push(u64::from(r.last) + 1);
        }
    }
    starts.sort_unstable();
    starts.dedup();
    starts.retain(|s| *s <= u64::from(u32::MAX));
    starts
        .iter()
        .enumerate()
        .map(|(i, s)| IpRange {
            first: *s as u32,
            last: starts
                .get(i + 1)
                .map_or(u32::MAX, |next| (*next - 1) as u32),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_range_is_one_block_with_exceptions() {
        let r = IpRange {
            first: 0,
            last: (9 << 24) | 0xff_ffff,
        };
        assert_eq!(
            r.as_block(),
            (
                "0.0.0.0/4".to_string(),
                vec!["10.0.0.0/7".to_string(), "12.0.0.0/6".to_string()]
            )
        );
        assert_eq!(IpRange::ALL.as_block(), ("0.0.0.0/0".to_string(), vec![]));
        let one = IpRange {
            first: 0x0a00_0001,
            last: 0x0a00_0001,
        };
        assert_eq!(one.as_block(), ("10.0.0.1/32".to_string(), vec![]));
    }
    use super::*;

    fn set(cidr: &str, except: &[&str]) -> IpSet {
        let mut s = IpSet::of(parse_cidr(cidr).unwrap_or(IpRange::ALL));
        for e in except {
            if let Ok(r) = parse_cidr(e) {
                s = s.minus(&r);
            }
        }
        s
    }

    #[test]
    fn adjacent_excepts_make_one_hole_and_the_cuts_match_upstream() {
        let a = set(
            "0.0.0.0/0",
            &["10.0.0.0/8", "172.21.0.0/16", "172.30.0.0/16"],
        );
        let pieces: Vec<String> = cut(&[&a]).iter().map(ToString::to_string).collect();
        assert_eq!(
            pieces,
            [
                "0.0.0.0-9.255.255.255",
                "10.0.0.0-10.255.255.255",
                "11.0.0.0-172.20.255.255",
                "172.21.0.0-172.21.255.255",
                "172.22.0.0-172.29.255.255",
                "172.30.0.0-172.30.255.255",
                "172.31.0.0-255.255.255.255"
            ]
        );
        let b = set(
            "0.0.0.0/0",
            &[
                "10.0.0.0/9",
                "10.128.0.0/9",
                "172.21.0.0/16",
                "172.30.0.0/16",
            ],
        );
        assert_eq!(cut(&[&a]), cut(&[&b]));
        assert!(a.covers(&parse_cidr("11.0.0.0/8").unwrap_or(IpRange::ALL)));
        assert!(!a.covers(&parse_cidr("10.1.0.0/16").unwrap_or(IpRange::ALL)));
        assert_eq!(cut(&[]), [IpRange::ALL]);
    }

    #[test]
    fn cidrs_are_read_and_written() {
        assert_eq!(parse_cidr("10.1.2.3/8"), parse_cidr("10.0.0.0/8"));
        assert_eq!(parse_cidr("fd00::/8"), Err(CidrError::Ipv6));
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0/8",
            "x/8",
            "10.0.0.0/-1",
            "10.0.0.0/",
        ] {
            assert_eq!(parse_cidr(bad), Err(CidrError::Invalid), "{bad}");
        }
        let r = IpRange {
            first: u32::from(Ipv4Addr::new(10, 0, 0, 0)),
            last: u32::from(Ipv4Addr::new(10, 0, 2, 255)),
        };
        assert_eq!(r.cidrs(), ["10.0.0.0/23", "10.0.2.0/24"]);
        assert_eq!(IpRange::ALL.cidrs(), ["0.0.0.0/0"]);
        let one = parse_cidr("1.2.3.4/32").unwrap_or(IpRange::ALL);
        assert_eq!(one.cidrs(), ["1.2.3.4/32"]);
    }
}
