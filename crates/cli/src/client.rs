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

pub struct ServerClient {
    base_url: String,
    token: String,
    http: reqwest::Client,
}

#[derive(serde::Deserialize)]
struct ServerInfo {
    address: String,
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
        Ok(ServerClient {
            base_url: format!("http://{}", info.address),
            token: token.trim().to_string(),
            http: reqwest::Client::new(),
        })
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<T> {
        let response = request.bearer_auth(&self.token).send().await?;
        let status = response.status();
        let body = response.text().await?;
        anyhow::ensure!(status.is_success(), "server answered {status}: {body}");
        Ok(serde_json::from_str(&body)?)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.http.get(format!("{}{path}", self.base_url)))
            .await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.send(
            self.http
                .post(format!("{}{path}", self.base_url))
                .json(body),
        )
        .await
    }
}
