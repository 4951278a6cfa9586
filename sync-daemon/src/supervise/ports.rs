//! Where a dev server actually listens, when it did not take the port it
//! was given: the listening TCP sockets of its process group (from
//! `/proc/net/tcp{,6}` and the groups' `/proc/<pid>/fd` links), and the
//! `http://localhost:N` URLs it printed. The parsers are pure; `listening_in_group`
//! is the thin I/O around them.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// TCP state `LISTEN` in `/proc/net/tcp`.
const LISTEN: &str = "0A";

/// The listening sockets of a `/proc/net/tcp` (or `tcp6`) table, as
/// (inode, local address).
pub fn parse_listening(table: &str) -> Vec<(u64, SocketAddr)> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 10 || fields[3] != LISTEN {
                return None;
            }
            let address = parse_hex_address(fields[1])?;
            let inode = fields[9].parse().ok()?;
            Some((inode, address))
        })
        .collect()
}

/// `0100007F:1435` → 127.0.0.1:5173; IPv6 as four host-order words.
fn parse_hex_address(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(ip, 16).ok()?.to_le_bytes(),
        )),
        32 => {
            let mut bytes = [0u8; 16];
            for (index, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(&ip[index * 8..index * 8 + 8], 16).ok()?;
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// `socket:[12345]` → 12345.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The process group of a `/proc/<pid>/stat` line (the fifth field; the
/// command name in parentheses may itself hold spaces and parentheses).
pub fn stat_group(stat: &str) -> Option<i32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(2)?.parse().ok()
}

/// Where to connect to reach a socket bound to `address`: the loopback of
/// its family for a wildcard bind.
pub fn connectable(address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), address.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), address.port())
        }
        _ => address,
    }
}

/// Loopback addresses of the URLs a line announces (`http://localhost:5173/`,
/// `127.0.0.1:3000`, `[::1]:4321`, `0.0.0.0:8080`), ANSI already stripped.
pub fn announced(line: &str) -> Vec<SocketAddr> {
    const HOSTS: &[(&str, &[IpAddr])] = &[
        (
            "localhost:",
            &[
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
        ),
        ("127.0.0.1:", &[IpAddr::V4(Ipv4Addr::LOCALHOST)]),
        ("0.0.0.0:", &[IpAddr::V4(Ipv4Addr::LOCALHOST)]),
        ("[::1]:", &[IpAddr::V6(Ipv6Addr::LOCALHOST)]),
        ("[::]:", &[IpAddr::V6(Ipv6Addr::LOCALHOST)]),
    ];
    let mut found = Vec::new();
    for (host, ips) in HOSTS {
        for (index, _) in line.match_indices(host) {
            let digits: String = line[index + host.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(port @ 1..) = digits.parse::<u16>() {
                found.extend(ips.iter().map(|ip| SocketAddr::new(*ip, port)));
            }
        }
    }
    found
}

/// The addresses the processes of group `group` listen on (reachable form),
/// read from `/proc`. Processes that vanish mid-read are skipped.
pub fn listening_in_group(group: i32) -> Vec<SocketAddr> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut inodes = BTreeSet::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let in_group = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| stat_group(&stat))
            == Some(group);
        if !in_group {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path())
                && let Some(inode) = link.to_str().and_then(socket_inode)
            {
                inodes.insert(inode);
            }
        }
    }
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for (inode, address) in parse_listening(&text) {
            let address = connectable(address);
            if inodes.contains(&inode) && !found.contains(&address) {
                found.push(address);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_read_from_proc_net_tcp() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1435 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:A1B2 0100007F:1435 01 00000000:00000000 00:00000000 00000000  1000        0 4243 1 0000000000000000 20 4 30 10 -1\n\
   2: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(
            parse_listening(tcp),
            vec![
                (4242, "127.0.0.1:5173".parse().unwrap()),
                (77, "0.0.0.0:3000".parse().unwrap())
            ]
        );
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000000000000000000001000000:1435 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 99 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(
            parse_listening(tcp6),
            vec![(99, "[::1]:5173".parse().unwrap())]
        );
    }

    #[test]
    fn wildcard_binds_are_reached_on_loopback() {
        let cases = [
            ("0.0.0.0:3000", "127.0.0.1:3000"),
            ("[::]:3000", "[::1]:3000"),
            ("127.0.0.1:5173", "127.0.0.1:5173"),
        ];
        for (bound, expected) in cases {
            assert_eq!(
                connectable(bound.parse().unwrap()),
                expected.parse().unwrap()
            );
        }
    }

    #[test]
    fn proc_details_are_parsed() {
        assert_eq!(socket_inode("socket:[12345]"), Some(12345));
        assert_eq!(socket_inode("pipe:[12345]"), None);
        assert_eq!(stat_group("42 (node (x) y) S 1 40 40 0 -1"), Some(40));
        assert_eq!(stat_group("garbage"), None);
    }

    #[test]
    fn printed_urls_name_the_port() {
        let v4 = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let v6 = |port| SocketAddr::from((Ipv6Addr::LOCALHOST, port));
        let cases: Vec<(&str, Vec<SocketAddr>)> = vec![
            (
                "  ➜  Local:   http://localhost:5173/",
                vec![v4(5173), v6(5173)],
            ),
            ("   - Local:        http://127.0.0.1:3000", vec![v4(3000)]),
            ("Listening on http://0.0.0.0:8080", vec![v4(8080)]),
            ("astro  ┃ Local    http://[::1]:4321/", vec![v6(4321)]),
            ("compiled in 120 ms", vec![]),
            ("localhost:0 and localhost:99999", vec![]),
        ];
        for (line, expected) in cases {
            assert_eq!(announced(line), expected, "{line}");
        }
    }
}
