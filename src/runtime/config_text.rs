//! The rules for the `TAPSTACK_*` values that both the library and the
//! `tapstack` command check: interface names, IPv4 CIDRs and gateways,
//! durations. The command cannot link the library (its exported `socket`
//! and the rest would replace the command's own), so it includes this same
//! file (`#[path = ...] mod config_text;`); it therefore uses nothing but
//! `std`, and there is one set of rules for both.

use std::net::Ipv4Addr;

/// Linux's `IFNAMSIZ`, with its terminating NUL.
pub const IFNAMSIZ: usize = 16;

/// A TAP name the kernel takes as it is: 1 to 15 printable characters, no
/// `/`, `:` or spaces, not `.` or `..` (`dev_valid_name`). An empty name
/// would let the kernel pick one (`tap%d`), never the TAP meant.
pub fn ifname(v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.len() < IFNAMSIZ
        && v != "."
        && v != ".."
        && v.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "not an interface name (at most {} printable characters, no '/', ':' or spaces)",
            IFNAMSIZ - 1
        ))
    }
}

/// `198.18.0.2/24`: a unicast address and a prefix length of 1 to 32.
pub fn cidr(v: &str) -> Result<(Ipv4Addr, u8), String> {
    const BAD: &str = "not an IPv4 address with a prefix (like 198.18.0.2/24)";
    let (addr, prefix) = v.trim().split_once('/').ok_or(BAD)?;
    let ip: Ipv4Addr = addr.parse().map_err(|_| BAD)?;
    let prefix: u8 = prefix.parse().map_err(|_| BAD)?;
    if prefix == 0 || prefix > 32 {
        return Err("the prefix length must be 1 to 32".into());
    }
    if ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() {
        return Err("not a unicast address".into());
    }
    Ok((ip, prefix))
}

/// The first address of `ip`'s network.
pub fn network(ip: Ipv4Addr, prefix_len: u8) -> u32 {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0);
    u32::from(ip) & mask
}

/// A gateway: an address on our network (`what` names it in the error)
/// that is not ours.
pub fn gateway(v: &str, ip: Ipv4Addr, prefix_len: u8, what: &str) -> Result<Ipv4Addr, String> {
    let gw: Ipv4Addr = v
        .trim()
        .parse()
        .map_err(|_| "not an IPv4 address (like 198.18.0.1)".to_string())?;
    if network(gw, prefix_len) != network(ip, prefix_len) {
        let net = Ipv4Addr::from(network(ip, prefix_len));
        return Err(format!("not on {what} {net}/{prefix_len}"));
    }
    if gw == ip {
        return Err("is our own address".into());
    }
    Ok(gw)
}

/// `2ms`, `500us`, `1.5s` or `0`, up to 60 s, in microseconds; `key` names
/// the value in the error.
pub fn duration_micros(key: &str, v: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "{key}={} is not a duration (like 2ms, 500us or 1s)",
            v.escape_debug()
        )
    };
    if v == "0" {
        return Ok(0);
    }
    let (num, unit_micros) = if let Some(n) = v.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e6)
    } else {
        return Err(bad());
    };
    let x: f64 = num.parse().map_err(|_| bad())?;
    let micros = x * unit_micros;
    if !micros.is_finite() || !(0.0..=60e6).contains(&micros) {
        return Err(bad());
    }
    Ok(micros.round() as u64)
}
