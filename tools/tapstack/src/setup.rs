//! `tapstack run --setup`: makes the TAP ready for the program, as
//! README.md's recipe does by hand, with the `ip` command (iproute2), in
//! whatever network namespace the command runs in.

use crate::check;
use crate::run::Effective;
use std::net::Ipv4Addr;
use std::process::Command;

/// What the TAP looks like now, from `ip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Missing,
    /// It exists; `tap` says whether it is a TAP (not a TUN, a veth, ...),
    /// `up` whether it is administratively up.
    Present {
        tap: bool,
        up: bool,
        addrs: Vec<(Ipv4Addr, u8)>,
    },
}

/// One change `--setup` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create,
    Address(Ipv4Addr, u8),
    Up,
}

/// What to do about `link` (the TAP `eff.ifname`), and what to say about
/// what is right already. The kernel's side needs an address on our
/// prefix: `peer`, unless it has one already (any other than ours; with a
/// gateway, the gateway's).
pub fn plan(
    link: &Link,
    eff: &Effective,
    peer: Ipv4Addr,
) -> Result<(Vec<Action>, Vec<String>), String> {
    let name = &eff.ifname;
    let mut actions = Vec::new();
    let mut notes = Vec::new();
    let (up, addrs) = match link {
        Link::Missing => {
            actions.push(Action::Create);
            (false, &[][..])
        }
        Link::Present { tap: false, .. } => {
            return Err(format!(
                "{name} exists and is not a TAP device; choose another name with --ifname"
            ));
        }
        Link::Present { up, addrs, .. } => {
            notes.push(format!("{name} exists already"));
            (*up, &addrs[..])
        }
    };
    if let Some((a, p)) = addrs.iter().find(|(a, _)| *a == eff.ip) {
        return Err(format!(
            "{name}'s kernel side has {a}/{p}, tapstack's own address: remove it \
             (ip addr del {a}/{p} dev {name}) or give tapstack another with --ip"
        ));
    }
    let net = check::network(eff.ip, eff.prefix_len);
    let right = |(a, _): &&(Ipv4Addr, u8)| match eff.gw {
        Some(gw) => *a == gw,
        None => check::network(*a, eff.prefix_len) == net,
    };
    match addrs.iter().find(right) {
        Some((a, p)) => notes.push(format!("{name} has {a}/{p} already")),
        None => actions.push(Action::Address(peer, eff.prefix_len)),
    }
    if up {
        notes.push(format!("{name} is up already"));
    } else {
        actions.push(Action::Up);
    }
    Ok((actions, notes))
}

/// The words for an action done: "created tap0", "gave tap0 198.18.0.1/24",
/// "set tap0 up".
pub fn done(action: &Action, name: &str) -> String {
    match action {
        Action::Create => format!("created {name} (it lasts; `ip link del {name}` removes it)"),
        Action::Address(a, p) => format!("gave {name} {a}/{p}"),
        Action::Up => format!("set {name} up"),
    }
}

/// Makes the TAP ready, printing each thing it does or finds right
/// already (to stderr, `tapstack: ...`).
pub fn setup(eff: &Effective) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "--setup needs root: it creates the TAP and sets its address (try sudo; or make \
             the TAP once as README.md shows and leave --setup out)"
                .into(),
        );
    }
    let peer = check::kernel_side(eff.ip, eff.prefix_len, eff.gw)?;
    let link = read_link(&eff.ifname)?;
    let (actions, notes) = plan(&link, eff, peer)?;
    for n in notes {
        eprintln!("tapstack: {n}");
    }
    let name = eff.ifname.as_str();
    for a in &actions {
        let addr;
        let args: Vec<&str> = match a {
            Action::Create => vec!["tuntap", "add", "dev", name, "mode", "tap", "multi_queue"],
            Action::Address(ip, p) => {
                addr = format!("{ip}/{p}");
                vec!["addr", "add", &addr, "dev", name]
            }
            Action::Up => vec!["link", "set", "dev", name, "up"],
        };
        ip(&args)?;
        eprintln!("tapstack: {}", done(a, name));
    }
    Ok(())
}

