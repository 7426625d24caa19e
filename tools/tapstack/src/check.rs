//! The checks `tapstack run` makes on option values before it starts
//! anything: the same rules as the library's configuration (src/config.rs),
//! so that a bad value is named with its option here rather than by the
//! library once the program runs. This crate does not link the library (it
//! exports `socket`, `connect`, ... that must not replace this command's
//! own), hence the copy; keep the two in step.

use std::net::Ipv4Addr;

/// The library's defaults.
pub const DEFAULT_IFNAME: &str = "tap0";
pub const DEFAULT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const DEFAULT_PREFIX: u8 = 24;

/// Linux's IFNAMSIZ, with its terminating NUL.
const IFNAMSIZ: usize = 16;

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

/// A gateway: an address on our network that is not ours.
pub fn gateway(v: &str, ip: Ipv4Addr, prefix_len: u8) -> Result<Ipv4Addr, String> {
    let gw: Ipv4Addr = v
        .trim()
        .parse()
        .map_err(|_| "not an IPv4 address (like 198.18.0.1)".to_string())?;
    if network(gw, prefix_len) != network(ip, prefix_len) {
        let net = Ipv4Addr::from(network(ip, prefix_len));
        return Err(format!("not on our network {net}/{prefix_len}"));
    }
    if gw == ip {
        return Err("is our own address".into());
    }
    Ok(gw)
}

pub fn log_level(v: &str) -> Result<(), String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "error" | "warn" | "info" | "debug" | "trace" => Ok(()),
        _ => Err("not a log level (error, warn, info, debug or trace)".into()),
    }
}

/// `drop=0.05,dup=0.01,reorder=0.1,corrupt=0.001,delay=2ms,seed=7`.
pub fn faults(v: &str) -> Result<(), String> {
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, val) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?} is not key=value"))?;
        let (key, val) = (key.trim(), val.trim());
        match key {
            "drop" | "dup" | "reorder" | "corrupt" => match val.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => {}
                _ => {
                    return Err(format!(
                        "{key}={} is not a probability from 0 to 1",
                        val.escape_debug()
                    ));
                }
            },
            "delay" => duration(key, val)?,
            "seed" => {
                val.parse::<u64>().map_err(|_| {
                    format!("seed={} is not an unsigned integer", val.escape_debug())
                })?;
            }
            _ => {
                return Err(format!(
                    "unknown fault {key:?} (known: drop, dup, reorder, corrupt, delay, seed)"
                ));
            }
        }
    }
    Ok(())
}

/// `2ms`, `500us`, `1.5s` or `0`, up to 60 s.
fn duration(key: &str, v: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "{key}={} is not a duration (like 2ms, 500us or 1s)",
            v.escape_debug()
        )
    };
    if v == "0" {
        return Ok(());
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
    Ok(())
}

/// The address `--setup` gives the kernel's side of the TAP: the gateway
/// when there is one (the kernel is then our router), else the first host
/// address of the prefix, or the second when the first is ours. For the
/// default 198.18.0.2/24 that is 198.18.0.1, as in README.md's recipe.
pub fn kernel_side(ip: Ipv4Addr, prefix_len: u8, gw: Option<Ipv4Addr>) -> Result<Ipv4Addr, String> {
    if let Some(gw) = gw {
        return Ok(gw);
    }
    let net = network(ip, prefix_len);
    let first = match prefix_len {
        32 => {
            return Err(format!(
                "{ip}/32 leaves no address for the kernel's side of the TAP (use a shorter prefix)"
            ));
        }
        // RFC 3021: both addresses of a /31 are hosts.
        31 => net,
        _ => net + 1,
    };
    let pick = if Ipv4Addr::from(first) == ip {
        first + 1
    } else {
        first
    };
    Ok(Ipv4Addr::from(pick))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert_eq!(cidr("10.1.2.3/16"), Ok((Ipv4Addr::new(10, 1, 2, 3), 16)));
        for bad in [
            "10.0.0/24",
            "10.0.0.1",
            "10.0.0.1/33",
            "10.0.0.1/0",
            "224.0.0.1/24",
            "0.0.0.0/8",
            "255.255.255.255/24",
            "",
        ] {
            assert!(cidr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn gateways() {
        let ip = DEFAULT_IP;
        assert_eq!(
            gateway("198.18.0.1", ip, 24),
            Ok(Ipv4Addr::new(198, 18, 0, 1))
        );
        assert!(
            gateway("10.0.0.1", ip, 24)
                .unwrap_err()
                .contains("198.18.0.0/24")
        );
        assert!(gateway("198.18.0.2", ip, 24).is_err());
        assert!(gateway("gateway", ip, 24).is_err());
    }

    #[test]
    fn ifnames() {
        assert!(ifname("tap1").is_ok());
        assert!(ifname("a-name-that-is-far-too-long").is_err());
        assert!(ifname("../x").is_err());
        assert!(ifname("has space").is_err());
        assert!(ifname("").is_err());
    }

    #[test]
    fn fault_specs() {
        assert!(faults("drop=0.05,dup=0.01,reorder=0.1,corrupt=0.001,delay=2ms,seed=7").is_ok());
        assert!(faults("delay=1.5s, drop=1").is_ok());
        assert!(faults("drop=1.5").unwrap_err().contains("probability"));
        assert!(faults("loss=0.1").unwrap_err().contains("unknown fault"));
        for bad in ["drop", "delay=2", "delay=-2ms", "seed=-1", "delay=61s"] {
            assert!(faults(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn log_levels() {
        assert!(log_level("debug").is_ok());
        assert!(log_level("TRACE").is_ok());
        assert!(log_level("loud").is_err());
    }

    #[test]
    fn kernel_sides() {
        let k = |ip: &str, gw: Option<[u8; 4]>| {
            let (ip, p) = cidr(ip).unwrap();
            kernel_side(ip, p, gw.map(Ipv4Addr::from)).map(|a| a.to_string())
        };
        // README.md's recipe: tapstack 198.18.0.2/24, the kernel 198.18.0.1/24.
        assert_eq!(k("198.18.0.2/24", None).as_deref(), Ok("198.18.0.1"));
        assert_eq!(k("198.18.0.1/24", None).as_deref(), Ok("198.18.0.2"));
        assert_eq!(k("10.0.0.9/8", None).as_deref(), Ok("10.0.0.1"));
        assert_eq!(k("10.0.0.1/30", None).as_deref(), Ok("10.0.0.2"));
        assert_eq!(k("10.0.0.1/31", None).as_deref(), Ok("10.0.0.0"));
        assert_eq!(k("10.0.0.0/31", None).as_deref(), Ok("10.0.0.1"));
        assert_eq!(
            k("198.18.0.2/24", Some([198, 18, 0, 254])).as_deref(),
            Ok("198.18.0.254")
        );
        assert!(k("10.0.0.1/32", None).unwrap_err().contains("/32"));
    }
}
