use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use silta_server::{Config, Silta, load_demo};

use super::demo::{DemoArgs, print_report};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Load the demo data set (in the background) when starting.
    #[arg(long)]
    pub demo: bool,
    #[command(flatten)]
    pub demo_args: DemoArgs,
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

pub async fn run(config: Config, args: ServeArgs) -> anyhow::Result<()> {
    let listen = config.listen;
    let scheme = if config.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let silta = Silta::start(config).await?;
    if let Some(token) = &silta.initial_admin_token {
        eprintln!("first start: admin token (shown once, keep it safe): {token}");
    }
    if silta.replayed_records > 0 {
        eprintln!(
            "replayed {} records from the write-ahead log",
            silta.replayed_records
        );
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    if args.demo {
        let state = silta.state.clone();
        let request = args.demo_args.request();
        tokio::spawn(async move {
            eprintln!(
                "loading demo data ({} events, seed {})...",
                request.events, request.seed
            );
            match load_demo(&state, &request, &silta_state::Actor::local()).await {
                Ok(report) => print_report(&report),
                Err(error) => eprintln!("demo loading failed: {}", error.message),
            }
        });
    }
    let announce = |address| {
        println!("listening on {scheme}://{address}");
        // Whoever started the server waits for this line.
        let _ = std::io::stdout().flush();
    };
    silta.serve(listener, announce, shutdown_signal()).await?;
    Ok(())
}
