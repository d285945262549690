//! `authtap ca`: prints (creating if missing) the local CA and how to trust it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use authtap::ca::LocalCa;

/// Arguments of `authtap ca`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the local CA lives (created if missing).
    #[arg(long, value_name = "DIR", default_value = "certs")]
    certs_dir: PathBuf,
}

/// Runs `authtap ca`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let ca = LocalCa::load_or_create(&args.certs_dir).with_context(|| {
        format!(
            "cannot load or create the CA in {}",
            args.certs_dir.display()
        )
    })?;
    let cert = std::fs::canonicalize(ca.cert_path()).unwrap_or_else(|_| ca.cert_path());
    if ca.was_created() {
        println!("created a new local CA (valid for localhost, 127.0.0.1 and ::1 only)");
    }
    println!("CA certificate: {}", cert.display());
    println!(
        "CA key:         {} (mode 0600, never share it)",
        ca.key_path().display()
    );
    println!("SHA-256:        {}", ca.fingerprint_sha256());
    println!();
    println!("Trust it for one process:");
    println!(
        "  Node / Claude Code / MCP Inspector:  export NODE_EXTRA_CA_CERTS={}",
        cert.display()
    );
    println!(
        "  Python (httpx, requests), OpenSSL:   export SSL_CERT_FILE={}",
        cert.display()
    );
    println!(
        "  curl:                                curl --cacert {} https://localhost:8443/",
        cert.display()
    );
    println!(
        "Its name constraints limit it to localhost, so trusting it cannot expose other sites."
    );
    Ok(ExitCode::SUCCESS)
}
