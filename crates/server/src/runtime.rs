//! Starting Silta on a data directory: state, tables, WAL replay, the apply stage and the
//! committer; then serving HTTP until shutdown, and a last flush.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use silta_collect::{Normaliser, Pseudonymiser};
use silta_identity::{Identity, SqlTables};
use silta_model::Ingested;
use silta_state::{Actor, Change, Role, StateStore};
use silta_store::{Applier, EventStore, QueryLimits, StoreOptions};
use silta_wal::{Wal, WalOptions};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::config::MIN_ADMIN_TOKEN_CHARS;
use crate::contracts::Contracts;
use crate::destinations::Destinations;
use crate::{AppState, Config, Ingestor, app};

/// The event store and identity graph of a data directory, opened without a server (for the
/// CLI): the graph is rebuilt from the table and what the WAL still holds is applied on top.
pub async fn open_offline(
    config: &Config,
) -> Result<
    (
        Arc<EventStore>,
        Arc<Identity>,
        silta_identity::RebuildReport,
    ),
    StartError,
> {
    let store = EventStore::open(&config.data.join("tables"), StoreOptions::default()).await?;
    let identity = Arc::new(Identity::new(config.identity.clone())?);
    let rebuilt = identity.rebuild(&store).await?;
    store.add_query_extension(Arc::new(SqlTables(identity.clone())));
    let mut applier = Applier::new(store.clone()).await?;
    applier.observe_with(identity.clone());
    // Nothing applied here is committed: a server's start replays it again for destinations.
    applier.recover(silta_wal::read_all(&config.data.join("wal"), false)?)?;
    Ok((store, identity, rebuilt))
}

