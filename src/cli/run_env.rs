//! The environment `authtap run` gives its command: proxy variables, CA trust, `NO_PROXY`
//! without the intercepted hosts, and a `BROWSER` that goes through the proxy.

use std::path::{Path, PathBuf};

use anyhow::Context;

use authtap::intercept::scope::HostPattern;

/// Where distributions keep their PEM bundle of public roots, most common first.
const SYSTEM_BUNDLES: [&str; 5] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/etc/openssl/cert.pem",
];

/// Chromium and Chrome binaries looked for on `PATH`, in order.
const CHROMIUM_NAMES: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// Writes the CA certificate (0644) and the merged bundle (system roots, then the CA; 0644)
/// into `dir`; returns their paths. The bundle keeps everything else the child does over TLS
/// working while the intercepted hosts verify against the CA.
pub fn write_trust_files(dir: &Path, ca_pem: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    use std::os::unix::fs::PermissionsExt;
    let ca_path = dir.join("run-ca.pem");
    let bundle_path = dir.join("run-ca-bundle.pem");
    let mut bundle = match system_bundle() {
        Some(path) => std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the system roots {}", path.display()))?,
        None => {
            tracing::warn!(
                "no system CA bundle found (SSL_CERT_FILE or {}): the child trusts only authtap's CA",
                SYSTEM_BUNDLES.join(", ")
            );
            String::new()
        }
    };
    if !bundle.is_empty() && !bundle.ends_with('\n') {
        bundle.push('\n');
    }
    bundle.push_str(ca_pem);
    for (path, text) in [(&ca_path, ca_pem), (&bundle_path, bundle.as_str())] {
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("cannot chmod {}", path.display()))?;
    }
    Ok((ca_path, bundle_path))
}

/// The roots the child would have used: its `SSL_CERT_FILE`, else the distribution bundle.
fn system_bundle() -> Option<PathBuf> {
    std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| {
            SYSTEM_BUNDLES
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
        })
}

/// `NO_PROXY` as inherited, minus every entry that would send an intercepted host around the
/// proxy (all of them when everything is intercepted; loopback entries when a configured host
/// is loopback). `None` when nothing is left.
pub fn filtered_no_proxy(inherited: Option<&str>, patterns: &[HostPattern]) -> Option<String> {
    let inherited = inherited?;
    if patterns.is_empty() {
        return None;
    }
    let loopback_intercepted = patterns.iter().any(|p| is_loopback(p.host()));
    let kept: Vec<&str> = inherited
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .filter(|entry| {
            let host = entry_host(entry);
            let bypasses_pattern = patterns.iter().any(|p| bypasses(&host, p));
            let loopback = loopback_intercepted && is_loopback(&host);
            !(host == "*" || bypasses_pattern || loopback)
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

/// The host part of a `NO_PROXY` entry: no port, no leading `*.` or `.`, lower case.
fn entry_host(entry: &str) -> String {
    let entry = entry.trim_start_matches("*.").trim_start_matches('.');
    let host = match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host,
        _ => entry,
    };
    authtap::intercept::scope::normalize_host(host)
}

/// Whether a `NO_PROXY` domain would cover the pattern's host (or part of a wildcard).
fn bypasses(entry_host: &str, pattern: &HostPattern) -> bool {
    let host = pattern.host();
    let under = |name: &str, domain: &str| {
        name == domain
            || name
                .strip_suffix(domain)
                .is_some_and(|prefix| prefix.ends_with('.'))
    };
    under(host, entry_host) || (pattern.is_wildcard() && under(entry_host, host))
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .split('/')
            .next()
            .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
            .is_some_and(|ip| ip.is_loopback())
}

/// A Chromium or Chrome on `PATH`.
pub fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| CHROMIUM_NAMES.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Writes an executable `BROWSER` script that opens URLs in `chromium` through the proxy, with
/// a throw-away profile in `dir` and the ephemeral CA's key accepted by its SPKI hash.
pub fn write_browser_launcher(
    dir: &Path,
    chromium: &Path,
    proxy_url: &str,
    spki_sha256: &str,
    extra_args: &[String],
) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("browser.sh");
    let profile = dir.join("browser-profile");
    let extra: String = extra_args
        .iter()
        .map(|a| format!(" {}", shell_quote(a)))
        .collect();
    // `<-loopback>`: Chromium bypasses proxies for loopback unless told not to. `$$` is the
    // pid Chromium keeps after `exec`: `close_browsers` ends it when the run ends.
    let text = format!(
        "#!/bin/sh\n# Written by `authtap run --browser`: Chromium through authtap's proxy.\n\
         echo $$ >> {pids}\n\
         exec {chromium} --proxy-server={proxy} --proxy-bypass-list='<-loopback>' \
         --user-data-dir={profile} --ignore-certificate-errors-spki-list={spki} \
         --no-first-run --no-default-browser-check{extra} \"$@\"\n",
        chromium = shell_quote(&chromium.to_string_lossy()),
        proxy = shell_quote(proxy_url),
        profile = shell_quote(&profile.to_string_lossy()),
        spki = shell_quote(spki_sha256),
        pids = shell_quote(&dir.join(BROWSER_PIDS).to_string_lossy()),
    );
    std::fs::write(&script, text).with_context(|| format!("cannot write {}", script.display()))?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot chmod {}", script.display()))?;
    Ok(script)
}

/// The file in the run directory where the launcher notes each Chromium's pid.
const BROWSER_PIDS: &str = "browser.pids";

/// Ends (SIGTERM) each Chromium the launcher in `dir` started that still runs with that
/// launcher's throw-away profile — a pid that now names another process is left alone. Returns
/// how many were ended. Called when the run ends: the profile is deleted with the run
/// directory, and a browser a command opened (a CLI's login page) would otherwise outlive it.
pub fn close_browsers(dir: &Path) -> usize {
    let profile = format!(
        "--user-data-dir={}",
        dir.join("browser-profile").to_string_lossy()
    );
    let pids = std::fs::read_to_string(dir.join(BROWSER_PIDS)).unwrap_or_default();
    pids.lines()
        .filter_map(|line| line.trim().parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmdline| {
                    cmdline
                        .split(|b| *b == 0)
                        .any(|arg| arg == profile.as_bytes())
                })
                .unwrap_or(false)
        })
        .filter(|pid| {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGTERM,
            )
            .is_ok()
        })
        .count()
}

