// Each test binary uses a part of these helpers.
#![allow(dead_code)]

//! A Silta instance on a temporary data directory, driven in-process through the router.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use silta_model::Channel;
use silta_server::{Config, Silta, app};
use silta_state::{Actor, Role};
use tower::ServiceExt;

pub struct TestSilta {
    pub router: Router,
    pub silta: Silta,
    pub write_key: String,
    pub analyst_token: String,
    pub marketer_token: String,
    pub viewer_token: String,
    pub admin_token: String,
    pub data: tempfile::TempDir,
}

pub fn config_for(data: &std::path::Path) -> Config {
    Config {
        data: data.to_path_buf(),
        flush_interval_ms: 200,
        ..Config::default()
    }
}

impl TestSilta {
    pub async fn start() -> TestSilta {
        let data = tempfile::tempdir().expect("tempdir");
        TestSilta::start_with(data, |_| {}).await
    }

    pub async fn start_with(
        data: tempfile::TempDir,
        adjust: impl FnOnce(&mut Config),
    ) -> TestSilta {
        let mut config = config_for(data.path());
        adjust(&mut config);
        let silta = Silta::start(config).await.expect("silta starts");
        let write_key = silta
            .state
            .credentials
            .add_source("Web shop", Channel::Web, &Actor::System)
            .expect("source")
            .secret;
        TestSilta::assemble(silta, write_key, data)
    }

    /// Starts again on the data directory of a stopped instance.
    pub async fn reopen(data: tempfile::TempDir, write_key: String) -> TestSilta {
        let silta = Silta::start(config_for(data.path()))
            .await
            .expect("silta restarts");
        TestSilta::assemble(silta, write_key, data)
    }

    pub async fn stop(self) -> (tempfile::TempDir, String) {
        drop(self.router);
        self.silta.shutdown().await.expect("clean shutdown");
        (self.data, self.write_key)
    }

    fn assemble(silta: Silta, write_key: String, data: tempfile::TempDir) -> TestSilta {
        let credentials = &silta.state.credentials;
        let token = |role| {
            credentials
                .add_token(role, "t", &Actor::System)
                .expect("token")
                .secret
        };
        let analyst_token = token(Role::Analyst);
        let marketer_token = token(Role::Marketer);
        let viewer_token = token(Role::Viewer);
        let admin_token = token(Role::Admin);
        TestSilta {
            router: app(silta.state.clone()),
            silta,
            write_key,
            analyst_token,
            marketer_token,
            viewer_token,
            admin_token,
            data,
        }
    }

    pub async fn send(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        self.send_from(request, SocketAddr::from(([198, 51, 100, 23], 40000)))
            .await
    }

    /// [`TestSilta::send`] from a client at `peer`.
    pub async fn send_from(
        &self,
        request: Request<Body>,
        peer: SocketAddr,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let mut request = request;
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, headers, json)
    }

    pub async fn post_json(
        &self,
        path: &str,
        body: impl Into<Body>,
        auth: Option<&str>,
    ) -> (StatusCode, serde_json::Value) {
        let mut builder = Request::post(path).header("content-type", "application/json");
        if let Some(header) = auth {
            builder = builder.header("authorization", header);
        }
        let (status, _, json) = self.send(builder.body(body.into()).expect("request")).await;
        (status, json)
    }

    /// A request with an API token and a JSON body (`Value::Null` sends none).
    pub async fn call(
        &self,
        method: axum::http::Method,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        let body = if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(body)
            .expect("request");
        let (status, _, answer) = self.send(request).await;
        (status, answer)
    }

    pub fn basic(&self) -> String {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:", self.write_key))
        )
    }

    pub async fn sql(&self, sql: &str) -> Vec<serde_json::Value> {
        let (status, json) = self
            .post_json(
                "/v1/query",
                serde_json::json!({"sql": sql}).to_string(),
                Some(&format!("Bearer {}", self.analyst_token)),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "query failed: {json}");
        json["rows"].as_array().cloned().unwrap_or_default()
    }
}
