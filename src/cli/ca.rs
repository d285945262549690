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
        "  Python (httpx, mcp SDK), OpenSSL:    export SSL_CERT_FILE={} (requests: REQUESTS_CA_BUNDLE)",
        cert.display()
    );
    println!(
        "  curl:                                curl --cacert {} https://localhost:8443/",
        cert.display()
    );
    println!(
        "  Go programs:                         export SSL_CERT_FILE={}",
        cert.display()
    );
    println!();
    println!("Trust it system-wide (browsers, Claude Desktop, other desktop apps):");
    println!(
        "  macOS:          sudo security add-trusted-cert -d -r trustRoot -k \
         /Library/Keychains/System.keychain {}",
        cert.display()
    );
    println!(
        "  Debian, Ubuntu: sudo cp {} /usr/local/share/ca-certificates/authtap.crt && sudo \
         update-ca-certificates",
        cert.display()
    );
    println!(
        "  Chrome, Firefox on Linux (NSS): certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n authtap -i {}",
        cert.display()
    );
    println!(
        "  Windows:        certutil -addstore -user Root {}",
        cert.display()
    );
    println!();
    println!(
        "Its name constraints permit only localhost, 127.0.0.1 and ::1 (DNS and IP), so trusting \
         it cannot expose other sites. Point clients at https://localhost:PORT: Claude Code's \
         BoringSSL cannot check IP-address constraints, so https://127.0.0.1:PORT fails there."
    );
    Ok(ExitCode::SUCCESS)
}
