use clap::Args;
use silta_server::Config;
use silta_state::{AuditEntry, MAX_AUDIT_PAGE};

use crate::client::{self, Target};

#[derive(Args)]
pub struct AuditArgs {
    /// Only entries after this sequence number.
    #[arg(long, default_value_t = 0)]
    after: u64,
}

/// Prints the audit log as JSON lines, oldest first.
pub async fn run(config: Config, args: AuditArgs) -> anyhow::Result<()> {
    let target = client::open(&config.data)?;
    let mut after = args.after;
    loop {
        let page: Vec<AuditEntry> = match &target {
            Target::Local(state) => state.audit(after, MAX_AUDIT_PAGE)?,
            Target::Server(server) => {
                server
                    .get(&format!("/v1/audit?after={after}&limit={MAX_AUDIT_PAGE}"))
                    .await?
            }
        };
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.sequence;
        for entry in &page {
            println!("{}", serde_json::to_string(entry)?);
        }
    }
}
