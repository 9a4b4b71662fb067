//! `silta bench profiles`: fills a separate `silta serve` process with one profile per identify
//! call, then looks random profiles up over loopback HTTP at a fixed rate, beside the same
//! server's `/health` at the same rate: the floor that HTTP on this machine sets.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use rand::{Rng, SeedableRng};

use super::{Server, paced, start_server};

#[derive(Args)]
pub struct ProfilesArgs {
    /// Profiles to create (one identify call each, with a user id and an e-mail address).
    #[arg(long, default_value_t = 1_000_000)]
    pub profiles: u64,
    /// Lookups per second.
    #[arg(long, default_value_t = 5_000)]
    pub rate: u64,
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

const IDENTIFY_BATCH: u64 = 500;

fn identify_batch(first: u64, count: u64) -> serde_json::Value {
    let batch: Vec<serde_json::Value> = (first..first + count)
        .map(|number| {
            serde_json::json!({
                "type": "identify",
                "messageId": format!("identify-{number}"),
                "userId": format!("user-{number}"),
                "anonymousId": format!("anonymous-{number}"),
                "traits": {"email": format!("person{number}@example.com"), "plan": "free"},
                "timestamp": "2026-11-01T10:00:00Z",
            })
        })
        .collect();
    serde_json::json!({ "batch": batch })
}

async fn fill(server: &Server, client: &reqwest::Client, profiles: u64) -> anyhow::Result<()> {
    let url = format!("{}/v1/batch", server.base_url);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (client, url, key, next) = (
            client.clone(),
            url.clone(),
            server.write_key.clone(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let first = next.fetch_add(IDENTIFY_BATCH, std::sync::atomic::Ordering::Relaxed);
                if first >= profiles {
                    return anyhow::Ok(());
                }
                let count = IDENTIFY_BATCH.min(profiles - first);
                let status = client
                    .post(&url)
                    .basic_auth(&key, Some(""))
                    .json(&identify_batch(first, count))
                    .send()
                    .await?
                    .status();
                anyhow::ensure!(status.is_success(), "identify batch answered {status}");
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

pub async fn run(args: ProfilesArgs) -> anyhow::Result<()> {
    let server = start_server().await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let started = Instant::now();
    fill(&server, &client, args.profiles).await?;
    let profiles_url = format!("{}/v1/profiles/user_id/", server.base_url);
    let filled = started.elapsed();
    // Lookups wait (up to a bound) until the server has applied what it acknowledged.
    let last = format!("{profiles_url}user-{}", args.profiles - 1);
    loop {
        let status = client
            .get(&last)
            .bearer_auth(&server.read_token)
            .send()
            .await?
            .status();
        if status.is_success() {
            break;
        }
        anyhow::ensure!(
            status == reqwest::StatusCode::NOT_FOUND && started.elapsed().as_secs() < 600,
            "looking up the last profile answered {status}"
        );
    }
    println!(
        "silta bench profiles: {} profiles created through /v1/batch in {:.1} s, all resolved {:.1} s after the last 200; `silta serve` in its own process, loopback HTTP, client and server share this machine's {} cores",
        args.profiles,
        filled.as_secs_f64(),
        (started.elapsed() - filled).as_secs_f64(),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "{:<34} {:>10} {:>9} {:>12} {:>9} {:>9}",
        "phase", "requests", "seconds", "requests/s", "p50 ms", "p99 ms"
    );
    let random = Arc::new(std::sync::Mutex::new(
        rand_chacha::ChaCha8Rng::seed_from_u64(7),
    ));
    let population = args.profiles;
    let lookup = |client: reqwest::Client, token: String| {
        let url = format!(
            "{profiles_url}user-{}",
            random
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .random_range(0..population)
        );
        async move {
            let response = client.get(&url).bearer_auth(&token).send().await?;
            let status = response.status();
            anyhow::ensure!(status.is_success(), "a lookup answered {status}");
            let profile: serde_json::Value = response.json().await?;
            anyhow::ensure!(profile["profile_id"].is_string(), "a lookup had no profile");
            Ok(())
        }
    };
    let warm_up = lookup(client.clone(), server.read_token.clone());
    warm_up.await?;
    let lookups = paced(
        &format!("profile lookup at {}/s", args.rate),
        args.rate as f64,
        args.seconds,
        1,
        || lookup(client.clone(), server.read_token.clone()),
    )
    .await?;
    lookups.print();
    let health_url = format!("{}/health", server.base_url);
    let health = paced(
        &format!("peer: GET /health at {}/s", args.rate),
        args.rate as f64,
        args.seconds,
        1,
        || {
            let request = client.get(&health_url).send();
            async move {
                let status = request.await?.status();
                anyhow::ensure!(status.is_success(), "health answered {status}");
                Ok(())
            }
        },
    )
    .await?;
    health.print();
    server.stop().await?;
    Ok(())
}
