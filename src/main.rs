//! The `authtap` binary: parses the command line and maps results to exit codes
//! (0 ok, 1 error-level findings or a failed check, 2 usage or runtime error).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    authtap::install_crypto_provider();
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("authtap: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// `authtap lint trace.jsonl | head` must end quietly with 0 when the reader goes away, not
/// with a panic: `println!` panics on EPIPE, so that one panic becomes a clean exit.
fn exit_quietly_on_broken_pipe() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
}
