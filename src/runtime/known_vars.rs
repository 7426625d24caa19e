//! The one list of `TAPSTACK_*` environment variable names, and the warning
//! for the ones not on it (a misspelt variable would otherwise be ignored
//! without a word).
//!
//! The library warns with it when the stack starts; the `tapstack`
//! command, which cannot link the library (its exported `socket` and the
//! rest would replace the command's own), includes this same file
//! (`#[path = ...] mod known_vars;`) to warn before it starts a program.
//! So this file uses nothing but `std`, and there is one list for both.

/// The variables the library reads (README.md's "Configuration" table).
pub const KNOWN: &[&str] = &[
    "TAPSTACK_IFNAME",
    "TAPSTACK_IP",
    "TAPSTACK_GW",
    "TAPSTACK_IP6",
    "TAPSTACK_MAC",
    "TAPSTACK_MTU",
    "TAPSTACK_PCAP",
    "TAPSTACK_FAULTS",
    "TAPSTACK_OFFLOAD",
    "TAPSTACK_LOG",
    "TAPSTACK_MSL",
    "TAPSTACK_TEST_HOOKS",
    "TAPSTACK_TRACE",
    "TAPSTACK_LOG_FILE",
    "TAPSTACK_SPIN_US",
];

/// Names the project's own tests set, which reach programs started under
/// them: not the library's, but not mistakes either, so no warning and no
/// suggestion of them.
pub const TEST_ONLY: &[&str] = &[
    "TAPSTACK_SIDE",
    "TAPSTACK_SIM_SEEDS",
    "TAPSTACK_RT_ENV_CHILD",
    "TAPSTACK_RT_CHILD_PCAP",
];

/// The prefix every name has.
pub const PREFIX: &str = "TAPSTACK_";

/// The known name closest to `name`, when it is close enough to be a
/// slip of the keyboard: at most 2 edits away (insert, delete, replace,
/// swap of neighbours) after the prefix, and fewer edits than the known
/// name's own part after the prefix has characters (so `TAPSTACK_XY` does
/// not suggest `TAPSTACK_IP`). Case is ignored (`TAPSTACK_ip` suggests
/// `TAPSTACK_IP`).
pub fn suggestion(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    let tail = upper.strip_prefix(PREFIX).unwrap_or(&upper);
    KNOWN
        .iter()
        .map(|k| {
            let ktail = &k[PREFIX.len()..];
            (edit_distance(tail, ktail), ktail.len(), *k)
        })
        .filter(|&(d, klen, _)| d <= 2 && d < klen)
        .min_by_key(|&(d, _, _)| d)
        .map(|(_, _, k)| k)
}

/// The warning for each `TAPSTACK_*` name among `names` that is neither
/// known nor a test's, one line each, in the order given:
/// `TAPSTACK_IPP is not a tapstack variable and is ignored (did you mean TAPSTACK_IP?)`.
/// The caller adds its own prefix (`tapstack: warning: `).
pub fn unknown_var_warnings<I, S>(names: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    names
        .into_iter()
        .filter_map(|n| {
            let n = n.as_ref();
            if !n.starts_with(PREFIX) || KNOWN.contains(&n) || TEST_ONLY.contains(&n) {
                return None;
            }
            // `{:?}` would quote; a name has no newline (it is an
            // environment name), but keep the line one line regardless.
            let shown: String = n.chars().filter(|c| !c.is_control()).collect();
            Some(match suggestion(n) {
                Some(k) => {
                    format!("{shown} is not a tapstack variable and is ignored (did you mean {k}?)")
                }
                None => format!(
                    "{shown} is not a tapstack variable and is ignored (known: {})",
                    KNOWN.join(", ")
                ),
            })
        })
        .collect()
}

/// Optimal string alignment distance: Levenshtein plus the swap of two
/// neighbouring characters as one edit (`TAPSTACK_PI` for `TAPSTACK_IP`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_test_names_are_not_warned_about() {
        let mut names: Vec<&str> = KNOWN.to_vec();
        names.extend_from_slice(TEST_ONLY);
        names.extend_from_slice(&["PATH", "LD_PRELOAD", "TAPSTACKX", "MY_TAPSTACK_IP"]);
        assert_eq!(unknown_var_warnings(names), Vec::<String>::new());
    }

    #[test]
    fn a_misspelt_name_is_named_with_the_close_one() {
        assert_eq!(
            unknown_var_warnings(["PATH", "TAPSTACK_IPP", "HOME"]),
            ["TAPSTACK_IPP is not a tapstack variable and is ignored (did you mean TAPSTACK_IP?)"]
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggestion("TAPSTACK_IPP"), Some("TAPSTACK_IP"));
        assert_eq!(suggestion("TAPSTACK_PI"), Some("TAPSTACK_IP"));
        assert_eq!(suggestion("TAPSTACK_ip"), Some("TAPSTACK_IP"));
        assert_eq!(suggestion("TAPSTACK_IFACE"), Some("TAPSTACK_IFNAME"));
        assert_eq!(suggestion("TAPSTACK_FAULT"), Some("TAPSTACK_FAULTS"));
        assert_eq!(suggestion("TAPSTACK_LOGS"), Some("TAPSTACK_LOG"));
        assert_eq!(suggestion("TAPSTACK_OFLOAD"), Some("TAPSTACK_OFFLOAD"));
        assert_eq!(suggestion("TAPSTACK_GATEWAY"), None);
        assert_eq!(suggestion("TAPSTACK_XY"), None);
        assert_eq!(suggestion("TAPSTACK_"), None);
    }

    #[test]
    fn a_far_name_gets_the_list() {
        let w = unknown_var_warnings(["TAPSTACK_GATEWAY"]);
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("TAPSTACK_GATEWAY is not a tapstack variable"));
        assert!(w[0].contains("known: TAPSTACK_IFNAME, TAPSTACK_IP, TAPSTACK_GW"));
    }

    #[test]
    fn one_line_each() {
        let w = unknown_var_warnings(["TAPSTACK_A\nB", "TAPSTACK_MTUU"]);
        assert_eq!(w.len(), 2);
        assert!(w.iter().all(|l| !l.contains('\n')), "{w:?}");
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("IP", "IPP"), 1);
        assert_eq!(edit_distance("IP", "PI"), 1);
        assert_eq!(edit_distance("IFACE", "IFNAME"), 2);
        assert_eq!(edit_distance("GW", ""), 2);
    }
}
