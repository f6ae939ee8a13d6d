//! Link-layer headers: from a captured frame to the IP packet inside it.

/// LINKTYPE_NULL: BSD loopback, 4-byte address family in the writer's byte order.
pub(crate) const NULL: u32 = 0;
/// LINKTYPE_ETHERNET.
pub(crate) const ETHERNET: u32 = 1;
/// DLT_RAW as most systems number it in files (12), and LINKTYPE_RAW (101).
pub(crate) const RAW_12: u32 = 12;
/// LINKTYPE_RAW.
pub(crate) const RAW: u32 = 101;
/// LINKTYPE_LOOP: OpenBSD loopback, address family in network byte order.
pub(crate) const LOOP: u32 = 108;
/// LINKTYPE_LINUX_SLL: Linux cooked capture v1.
pub(crate) const LINUX_SLL: u32 = 113;
/// LINKTYPE_IPV4.
pub(crate) const IPV4: u32 = 228;
/// LINKTYPE_IPV6.
pub(crate) const IPV6: u32 = 229;
/// LINKTYPE_LINUX_SLL2: Linux cooked capture v2.
pub(crate) const LINUX_SLL2: u32 = 276;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const VLAN_TAGS: [u16; 3] = [0x8100, 0x88a8, 0x9100];

/// Returns whether this reader decodes `link_type`.
pub(crate) fn is_supported(link_type: u32) -> bool {
    matches!(
        link_type,
        NULL | ETHERNET | RAW_12 | RAW | LOOP | LINUX_SLL | IPV4 | IPV6 | LINUX_SLL2
    )
}

/// What a frame carries.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Payload<'a> {
    /// An IPv4 or IPv6 packet (the version nibble tells which).
    Ip(&'a [u8]),
    /// Something else (ARP, a too-short frame, ...): skipped.
    Other,
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b: [u8; 2] = data.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_be_bytes(b))
}

fn by_ethertype(ethertype: u16, rest: &[u8]) -> Payload<'_> {
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Payload::Ip(rest),
        _ => Payload::Other,
    }
}

/// BSD address families for IPv4 and IPv6 (Linux, the BSDs, macOS).
fn by_family(family: u32, rest: &[u8]) -> Payload<'_> {
    match family {
        2 | 10 | 24 | 28 | 30 => Payload::Ip(rest),
        _ => Payload::Other,
    }
}

/// Strips the link-layer header of `frame` captured with `link_type`.
pub(crate) fn network_payload(link_type: u32, frame: &[u8]) -> Payload<'_> {
    match link_type {
        ETHERNET => {
            let Some(mut ethertype) = be16(frame, 12) else {
                return Payload::Other;
            };
            let mut at: usize = 14;
            while VLAN_TAGS.contains(&ethertype) {
                let Some(next) = be16(frame, at.saturating_add(2)) else {
                    return Payload::Other;
                };
                ethertype = next;
                at = at.saturating_add(4);
            }
            frame
                .get(at..)
                .map_or(Payload::Other, |rest| by_ethertype(ethertype, rest))
        }
        LINUX_SLL => match (be16(frame, 14), frame.get(16..)) {
            (Some(proto), Some(rest)) => by_ethertype(proto, rest),
            _ => Payload::Other,
        },
        LINUX_SLL2 => match (be16(frame, 0), frame.get(20..)) {
            (Some(proto), Some(rest)) => by_ethertype(proto, rest),
            _ => Payload::Other,
        },
        NULL | LOOP => {
            let (Some(head), Some(rest)) = (frame.get(..4), frame.get(4..)) else {
                return Payload::Other;
            };
            let Ok(head): Result<[u8; 4], _> = head.try_into() else {
                return Payload::Other;
            };
            let family = if link_type == LOOP {
                u32::from_be_bytes(head)
            } else {
                // Written in the capturing host's byte order: families are
                // small numbers, so the order with the small value is right.
                let le = u32::from_le_bytes(head);
                if le > 0xffff {
                    u32::from_be_bytes(head)
                } else {
                    le
                }
            };
            by_family(family, rest)
        }
        RAW_12 | RAW | IPV4 | IPV6 => Payload::Ip(frame),
        _ => Payload::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_each_link_header() {
        let ip = [0x45u8, 0, 0, 20];
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&ip);
        assert_eq!(network_payload(ETHERNET, &eth), Payload::Ip(&ip));

        let mut vlan = vec![0u8; 12];
        vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x86, 0xdd]);
        vlan.extend_from_slice(&ip);
        assert_eq!(network_payload(ETHERNET, &vlan), Payload::Ip(&ip));

        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        assert_eq!(network_payload(LINUX_SLL, &sll), Payload::Ip(&ip));

        let mut sll2 = vec![0x86, 0xdd];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&ip);
        assert_eq!(network_payload(LINUX_SLL2, &sll2), Payload::Ip(&ip));

        for head in [[2u8, 0, 0, 0], [0, 0, 0, 2], [30, 0, 0, 0], [0, 0, 0, 24]] {
            let mut null = head.to_vec();
            null.extend_from_slice(&ip);
            assert_eq!(network_payload(NULL, &null), Payload::Ip(&ip), "{head:?}");
        }
        let mut lp = vec![0, 0, 0, 2];
        lp.extend_from_slice(&ip);
        assert_eq!(network_payload(LOOP, &lp), Payload::Ip(&ip));
        assert_eq!(network_payload(RAW, &ip), Payload::Ip(&ip));
    }

    #[test]
    fn skips_non_ip_and_short_frames() {
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06, 1, 2]);
        assert_eq!(network_payload(ETHERNET, &arp), Payload::Other);
        assert_eq!(network_payload(ETHERNET, &[0; 5]), Payload::Other);
        assert_eq!(network_payload(LINUX_SLL2, &[0x08]), Payload::Other);
        assert_eq!(network_payload(NULL, &[7, 0, 0, 0, 1]), Payload::Other);
        assert_eq!(network_payload(999, &[1, 2, 3]), Payload::Other);
    }
}
