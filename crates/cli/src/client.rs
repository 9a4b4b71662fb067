//! Where a CLI command acts: directly on the data directory when no server holds it, or
//! through the running server's HTTP API with the admin token it left for the CLI.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use serde::de::DeserializeOwned;
use silta_server::{local_admin_token_path, server_info_path};
use silta_state::{StateError, StateStore};

pub enum Target {
    Local(StateStore),
    Server(ServerClient),
}

pub fn open(data: &Path) -> anyhow::Result<Target> {
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    match StateStore::open(&data.join("state.redb")) {
        Ok(state) => Ok(Target::Local(state)),
        Err(StateError::InUse(_)) => Ok(Target::Server(ServerClient::for_data_dir(data)?)),
        Err(error) => Err(error.into()),
    }
}

/// The running server on `data`, or none: then a command starts Silta itself (see
/// [`locally`]), which needs the state database closed again.
pub fn running_server(data: &Path) -> anyhow::Result<Option<ServerClient>> {
    Ok(match open(data)? {
        Target::Server(server) => Some(server),
        Target::Local(state) => {
            drop(state);
            None
        }
    })
}

pub struct ServerClient {
    base_url: String,
    token: String,
    http: reqwest::Client,
}

#[derive(serde::Deserialize)]
struct ServerInfo {
    address: String,
    /// Set when the server serves HTTPS: its certificate, the only one the CLI trusts.
    tls_cert: Option<std::path::PathBuf>,
}

impl ServerClient {
    pub fn for_data_dir(data: &Path) -> anyhow::Result<ServerClient> {
        let info_path = server_info_path(data);
        let info: ServerInfo =
            serde_json::from_slice(&std::fs::read(&info_path).with_context(|| {
                format!(
                    "the data directory is in use but {} is missing",
                    info_path.display()
                )
            })?)?;
        let token = std::fs::read_to_string(local_admin_token_path(data))
            .context("the running server's cli token is not readable")?;
        let (scheme, http) = match &info.tls_cert {
            None => ("http", reqwest::Client::new()),
            Some(cert) => {
                silta_server::install_tls_provider();
                let pem = std::fs::read(cert)
                    .with_context(|| format!("cannot read {}", cert.display()))?;
                let mut builder = reqwest::Client::builder();
                for certificate in reqwest::Certificate::from_pem_bundle(&pem)? {
                    builder = builder.add_root_certificate(certificate);
                }
                // The certificate names the public host; the CLI reaches the server by its
                // listening address, with the certificate itself pinned.
                (
                    "https",
                    builder.danger_accept_invalid_hostnames(true).build()?,
                )
            }
        };
        Ok(ServerClient {
            base_url: format!("{scheme}://{}", info.address),
            token: token.trim().to_string(),
            http,
        })
    }

    /// Sends `request` with the CLI token and returns the body of a successful answer.
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<String> {
        let response = request.bearer_auth(&self.token).send().await?;
        let status = response.status();
        let body = response.text().await?;
        anyhow::ensure!(status.is_success(), "server answered {status}: {body}");
        Ok(body)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let body = self
            .send(self.http.get(format!("{}{path}", self.base_url)))
            .await?;
        Ok(serde_json::from_str(&body)?)
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.with_body(reqwest::Method::POST, path, body).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.with_body(reqwest::Method::PUT, path, body).await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.with_body(reqwest::Method::PATCH, path, body).await
    }

    async fn with_body<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base_url);
        let answer = self.send(self.http.request(method, url).json(body)).await?;
        Ok(serde_json::from_str(&answer)?)
    }

    /// GET, answered as text (CSV, for example).
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        self.send(self.http.get(format!("{}{path}", self.base_url)))
            .await
    }

    /// POST a JSON body, answered as text (CSV, for example).
    pub async fn post_text<B: Serialize>(&self, path: &str, body: &B) -> anyhow::Result<String> {
        let url = format!("{}{path}", self.base_url);
        self.send(self.http.post(url).json(body)).await
    }

    /// PUT with a CSV body.
    pub async fn put_csv<T: DeserializeOwned>(
        &self,
        path: &str,
        csv: Vec<u8>,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base_url);
        let request = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "text/csv")
            .body(csv);
        Ok(serde_json::from_str(&self.send(request).await?)?)
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.send(self.http.delete(format!("{}{path}", self.base_url)))
            .await
            .map(drop)
    }
}

/// Runs `local` with Silta started on the data directory, for commands that need more than
/// the state database (queries, plans in effect, the write-ahead log).
pub async fn locally<T>(
    config: silta_server::Config,
    local: impl AsyncFnOnce(&silta_server::AppState) -> Result<T, silta_server::ApiError>,
) -> anyhow::Result<T> {
    let silta = silta_server::Silta::start(config).await?;
    let answer = local(&silta.state).await;
    silta.shutdown().await?;
    answer.map_err(|error| anyhow::anyhow!(error.message))
}
