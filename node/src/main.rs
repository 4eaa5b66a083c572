//! `quorate`: the Quorate command-line tool (in progress).

#![forbid(unsafe_code)]
#![allow(clippy::print_stderr, reason = "a command-line tool")]

fn main() -> std::process::ExitCode {
    eprintln!("quorate: the node runtime is being built; see the README for what runs today");
    std::process::ExitCode::from(2)
}
