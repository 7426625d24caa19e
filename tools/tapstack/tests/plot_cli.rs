//! `tapstack plot` as a user runs it: the files it writes and says it
//! wrote, --conn, and errors that name the trace's line.

use std::path::PathBuf;
use std::process::Command;

fn tapstack(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tapstack"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tapstack-plot-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn writes_four_svgs_per_connection_and_prints_their_paths() {
    let dir = tmp("all");
    let d = dir.to_str().unwrap();
    let (code, out, err) = tapstack(&["plot", &data("handshake.trace"), "-o", d]);
    assert_eq!(code, 0, "{err}");
    // The fixture's last line is cut short: a warning with its number.
    assert!(err.contains("handshake.trace: line 24: cut short"), "{err}");
    let paths: Vec<&str> = out.lines().collect();
    let mut want = Vec::new();
    for conn in [
        "198.18.0.2_80-198.18.0.1_40000",
        "198.18.0.2_80-198.18.0.1_40001",
    ] {
        for kind in ["ladder", "states", "cwnd", "rtt"] {
            want.push(format!("{d}/{conn}-{kind}.svg"));
        }
    }
    assert_eq!(paths, want);
    for p in paths {
        let svg = std::fs::read_to_string(p).unwrap();
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{p}"
        );
        assert!(svg.trim_end().ends_with("</svg>"), "{p}");
    }
    let (code, out, _) = tapstack(&[
        "plot",
        &data("handshake.trace"),
        "-o",
        d,
        "--conn",
        ":40001",
    ]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 4);
    assert!(out.lines().all(|l| l.contains("_40001-")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_say_where() {
    let dir = tmp("err");
    let bad = dir.join("bad.trace");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        &bad,
        "{\"trace\":\"tapstack\",\"version\":1}\n{\"t_us\":1,\"conn\":\"a:1-b:2\",\"ev\":\"state\",\"from\":\"X\",\"to\":\"Y\"}\nnot json\n{}\n",
    )
    .unwrap();
    let (code, out, err) = tapstack(&["plot", bad.to_str().unwrap(), "-o", dir.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("bad.trace: line 3: not JSON"), "{err}");
    let (code, _, err) = tapstack(&[
        "plot",
        &data("handshake.trace"),
        "--conn",
        "nothing-like-it",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no connection matching \"nothing-like-it\"")
            && err.contains("198.18.0.2:80-198.18.0.1:40000"),
        "{err}"
    );
    let (code, _, err) = tapstack(&["plot"]);
    assert_eq!(code, 2);
    assert!(err.contains("which trace?"), "{err}");
    let (code, _, err) = tapstack(&["plot", "/nonexistent/trace"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read /nonexistent/trace"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_lists_plot() {
    let (code, out, _) = tapstack(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("\n  plot "), "{out}");
    let (code, out, _) = tapstack(&["help", "plot"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Usage: tapstack plot TRACE"), "{out}");
    let (code, out, _) = tapstack(&["plot", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--max-segments"), "{out}");
}

#[test]
fn many_connections_draw_the_busiest() {
    let dir = tmp("many");
    let d = dir.to_str().unwrap();
    let (code, out, err) = tapstack(&[
        "plot",
        &data("handshake.trace"),
        "-o",
        d,
        "--max-conns",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("2 connections; drawing the 1 with the most events"),
        "{err}"
    );
    assert_eq!(out.lines().count(), 4);
    assert!(out.lines().all(|l| l.contains("_40000-")), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
