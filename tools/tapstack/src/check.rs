//! The checks `tapstack run` makes on option values before it starts
//! anything, so that a bad value is named with its option here rather than
//! by the library once the program runs. The rules for names, addresses,
//! gateways and durations are the library's own file
//! (src/runtime/config_text.rs, included as `config_text`); the few checks
//! here that only the command needs (log levels, the fault list's keys,
//! the kernel side's address) build on them.

use std::net::Ipv4Addr;

pub use crate::config_text::{cidr, ifname, network};

/// A gateway on our network that is not our address.
pub fn gateway(v: &str, ip: Ipv4Addr, prefix_len: u8) -> Result<Ipv4Addr, String> {
    crate::config_text::gateway(v, ip, prefix_len, "our network")
}

fn duration(key: &str, v: &str) -> Result<(), String> {
    crate::config_text::duration_micros(key, v).map(|_| ())
}

/// The library's defaults.
pub const DEFAULT_IFNAME: &str = "tap0";
pub const DEFAULT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const DEFAULT_PREFIX: u8 = 24;

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
