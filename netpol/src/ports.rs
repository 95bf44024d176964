//! Sets of connections: for each protocol (SCTP, TCP, UDP), a set of ports 1-65535 kept as
//! sorted, disjoint, non-adjacent inclusive ranges.

use std::fmt;

/// A transport protocol a NetworkPolicy can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// SCTP.
    Sctp,
    /// TCP (the default of a NetworkPolicy port).
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// All protocols, in the order the map prints them (byte order of their names).
    pub const ALL: [Protocol; 3] = [Protocol::Sctp, Protocol::Tcp, Protocol::Udp];

    /// The upper-case name (`TCP`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Sctp => "SCTP",
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }

    /// Reads a protocol name as Kubernetes spells it (upper case only).
    pub fn parse(text: &str) -> Option<Protocol> {
        match text {
            "SCTP" => Some(Protocol::Sctp),
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The lowest and highest port a connection set holds.
pub const PORT_MIN: u16 = 1;
/// The highest port.
pub const PORT_MAX: u16 = 65535;

/// A set of ports: sorted, disjoint, non-adjacent inclusive ranges within 1-65535.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PortSet {
    ranges: Vec<(u16, u16)>,
}

impl PortSet {
    /// Every port.
    pub fn all() -> PortSet {
        PortSet {
            ranges: vec![(PORT_MIN, PORT_MAX)],
        }
    }

    /// The ports `first..=last` (empty when `first > last`; port 0 is left out).
    pub fn range(first: u16, last: u16) -> PortSet {
        let first = first.max(PORT_MIN);
        if first > last {
            return PortSet::default();
        }
        PortSet {
            ranges: vec![(first, last)],
        }
    }

    /// Whether no port is in the set.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether every port is in the set.
    pub fn is_all(&self) -> bool {
        self.ranges == [(PORT_MIN, PORT_MAX)]
    }

    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        let i = self.ranges.partition_point(|r| r.1 < port);
        self.ranges.get(i).is_some_and(|r| r.0 <= port)
    }

    /// The ranges, in increasing order.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    /// The ports in either set.
    pub fn union(&self, other: &PortSet) -> PortSet {
        let mut all: Vec<(u16, u16)> = self.ranges.iter().chain(&other.ranges).copied().collect();
        all.sort_unstable();
        let mut ranges: Vec<(u16, u16)> = Vec::with_capacity(all.len());
        for (a, b) in all {
            match ranges.last_mut() {
                Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
                _ => ranges.push((a, b)),
            }
        }
        PortSet { ranges }
    }

    /// The ports in both sets.
    pub fn intersect(&self, other: &PortSet) -> PortSet {
        let (mut i, mut j) = (0, 0);
        let mut ranges = Vec::new();
        while let (Some(a), Some(b)) = (self.ranges.get(i), other.ranges.get(j)) {
            let lo = a.0.max(b.0);
            let hi = a.1.min(b.1);
            if lo <= hi {
                ranges.push((lo, hi));
            }
            if a.1 < b.1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        PortSet { ranges }
    }

    /// The ports of `self` not in `other`.
    pub fn minus(&self, other: &PortSet) -> PortSet {
        let mut ranges = Vec::new();
        for &(a, b) in &self.ranges {
            let mut start = u32::from(a);
            let end = u32::from(b);
            for &(x, y) in &other.ranges {
                let (x, y) = (u32::from(x), u32::from(y));
                if y < start || x > end {
                    continue;
                }
                if x > start {
                    ranges.push((start as u16, (x - 1) as u16));
                }
                start = y + 1;
            }
            if start <= end {
                ranges.push((start as u16, end as u16));
            }
        }
        PortSet { ranges }
    }
}

impl fmt::Display for PortSet {
    /// `80,443,8000-8080`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

/// Allowed connections: a port set for each protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Connections {
    ports: [PortSet; 3],
}

impl Connections {
    /// Nothing allowed.
    pub fn none() -> Connections {
        Connections::default()
    }

    /// Every port of every protocol.
    pub fn all() -> Connections {
        Connections {
            ports: [PortSet::all(), PortSet::all(), PortSet::all()],
        }
    }

    /// `ports` of one protocol.
    pub fn of(protocol: Protocol, ports: PortSet) -> Connections {
        let mut c = Connections::none();
        c.ports[protocol.index()] = ports;
        c
    }

    /// The ports allowed for `protocol`.
    pub fn ports(&self, protocol: Protocol) -> &PortSet {
        &self.ports[protocol.index()]
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.ports.iter().all(PortSet::is_empty)
    }

    /// Whether every port of every protocol is allowed.
    pub fn is_all(&self) -> bool {
        self.ports.iter().all(PortSet::is_all)
    }

    /// Whether `port` of `protocol` is allowed.
    pub fn allows(&self, protocol: Protocol, port: u16) -> bool {
        self.ports[protocol.index()].contains(port)
    }

    /// What either allows.
    pub fn union(&self, other: &Connections) -> Connections {
        Connections {
            ports: std::array::from_fn(|i| self.ports[i].union(&other.ports[i])),
        }
    }

    /// Adds what `other` allows.
    pub fn add(&mut self, other: &Connections) {
        if self.is_all() {
            return;
        }
        *self = self.union(other);
    }

    /// What both allow.
    pub fn intersect(&self, other: &Connections) -> Connections {
        Connections {
            ports: std::array::from_fn(|i| self.ports[i].intersect(&other.ports[i])),
        }
    }

    /// What `self` allows and `other` does not.
    pub fn minus(&self, other: &Connections) -> Connections {
        Connections {
            ports: std::array::from_fn(|i| self.ports[i].minus(&other.ports[i])),
        }
    }

    /// Each protocol with its non-empty port set, in print order.
    pub fn by_protocol(&self) -> impl Iterator<Item = (Protocol, &PortSet)> {
        Protocol::ALL
            .into_iter()
            .map(|p| (p, &self.ports[p.index()]))
            .filter(|(_, s)| !s.is_empty())
    }
}

impl fmt::Display for Connections {
    /// `All Connections`, `No Connections`, or `SCTP 7070,TCP 8080-8081,UDP 9090`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All Connections");
        }
        if self.is_empty() {
            return f.write_str("No Connections");
        }
        for (i, (p, ports)) in self.by_protocol().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{} {ports}", p.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacent_ranges_merge_and_print_as_upstream_does() {
        let tcp = PortSet::range(8080, 8080).union(&PortSet::range(8081, 8081));
        let c = Connections::of(Protocol::Tcp, tcp)
            .union(&Connections::of(Protocol::Udp, PortSet::range(9090, 9090)))
            .union(&Connections::of(Protocol::Sctp, PortSet::range(7070, 7070)));
        assert_eq!(c.to_string(), "SCTP 7070,TCP 8080-8081,UDP 9090");
        let all = Protocol::ALL
            .into_iter()
            .map(|p| Connections::of(p, PortSet::range(1, 65535)))
            .fold(Connections::none(), |a, b| a.union(&b));
        assert!(all.is_all());
        assert_eq!(all.to_string(), "All Connections");
        assert_eq!(
            Connections::of(Protocol::Tcp, PortSet::all()).to_string(),
            "TCP 1-65535"
        );
    }

    #[test]
    fn intersection_and_difference() {
        let a = PortSet::range(1, 100).union(&PortSet::range(200, 300));
        let b = PortSet::range(50, 250);
        assert_eq!(a.intersect(&b).to_string(), "50-100,200-250");
        assert_eq!(a.minus(&b).to_string(), "1-49,251-300");
        assert_eq!(PortSet::all().minus(&PortSet::all()), PortSet::default());
        assert_eq!(PortSet::range(0, 0), PortSet::default());
        assert!(a.contains(200) && !a.contains(150) && !a.contains(301));
    }
}
