#![forbid(unsafe_code)]
//! The `imprint` binary: a thin shell over the library's CLI module.

fn main() -> std::process::ExitCode {
    imprint::cli::main()
}
