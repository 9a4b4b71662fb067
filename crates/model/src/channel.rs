use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The kind of system a source is. A source is one system that sends data; many sources may share
/// a channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Web,
    App,
    Email,
    Shop,
    Loyalty,
    Ads,
    Crm,
    Server,
    #[default]
    Other,
}

impl Channel {
    pub const ALL: [Channel; 9] = [
        Channel::Web,
        Channel::App,
        Channel::Email,
        Channel::Shop,
        Channel::Loyalty,
        Channel::Ads,
        Channel::Crm,
        Channel::Server,
        Channel::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::App => "app",
            Channel::Email => "email",
            Channel::Shop => "shop",
            Channel::Loyalty => "loyalty",
            Channel::Ads => "ads",
            Channel::Crm => "crm",
            Channel::Server => "server",
            Channel::Other => "other",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown channel `{0}`; expected one of web, app, email, shop, loyalty, ads, crm, server, other"
)]
pub struct UnknownChannel(pub String);

impl FromStr for Channel {
    type Err = UnknownChannel;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|channel| channel.as_str() == text)
            .ok_or_else(|| UnknownChannel(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_round_trips_through_its_name() {
        for channel in Channel::ALL {
            assert_eq!(channel.as_str().parse::<Channel>().ok(), Some(channel));
        }
        assert!("tv".parse::<Channel>().is_err());
    }
}
