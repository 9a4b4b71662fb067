//! What a source does with events flagged as a bot's.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BotPolicy {
    /// Store them with `is_bot` set; analytics leave them out.
    #[default]
    Flag,
    /// Do not store them.
    Drop,
}

impl fmt::Display for BotPolicy {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            BotPolicy::Flag => "flag",
            BotPolicy::Drop => "drop",
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown bot policy `{0}`; expected flag or drop")]
pub struct UnknownBotPolicy(pub String);

impl FromStr for BotPolicy {
    type Err = UnknownBotPolicy;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "flag" => Ok(BotPolicy::Flag),
            "drop" => Ok(BotPolicy::Drop),
            other => Err(UnknownBotPolicy(other.to_string())),
        }
    }
}
