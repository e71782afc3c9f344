//! The CLI as a client of `letsdata server`: with `--endpoint URL` (or `LETSDATA_ENDPOINT`)
//! every command is a request to the server's API (docs/server.md), printing what the command
//! prints locally, with the same exit codes. The API key comes from `LETSDATA_API_KEY`, or from
//! the credentials file `letsdata login` writes (`$XDG_CONFIG_HOME/letsdata/credentials`,
//! readable by its owner only).

use anyhow::Context;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// The operations' path on the server.
const API: &str = "/api/v1";

/// A server and the key to reach it with.
pub struct Remote {
    http: reqwest::Client,
    endpoint: String,
    key: String,
}

/// An error the server answered with: its `code` and its message (the one the command
/// prints locally).
#[derive(Debug, serde::Deserialize)]
pub struct ApiFailure {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiFailure {}

/// The server's `code` of a command's error, if the server answered it.
pub fn failure_code(e: &anyhow::Error) -> Option<&str> {
    e.downcast_ref::<ApiFailure>().map(|f| f.code.as_str())
}

impl Remote {
    /// The server named by `endpoint` (`--endpoint` / `LETSDATA_ENDPOINT`), with the key from
    /// `LETSDATA_API_KEY` or the credentials file; `None` without an endpoint (local mode).
    pub fn connect(endpoint: Option<&str>) -> anyhow::Result<Option<Remote>> {
        let Some(endpoint) = endpoint.map(str::trim).filter(|e| !e.is_empty()) else {
            return Ok(None);
        };
        let endpoint = normalized(endpoint)?;
        let key = match std::env::var("LETSDATA_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
        {
            Some(key) => key.trim().to_string(),
            None => Credentials::load()?.key(&endpoint).ok_or_else(|| {
                anyhow::anyhow!(
                    "no API key for {endpoint}: set LETSDATA_API_KEY, or run `letsdata login \
                     --endpoint {endpoint}` once (the operator makes keys with `letsdata admin \
                     apikeys create`)"
                )
            })?,
        };
        Ok(Some(Self::with_key(&endpoint, &key)?))
    }

    pub fn with_key(endpoint: &str, key: &str) -> anyhow::Result<Remote> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("letsdata-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot make the HTTP client")?;
        Ok(Remote {
            http,
            endpoint: normalized(endpoint)?,
            key: key.to_string(),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `GET /api/v1/<operation>?<query>`, its JSON.
    pub async fn get(&self, operation: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        let response = self
            .send(self.http.get(self.url(operation)).query(query))
            .await?;
        response
            .json()
            .await
            .with_context(|| format!("the server's answer to {operation} is not JSON"))
    }

    /// `GET /api/v1/<operation>?<query>`, its text.
    pub async fn get_text(
        &self,
        operation: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<String> {
        let response = self
            .send(self.http.get(self.url(operation)).query(query))
            .await?;
        Ok(response.text().await?)
    }

    /// `POST /api/v1/<operation>` with a JSON body, its JSON.
    pub async fn post(&self, operation: &str, body: &Value) -> anyhow::Result<Value> {
        self.post_text(operation, serde_json::to_string(body)?)
            .await
    }

    /// `POST /api/v1/<operation>` with a body that is JSON text already.
    pub async fn post_text(&self, operation: &str, body: String) -> anyhow::Result<Value> {
        let request = self
            .http
            .post(self.url(operation))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let response = self.send(request).await?;
        response
            .json()
            .await
            .with_context(|| format!("the server's answer to {operation} is not JSON"))
    }

    fn url(&self, operation: &str) -> String {
        format!("{}{API}/{operation}", self.endpoint)
    }

    /// Sends with the key; an error answer becomes the error the command fails with (the
    /// server's message: the one the command prints locally).
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = request.bearer_auth(&self.key).send().await.map_err(|e| {
            anyhow::anyhow!("cannot reach the letsdata server at {}: {e}", self.endpoint)
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<ApiFailure>(&text) {
            Ok(e) if e.code == "Unauthorized" => Err(anyhow::anyhow!(
                "{} refused the API key: {} (set LETSDATA_API_KEY or run `letsdata login \
                 --endpoint {}`)",
                self.endpoint,
                e.message,
                self.endpoint
            )),
            Ok(e) => Err(e.into()),
            Err(_) => Err(anyhow::anyhow!(
                "the letsdata server at {} answered {status}: {}",
                self.endpoint,
                text.chars().take(500).collect::<String>()
            )),
        }
    }
}

/// `https://host:port` without a trailing slash; refuses what is not an http(s) URL.
fn normalized(endpoint: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(endpoint.trim()).map_err(|e| {
        anyhow::anyhow!(
            "--endpoint / LETSDATA_ENDPOINT {endpoint:?} is not a URL ({e}); expected \
             http(s)://host:port of a letsdata server"
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        anyhow::bail!(
            "--endpoint / LETSDATA_ENDPOINT {endpoint:?}: expected http(s)://host:port of a \
             letsdata server"
        );
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The keys `letsdata login` stored, per endpoint.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Credentials {
    #[serde(default)]
    endpoints: std::collections::BTreeMap<String, StoredKey>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredKey {
    api_key: String,
}

impl Credentials {
    /// `$XDG_CONFIG_HOME/letsdata/credentials` (`~/.config/letsdata/credentials`).
    pub fn path() -> anyhow::Result<PathBuf> {
        let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(std::env::var_os("HOME").ok_or_else(|| {
                anyhow::anyhow!("cannot find the home directory; set XDG_CONFIG_HOME")
            })?)
            .join(".config"),
        };
        Ok(config.join("letsdata").join("credentials"))
    }

    pub fn load() -> anyhow::Result<Credentials> {
        let path = Self::path()?;
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "the credentials file {} is not valid; remove it and log in again",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn key(&self, endpoint: &str) -> Option<String> {
        self.endpoints.get(endpoint).map(|k| k.api_key.clone())
    }

    /// Stores (or with `None` forgets) the key of `endpoint`; the file is written whole,
    /// readable by its owner only, and replaced atomically.
    pub fn store(endpoint: &str, key: Option<&str>) -> anyhow::Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let endpoint = normalized(endpoint)?;
        let mut credentials = Self::load()?;
        match key {
            Some(key) => {
                credentials.endpoints.insert(
                    endpoint,
                    StoredKey {
                        api_key: key.to_string(),
                    },
                );
            }
            None => {
                credentials.endpoints.remove(&endpoint);
            }
        }
        let path = Self::path()?;
        let dir = path
            .parent()
            .expect("the credentials file is in a directory");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let staged = dir.join(".credentials.tmp");
        let _ = std::fs::remove_file(&staged);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&staged)
            .with_context(|| format!("cannot write {}", staged.display()))?;
        file.write_all(&serde_json::to_vec_pretty(&credentials)?)?;
        file.sync_all()?;
        std::fs::rename(&staged, &path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }
}
