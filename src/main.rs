//! The `authtap` binary: parses the command line and maps results to exit codes
//! (0 ok, 1 error-level findings or a failed check, 2 usage or runtime error).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    authtap::install_crypto_provider();
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("authtap: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