/// Name of the admin token a running server issues to the `silta` CLI on the same machine.
const LOCAL_CLI_TOKEN_NAME: &str = "local-cli";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    State(#[from] silta_state::StateError),
    #[error(transparent)]
    Store(#[from] silta_store::StoreError),
    #[error(transparent)]
    Wal(#[from] silta_wal::WalError),
    #[error("identity configuration: {0}")]
    Identity(#[from] silta_identity::ConfigError),
    #[error("admin_token must have at least {MIN_ADMIN_TOKEN_CHARS} characters")]
    WeakAdminToken,
    #[error("tls_cert and tls_key must be given together")]
    HalfTls,
    #[error("pseudonymise: {0}")]
    Pseudonymise(String),
    #[error("tracking plan: {0}")]
    Plan(String),
    #[error(transparent)]
    Outbox(#[from] silta_destinations::OutboxError),
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StartError + '_ {
    move |source| StartError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `<data>/server.json`: where a running server listens, for the CLI.
pub fn server_info_path(data: &Path) -> PathBuf {
    data.join("server.json")
}

/// `<data>/local-cli.token`: the running server's admin token for the CLI, readable by the
/// owner of the data directory only.
pub fn local_admin_token_path(data: &Path) -> PathBuf {
    data.join("local-cli.token")
}

pub struct Silta {
    pub state: AppState,
    pub config: Config,
    /// Set on the very first start: the admin token, to be shown once.
    pub initial_admin_token: Option<String>,
    /// WAL records replayed into the buffer at start.
    pub replayed_records: usize,
    /// The apply stage and the committer.
    background: Vec<tokio::task::JoinHandle<()>>,
    /// The committer's own runtime: Parquet encoding and Delta commits are long CPU-bound polls
    /// that would otherwise hold up request handling on the same worker threads.
    commit_runtime: Option<tokio::runtime::Runtime>,
    /// The apply stage's own runtime.
    apply_runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Silta {
    fn drop(&mut self) {
        self.state.destinations.abort_all();
        for runtime in [self.commit_runtime.take(), self.apply_runtime.take()]
            .into_iter()
            .flatten()
        {
            runtime.shutdown_background();
        }
    }
}

impl Silta {
    /// Opens the data directory and starts the background stages (apply, commit).
    pub async fn start(config: Config) -> Result<Silta, StartError> {
        std::fs::create_dir_all(&config.data).map_err(io_error(&config.data))?;
        if config.tls_cert.is_some() != config.tls_key.is_some() {
            return Err(StartError::HalfTls);
        }
        let pseudonymiser = pseudonymiser(&config)?.map(Arc::new);
        let credentials = Arc::new(StateStore::open(&config.data.join("state.redb"))?);
        let initial_admin_token = admin_token(&credentials, &config)?;
        record_configuration(&credentials, &config)?;
        let store_options = StoreOptions {
            dedupe_window: Duration::from_secs(config.dedupe_window_hours * 3600),
            flush_interval: Duration::from_millis(config.flush_interval_ms),
            flush_rows: config.flush_rows,
            compact_after_commits: config.compact_after_commits,
        };
        let store = EventStore::open(&config.data.join("tables"), store_options).await?;
        let identity = Arc::new(Identity::new(config.identity.clone())?);
        let rebuilt = identity.rebuild(&store).await?;
        tracing::info!(
            profiles = rebuilt.profiles,
            identifiers = rebuilt.identifiers,
            seconds = rebuilt.total_seconds,
            "identity graph rebuilt from the events table"
        );
        store.add_query_extension(Arc::new(SqlTables(identity.clone())));
        store.add_query_extension(Arc::new(crate::audiences::AudienceTables(
            credentials.clone(),
        )));
        install_tls_provider();
        let (destinations, sent_messages) = Destinations::open(
            &config.data,
            identity.clone(),
            credentials.clone(),
            config.public_url.clone(),
        )?;
        let mut applier = Applier::new(store.clone()).await?;
        applier.observe_with(identity.clone());
        // After identity: a destination's consent check reads the profile the event updated.
        applier.observe_with(destinations.clone());
        // Before the WAL's replay, so that replayed events reach the destinations too.
        for destination in credentials.destinations()? {
            destinations.install(destination);
        }
        let (durable_sender, durable_receiver) = mpsc::unbounded_channel();
        let (wal, recovered) = Wal::<Ingested>::open(
            &config.data.join("wal"),
            WalOptions::default(),
            store.lsn_floor(),
            durable_sender,
        )?;
        let replayed_records = applier.recover(recovered)?;
        // The apply stage syncs the destinations' outbox: its own thread keeps those waits off
        // the threads that answer requests.
        let apply_runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("silta-apply")
            .enable_all()
            .build()
            .map_err(io_error(&config.data))?;
        let applying = apply_runtime.spawn(applier.run(durable_receiver));
        let release_wal = wal.clone();
        let commit_runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("silta-commit")
            // Requests come first; committing catches up whenever a core is free.
            .on_thread_start(|| {
                if let Err(error) = thread_priority::set_current_thread_priority(
                    thread_priority::ThreadPriority::Min,
                ) {
                    tracing::warn!(?error, "could not lower the committer's priority");
                }
            })
            .enable_all()
            .build()
            .map_err(io_error(&config.data))?;
        let committing = commit_runtime.spawn(store.clone().run_committer(move |lsn| {
            let wal = release_wal.clone();
            async move { wal.release_through(lsn).await }
        }));
        let ingestor = Ingestor {
            normaliser: Normaliser {
                limits: config.limits,
                truncate_ip: config.truncate_ip,
            },
            wal: wal.clone(),
            consent: config.identity.consent.clone(),
            identity: Arc::new(config.identity.clone()),
            suppression: Arc::new(std::sync::RwLock::new(credentials.suppression()?)),
            suppression_mode: config.suppression,
            bots: Arc::new(silta_collect::BotDetector::new(config.bots)),
            pseudonymiser,
            contracts: Arc::new(Contracts::load(&credentials)?),
        };
        let query_limits = QueryLimits {
            timeout: Duration::from_millis(config.query_timeout_ms),
            memory_bytes: config.query_memory_mb * 1024 * 1024,
            max_rows: config.query_max_rows,
        };
        let state = AppState::new(
            credentials,
            store,
            ingestor,
            query_limits,
            identity,
            destinations.clone(),
            &config,
        );
        let resumed = crate::subjects::resume_erasures(&state).map_err(io_error(&config.data))?;
        if resumed > 0 {
            tracing::info!(resumed, "resuming data-subject erasures");
        }
        let recording = tokio::spawn(crate::destinations::record_sent_messages(
            state.clone(),
            sent_messages,
        ));
        Ok(Silta {
            state,
            config,
            initial_admin_token,
            replayed_records,
            background: vec![applying, committing, recording],
            commit_runtime: Some(commit_runtime),
            apply_runtime: Some(apply_runtime),
        })
    }

    /// Serves HTTP on `listener` until `shutdown` resolves, then commits what is buffered.
    /// `ready` is called with the address once the CLI can find this server.
    pub async fn serve(
        self,
        listener: TcpListener,
        ready: impl FnOnce(std::net::SocketAddr),
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let data = self.config.data.clone();
        let address = listener.local_addr().map_err(io_error(&data))?;
        let tls = match (&self.config.tls_cert, &self.config.tls_key) {
            (Some(cert), Some(key)) => Some(tls_config(cert, key).await?),
            _ => None,
        };
        self.publish_for_cli(address)?;
        ready(address);
        let retention = tokio::spawn(crate::retention::run_schedule(
            self.state.clone(),
            self.config.retention.clone(),
        ));
        let audiences = tokio::spawn(crate::audiences::run_schedule(
            self.state.clone(),
            self.config.audience_refresh_minutes,
        ));
        let router =
            app(self.state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let served = serve_until(listener, router, tls, shutdown).await;
        retention.abort();
        audiences.abort();
        let _ = std::fs::remove_file(server_info_path(&data));
        let _ = std::fs::remove_file(local_admin_token_path(&data));
        let _ = self
            .state
            .credentials
            .remove_tokens_named(LOCAL_CLI_TOKEN_NAME, &Actor::System);
        self.shutdown().await?;
        served.map_err(io_error(&data))
    }

    /// Stops the background stages and commits what is buffered. Records still travelling from
    /// the WAL to the buffer are replayed on the next start.
    pub async fn shutdown(mut self) -> Result<(), StartError> {
        self.state.destinations.stop_all().await;
        let outcome = self.state.store.flush().await?;
        self.state
            .ingestor
            .wal
            .release_through(outcome.persisted_lsn)
            .await;
        for task in &self.background {
            task.abort();
        }
        for task in std::mem::take(&mut self.background) {
            let _ = task.await;
        }
        Ok(())
    }

    /// Writes where this server listens and an admin token for the CLI into the data directory.
    fn publish_for_cli(&self, address: std::net::SocketAddr) -> Result<(), StartError> {
        let data = &self.config.data;
        let credentials = &self.state.credentials;
        credentials.remove_tokens_named(LOCAL_CLI_TOKEN_NAME, &Actor::System)?;
        let token = credentials.add_token(Role::Admin, LOCAL_CLI_TOKEN_NAME, &Actor::System)?;
        let token_path = local_admin_token_path(data);
        write_private_file(&token_path, token.secret.as_bytes()).map_err(io_error(&token_path))?;
        // With TLS, the CLI trusts exactly this server's certificate.
        let tls_cert = match &self.config.tls_cert {
            Some(cert) => Some(std::fs::canonicalize(cert).map_err(io_error(cert))?),
            None => None,
        };
        let info = serde_json::json!({
            "address": address.to_string(),
            "pid": std::process::id(),
            "tls_cert": tls_cert,
        });
        let info_path = server_info_path(data);
        std::fs::write(&info_path, info.to_string()).map_err(io_error(&info_path))?;
        Ok(())
    }
}

/// How long open connections may finish their requests once shutdown begins.
const GRACE_PERIOD: Duration = Duration::from_secs(10);

/// A client must send a request's headers within this time (slow-client attacks hold
/// connections open by trickling them).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves HTTP, or HTTPS with `tls`, until `shutdown` resolves.
async fn serve_until(
    listener: TcpListener,
    router: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<
        axum::Router,
        std::net::SocketAddr,
    >,
    tls: Option<RustlsConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(GRACE_PERIOD));
    });
    let mut server = axum_server::from_tcp(listener.into_std()?)?.handle(handle);
    server
        .http_builder()
        .http1()
        .header_read_timeout(HEADER_READ_TIMEOUT);
    match tls {
        Some(tls) => {
            server
                .acceptor(axum_server::tls_rustls::RustlsAcceptor::new(tls))
                .serve(router)
                .await
        }
        None => server.serve(router).await,
    }
}

/// Makes ring the process's TLS crypto provider (for the server and for the CLI's client).
pub fn install_tls_provider() {
    // Ring is the one provider Silta builds with; a second installation changes nothing.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Reads the certificate chain and key; a missing or malformed file stops the start.
async fn tls_config(cert: &Path, key: &Path) -> Result<RustlsConfig, StartError> {
    install_tls_provider();
    RustlsConfig::from_pem_file(cert, key)
        .await
        .map_err(|source| StartError::Io {
            path: cert.to_path_buf(),
            source,
        })
}

/// The pseudonymiser the configuration asks for, with its key read from outside the data
/// directory.
fn pseudonymiser(config: &Config) -> Result<Option<Pseudonymiser>, StartError> {
    let settings = &config.pseudonymise;
    if settings.fields.is_empty() {
        return Ok(None);
    }
    let refuse = |problem: &str| StartError::Pseudonymise(problem.to_string());
    let key_file = settings
        .key_file
        .as_ref()
        .ok_or_else(|| refuse("fields need a key_file"))?;
    let key_path = std::fs::canonicalize(key_file).map_err(io_error(key_file))?;
    let data = std::fs::canonicalize(&config.data).map_err(io_error(&config.data))?;
    if key_path.starts_with(&data) {
        return Err(refuse("the key_file must not be inside the data directory"));
    }
    let key = std::fs::read(&key_path).map_err(io_error(&key_path))?;
    Pseudonymiser::new(key.trim_ascii(), &settings.fields)
        .map(Some)
        .map_err(|error| refuse(&error.to_string()))
}

/// The admin token to show once: on the very first start, unless the configuration names one.
fn admin_token(credentials: &StateStore, config: &Config) -> Result<Option<String>, StartError> {
    if let Some(secret) = &config.admin_token {
        if secret.0.chars().count() < MIN_ADMIN_TOKEN_CHARS {
            return Err(StartError::WeakAdminToken);
        }
        credentials.ensure_token(&secret.0, Role::Admin, "configured admin", &Actor::System)?;
        return Ok(None);
    }
    if credentials.has_tokens()? {
        return Ok(None);
    }
    Ok(Some(
        credentials
            .add_token(Role::Admin, "initial admin", &Actor::System)?
            .secret,
    ))
}

/// Records the configuration in the audit log when it differs from the last one recorded.
fn record_configuration(credentials: &StateStore, config: &Config) -> Result<(), StartError> {
    const ACTION: &str = "configuration.changed";
    let current = config.auditable();
    let last = credentials.last_audited(ACTION)?;
    if last.is_some_and(|entry| entry.detail == current) {
        return Ok(());
    }
    credentials.record(Change {
        actor: &Actor::System,
        action: ACTION,
        target: "server",
        detail: current,
    })?;
    Ok(())
}

pub(crate) fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // `mode` applies only to a new file; one left behind keeps whatever it had.
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(contents)?;
    file.sync_all()
}
