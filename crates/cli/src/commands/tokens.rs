use clap::Subcommand;
use serde_json::json;
use silta_server::Config;
use silta_state::{NewSecret, Role, Token};

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
}

pub async fn run(config: Config, command: TokensCommand) -> anyhow::Result<()> {
    let TokensCommand::Add { role, name } = command;
    let created: NewSecret<Token> = match client::open(&config.data)? {
        Target::Local(state) => state.add_token(role, &name)?,
        Target::Server(server) => {
            server
                .post("/v1/tokens", &json!({"role": role, "name": name}))
                .await?
        }
    };
    eprintln!(
        "token {} with role {}; shown once:",
        created.owner.id, created.owner.role
    );
    println!("{}", created.secret);
    Ok(())
}