/// Runs `ip ARGS`; its stdout, or an error with its words.
fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip").args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "--setup needs the ip command (apt-get install iproute2)".to_string()
        } else {
            format!("cannot run ip: {e}")
        }
    })?;
    if !out.status.success() {
        return Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn read_link(name: &str) -> Result<Link, String> {
    let cname = std::ffi::CString::new(name).map_err(|_| "interface name has a NUL".to_string())?;
    // SAFETY: cname is a valid NUL-terminated string. if_nametoindex asks
    // the kernel of this network namespace, as `ip` would.
    if unsafe { libc::if_nametoindex(cname.as_ptr()) } == 0 {
        return Ok(Link::Missing);
    }
    let details = ip(&["-d", "-o", "link", "show", "dev", name])?;
    let addrs = ip(&["-4", "-o", "addr", "show", "dev", name])?;
    Ok(parse_link(&details, &addrs))
}

/// Reads `ip -d -o link show` and `ip -4 -o addr show` for one device.
pub fn parse_link(details: &str, addrs: &str) -> Link {
    let flags = details
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(f, _)| f)
        .unwrap_or("");
    let up = flags.split(',').any(|f| f == "UP");
    let words: Vec<&str> = details.split_whitespace().collect();
    let tap = words
        .windows(3)
        .any(|w| w[0] == "tun" && w[1] == "type" && w[2] == "tap");
    let addrs = addrs
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace().skip_while(|w| *w != "inet");
            w.next()?;
            let (a, p) = w.next()?.split_once('/')?;
            Some((a.parse().ok()?, p.parse().ok()?))
        })
        .collect();
    Link::Present { tap, up, addrs }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOWN_TAP: &str = "2: tap0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000\\    link/ether ca:4f:d0:e2:cd:3c brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65521 \\    tun type tap pi off vnet_hdr off persist on addrgenmode eui64 numtxqueues 1\n";
    const UP_TAP: &str = "2: tap0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc pfifo_fast state DOWN mode DEFAULT group default qlen 1000\\    link/ether ca:4f:d0:e2:cd:3c brd ff:ff:ff:ff:ff:ff promiscuity 0 \\    tun type tap pi off vnet_hdr off persist on\n";
    const VETH: &str = "3: v0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\\    link/ether 02:00:c6:12:00:02 brd ff:ff:ff:ff:ff:ff \\    veth addrgenmode eui64\n";
    const ADDR: &str = "2: tap0    inet 198.18.0.1/24 scope global tap0\\       valid_lft forever preferred_lft forever\n";

    fn default_eff() -> Effective {
        Effective {
            ifname: "tap0".into(),
            ip: check::DEFAULT_IP,
            prefix_len: 24,
            gw: None,
        }
    }

    const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

    #[test]
    fn reads_ip_output() {
        assert_eq!(
            parse_link(DOWN_TAP, ""),
            Link::Present {
                tap: true,
                up: false,
                addrs: vec![]
            }
        );
        assert_eq!(
            parse_link(UP_TAP, ADDR),
            Link::Present {
                tap: true,
                up: true,
                addrs: vec![(PEER, 24)]
            }
        );
        assert!(matches!(
            parse_link(VETH, ""),
            Link::Present {
                tap: false,
                up: true,
                ..
            }
        ));
    }

    #[test]
    fn a_missing_tap_is_made_whole() {
        let (a, notes) = plan(&Link::Missing, &default_eff(), PEER).unwrap();
        assert_eq!(a, [Action::Create, Action::Address(PEER, 24), Action::Up]);
        assert!(notes.is_empty());
        let words: Vec<String> = a.iter().map(|a| done(a, "tap0")).collect();
        assert!(words[0].starts_with("created tap0"));
        assert_eq!(words[1], "gave tap0 198.18.0.1/24");
        assert_eq!(words[2], "set tap0 up");
    }

    #[test]
    fn what_is_right_already_is_left_alone() {
        let ready = parse_link(UP_TAP, ADDR);
        let (a, notes) = plan(&ready, &default_eff(), PEER).unwrap();
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(
            notes,
            [
                "tap0 exists already",
                "tap0 has 198.18.0.1/24 already",
                "tap0 is up already"
            ]
        );
        // Another address on the prefix is the user's choice: kept.
        let other = "2: tap0    inet 198.18.0.9/24 scope global tap0\n";
        let (a, _) = plan(&parse_link(UP_TAP, other), &default_eff(), PEER).unwrap();
        assert!(a.is_empty(), "{a:?}");
        // Only what is missing is done.
        let (a, _) = plan(&parse_link(DOWN_TAP, ""), &default_eff(), PEER).unwrap();
        assert_eq!(a, [Action::Address(PEER, 24), Action::Up]);
        let off_prefix = "2: tap0    inet 10.0.0.1/24 scope global tap0\n";
        let (a, _) = plan(&parse_link(UP_TAP, off_prefix), &default_eff(), PEER).unwrap();
        assert_eq!(a, [Action::Address(PEER, 24)]);
    }

    #[test]
    fn with_a_gateway_the_kernel_side_must_be_it() {
        let gw = Ipv4Addr::new(198, 18, 0, 254);
        let eff = Effective {
            gw: Some(gw),
            ..default_eff()
        };
        let (a, _) = plan(&parse_link(UP_TAP, ADDR), &eff, gw).unwrap();
        assert_eq!(a, [Action::Address(gw, 24)]);
    }

    #[test]
    fn refusals() {
        let e = plan(&parse_link(VETH, ""), &default_eff(), PEER).unwrap_err();
        assert!(e.contains("not a TAP"), "{e}");
        let ours = "2: tap0    inet 198.18.0.2/24 scope global tap0\n";
        let e = plan(&parse_link(UP_TAP, ours), &default_eff(), PEER).unwrap_err();
        assert!(e.contains("tapstack's own address"), "{e}");
    }
}
