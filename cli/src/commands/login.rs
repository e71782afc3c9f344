//! `letsdata login` / `letsdata logout`: keep (or forget) the API key of a server in the
//! credentials file, so commands with `--endpoint` need no LETSDATA_API_KEY.

use crate::output::Output;
use crate::remote::{Credentials, Remote};
use clap::Args;
use std::io::BufRead;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The API key (`letsdata admin apikeys create` printed it); default: read from stdin,
    /// so that it stays out of the shell's history.
    #[arg(long = "apiKey", value_name = "KEY")]
    api_key: Option<String>,
}

fn endpoint_of(endpoint: Option<&str>, command: &str) -> anyhow::Result<String> {
    endpoint
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "`letsdata {command}` needs the server: give --endpoint URL (or set LETSDATA_ENDPOINT)"
            )
        })
}

/// Checks the key against the server (`whoami`), then stores it.
pub async fn login(
    args: LoginArgs,
    endpoint: Option<&str>,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let endpoint = endpoint_of(endpoint, "login")?;
    let key = match args.api_key {
        Some(key) => key,
        None => {
            eprintln!("API key for {endpoint}:");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line
        }
    };
    let key = key.trim();
    if key.is_empty() {
        anyhow::bail!("no API key given (--apiKey, or one line on stdin)");
    }
    let remote = Remote::with_key(&endpoint, key)?;
    let caller = remote.get("whoami", &[]).await?;
    let path = Credentials::store(remote.endpoint(), Some(key))?;
    eprintln!(
        "logged in to {} as tenant {}; the key is kept in {} (readable by you only)",
        remote.endpoint(),
        caller["tenantName"].as_str().unwrap_or("?"),
        path.display()
    );
    out.print(&caller)?;
    Ok(ExitCode::SUCCESS)
}

/// Forgets the server's key.
pub fn logout(endpoint: Option<&str>) -> anyhow::Result<ExitCode> {
    let endpoint = endpoint_of(endpoint, "logout")?;
    let path = Credentials::store(&endpoint, None)?;
    eprintln!("the key of {endpoint} is no longer in {}", path.display());
    Ok(ExitCode::SUCCESS)
}
