#![forbid(unsafe_code)]
//! The `imprint` binary: flag parsing and printing over the `imprint` library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
