use clap::Subcommand;
use serde_json::json;
use silta_server::Config;
use silta_state::{Actor, NewSecret, Role, Token};

use crate::client::{self, Target};

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Create an API token and print it (shown once).
    Add {
        /// admin, marketer, analyst or viewer
        #[arg(long)]
        role: Role,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List tokens: id, role, creation time and name (never the secrets).
    List,
    /// Revoke a token; it stops working at once.
    Revoke { id: String },
    /// Give a token a new secret and print it (shown once); the old one stops working.
    Rotate { id: String },
}

fn print_secret(created: &NewSecret<Token>, what: &str) {
    eprintln!(
        "token {} with role {} {what}; shown once:",
        created.owner.id, created.owner.role
    );
    println!("{}", created.secret);
}

pub async fn run(config: Config, command: TokensCommand) -> anyhow::Result<()> {
    let target = client::open(&config.data)?;
    match command {
        TokensCommand::Add { role, name } => {
            let created: NewSecret<Token> = match target {
                Target::Local(state) => state.add_token(role, &name, &Actor::local())?,
                Target::Server(server) => {
                    server
                        .post("/v1/tokens", &json!({"role": role, "name": name}))
                        .await?
                }
            };
            print_secret(&created, "created");
        }
        TokensCommand::List => {
            let tokens: Vec<Token> = match target {
                Target::Local(state) => state.tokens()?,
                Target::Server(server) => server.get("/v1/tokens").await?,
            };
            for token in tokens {
                println!(
                    "{}\t{}\t{}\t{}",
                    token.id,
                    token.role,
                    token.created_at.to_rfc3339(),
                    token.name
                );
            }
        }
        TokensCommand::Revoke { id } => {
            match target {
                Target::Local(state) => state.revoke_token(&id, &Actor::local())?,
                Target::Server(server) => server.delete(&format!("/v1/tokens/{id}")).await?,
            }
            eprintln!("token {id} revoked");
        }
        TokensCommand::Rotate { id } => {
            let rotated: NewSecret<Token> = match target {
                Target::Local(state) => state.rotate_token(&id, &Actor::local())?,
                Target::Server(server) => {
                    server
                        .post(&format!("/v1/tokens/{id}/rotate"), &json!({}))
                        .await?
                }
            };
            print_secret(&rotated, "rotated");
        }
    }
    Ok(())
}