/// Single-quotes a word for `sh`.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(values: &[&str]) -> Vec<HostPattern> {
        values
            .iter()
            .map(|v| HostPattern::parse(v).unwrap())
            .collect()
    }

    #[test]
    fn no_proxy_loses_entries_covering_intercepted_hosts() {
        let kept = filtered_no_proxy(
            Some("localhost,127.0.0.1,.example.com,internal.corp,*.svc:8080"),
            &patterns(&["mcp.example.com"]),
        );
        assert_eq!(
            kept.as_deref(),
            Some("localhost,127.0.0.1,internal.corp,*.svc:8080")
        );
    }

    #[test]
    fn loopback_entries_go_when_the_server_is_on_loopback() {
        let kept = filtered_no_proxy(
            Some("localhost, 127.0.0.1,::1,[::1],127.0.0.0/8,internal.corp"),
            &patterns(&["127.0.0.1:3000"]),
        );
        assert_eq!(kept.as_deref(), Some("internal.corp"));
    }

    #[test]
    fn wildcard_patterns_and_intercept_all() {
        let kept = filtered_no_proxy(
            Some("a.example.com,example.com,other.org"),
            &patterns(&["*.example.com"]),
        );
        assert_eq!(kept.as_deref(), Some("other.org"));
        assert_eq!(filtered_no_proxy(Some("other.org"), &[]), None);
        assert_eq!(filtered_no_proxy(Some("*"), &patterns(&["a.b"])), None);
        assert_eq!(filtered_no_proxy(None, &patterns(&["a.b"])), None);
    }

    #[test]
    fn trust_files_are_0644_and_the_bundle_ends_with_the_ca() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("authtap-runenv-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let (ca, bundle) = write_trust_files(&dir, pem).unwrap();
        for path in [&ca, &bundle] {
            let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644);
        }
        let text = std::fs::read_to_string(&bundle).unwrap();
        assert!(text.ends_with(pem));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn launcher_quotes_its_words() {
        let dir = std::env::temp_dir().join(format!("authtap-launch-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = write_browser_launcher(
            &dir,
            Path::new("/usr/bin/chromium"),
            "http://127.0.0.1:1234",
            "abc+/=",
            &["--headless=new".into(), "it's".into()],
        )
        .unwrap();
        let text = std::fs::read_to_string(&script).unwrap();
        assert!(text.contains("--proxy-server='http://127.0.0.1:1234'"));
        assert!(text.contains("--ignore-certificate-errors-spki-list='abc+/='"));
        assert!(text.contains("'--headless=new' 'it'\\''s' \"$@\""));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn close_browsers_ends_only_the_launchers_own_browser() {
        let dir = std::env::temp_dir().join(format!("authtap-close-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        // Stand-ins for Chromium: a shell whose arguments hold the launcher's profile flag (as
        // its `$0`), and a process without it.
        let profile = format!("--user-data-dir={}", dir.join("browser-profile").display());
        let ours = std::process::Command::new("sh")
            .args(["-c", "while :; do sleep 1; done", &profile])
            .spawn()
            .unwrap();
        let other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(
            dir.join(BROWSER_PIDS),
            format!("{}\n{}\n", ours.id(), other.id()),
        )
        .unwrap();
        let (mut ours, mut other) = (ours, other);
        assert_eq!(close_browsers(&dir), 1);
        let status = ours.wait().unwrap();
        assert!(!status.success(), "the launcher's browser was ended");
        // Near miss: a pid that names another process is left alone.
        assert!(
            other.try_wait().unwrap().is_none(),
            "another process was ended"
        );
        other.kill().unwrap();
        let _ = other.wait();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
