//! `tapstack`: the command that runs programs on tapstack (the library
//! preloaded into them) and sets up their TAP. A crate of its own, so that
//! the preloaded library keeps its own small list of dependencies.
//!
//! `run` starts a program on the stack; `ss`, `neigh` and `stats` look
//! into running stacks through their control sockets (`inspect.rs`);
//! `plot` draws a trace's connections (`trace.rs`, `plot.rs`, `svg.rs`).

mod check;
#[path = "../../../src/runtime/config_text.rs"]
mod config_text;
mod inspect;
mod json;
#[path = "../../../src/runtime/known_vars.rs"]
mod known_vars;
mod plot;
mod run;
mod setup;
mod show;
mod svg;
mod trace;

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

const HELP: &str = "\
tapstack: run programs on tapstack, a TCP/IP stack in user space on a TAP device

Usage: tapstack <COMMAND> [ARGS...]

Commands:
  run     start a program with its TCP sockets on tapstack
          (preloads libtapstack.so; --setup makes the TAP ready first)
  ss      a running stack's sockets, like ss -tan (-i: internals, as ss -ti)
  neigh   a running stack's neighbour (ARP) cache, like ip neigh
  stats   a running stack's counters, like nstat -a
          (each with --json; --ifname NAME or --pid PID picks the stack)
  plot    SVG pictures of a trace's connections (TAPSTACK_TRACE=FILE):
          ladder diagram, states, cwnd/ssthresh/flight, RTT
  trace   a trace as text: segments, state changes, timers, cwnd
  help    this text; `tapstack help COMMAND` is that command's

Options:
  -h, --help     this text
  -V, --version  the version

Example (as root, in a network namespace of its own):
  ip netns add ts && ip -n ts link set lo up
  ip netns exec ts tapstack run --setup -- python3 -m http.server 80
  ip netns exec ts curl http://198.18.0.2/             # in another terminal
  ip netns exec ts tapstack ss -i                      # its sockets, live

`tapstack run --help` lists run's options; README.md has the rest.";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let first = args.first().and_then(|a| a.to_str());
    match first {
        None => {
            eprintln!("{HELP}");
            ExitCode::from(2)
        }
        Some("-h" | "--help") => {
            println!("{HELP}");
            ExitCode::SUCCESS
        }
        Some("help") => match args.get(1).and_then(|a| a.to_str()) {
            None => {
                println!("{HELP}");
                ExitCode::SUCCESS
            }
            Some("run") => {
                println!("{}", run::HELP);
                ExitCode::SUCCESS
            }
            Some("ss" | "neigh" | "stats") => {
                println!("{}", inspect::HELP);
                ExitCode::SUCCESS
            }
            Some("plot") => {
                println!("{}", plot::HELP);
                ExitCode::SUCCESS
            }
            Some("trace") => {
                println!("{}", show::HELP);
                ExitCode::SUCCESS
            }
            Some(other) => usage(&format!(
                "no help for '{}': the commands are run, ss, neigh, stats, plot, trace, help",
                other.escape_debug()
            )),
        },
        Some("-V" | "--version") => {
            println!("tapstack {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("run") => cmd_run(&args[1..]),
        Some(cmd @ ("ss" | "neigh" | "stats")) => {
            let what = match cmd {
                "ss" => inspect::What::Ss,
                "neigh" => inspect::What::Neigh,
                _ => inspect::What::Stats,
            };
            let rest: Vec<String> = args[1..]
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            ExitCode::from(inspect::main(what, &rest))
        }
        Some(cmd @ ("plot" | "trace")) => {
            let rest: Vec<String> = args[1..]
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            ExitCode::from(if cmd == "plot" {
                plot::main(&rest)
            } else {
                show::main(&rest)
            })
        }
        Some(other) => usage(&format!(
            "unknown command '{}' (tapstack --help lists them)",
            other.escape_debug()
        )),
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("tapstack: {msg}");
    ExitCode::from(2)
}

fn cmd_run(args: &[OsString]) -> ExitCode {
    let opts = match run::parse(args) {
        Ok(o) => o,
        Err(e) => return usage(&format!("run: {}", e.0)),
    };
    if opts.help {
        println!("{}", run::HELP);
        return ExitCode::SUCCESS;
    }
    let env_var = |v: &str| std::env::var_os(v).map(|s| s.to_string_lossy().into_owned());
    let eff = match opts.check(env_var) {
        Ok(e) => e,
        Err(e) => return usage(&format!("run: {}", e.0)),
    };

    // A misspelt variable would be ignored without a word.
    let names = std::env::vars_os().filter_map(|(k, _)| k.into_string().ok());
    for w in known_vars::unknown_var_warnings(names) {
        eprintln!("tapstack: warning: {w}");
    }

    let lib = match std::env::current_exe()
        .map_err(|e| format!("cannot tell where this command is (/proc/self/exe): {e}"))
        .and_then(|exe| {
            let dir = exe.parent().map(|d| d.to_path_buf()).unwrap_or_default();
            run::find_lib(&dir)
        }) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tapstack: run: {e}");
            return ExitCode::FAILURE;
        }
    };

    if opts.setup
        && let Err(e) = setup::setup(&eff)
    {
        eprintln!("tapstack: run: {e}");
        return ExitCode::FAILURE;
    }

    let cwd = std::env::current_dir().unwrap_or_default();
    let old_preload = std::env::var_os("LD_PRELOAD");
    let env = opts.env(&lib, old_preload.as_deref(), &cwd);
    let program = &opts.program[0];
    // exec returns only on failure; on success the program has our pid.
    let err = Command::new(program)
        .args(&opts.program[1..])
        .envs(env)
        .exec();
    eprintln!(
        "tapstack: run: cannot run {}: {err}",
        program.to_string_lossy()
    );
    // As the shells do: 127 when it is not found, 126 when it cannot run.
    ExitCode::from(if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_fits_a_terminal_and_names_every_command() {
        for line in super::HELP.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
        let commands = super::HELP
            .split("Commands:\n")
            .nth(1)
            .and_then(|s| s.split("\n\n").next())
            .unwrap();
        for cmd in ["run", "ss", "neigh", "stats", "plot", "trace", "help"] {
            assert!(commands.contains(&format!("  {cmd} ")), "{cmd}");
        }
    }
}
