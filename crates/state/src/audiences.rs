//! Audience definitions and their members: who is in each audience since when, and every
//! entry and exit with its time, so that "who joined this week" is a lookup.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::json;
use silta_analytics::audience::Condition;

use crate::StateStore;
use crate::audit::{self, Actor, Change};
use crate::credentials::{StateError, decode, encode};

/// audience key -> Audience (JSON)
pub(crate) const AUDIENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("audiences");
/// (audience key, profile id) -> microseconds the profile entered
pub(crate) const MEMBERS: TableDefinition<(&str, &str), i64> =
    TableDefinition::new("audience_members");
/// (profile id, audience key) -> (): the same memberships, found by profile
pub(crate) const BY_PROFILE: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("profile_audiences");
/// (audience key, microseconds, profile id) -> true for an entry, false for an exit
pub(crate) const CHANGES: TableDefinition<(&str, i64, &str), bool> =
    TableDefinition::new("audience_changes");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Audience {
    pub key: String,
    pub name: String,
    pub definition: Condition,
    /// With a purpose, only people who granted consent for it are members.
    #[serde(default)]
    pub purpose: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An entry into or exit from an audience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MembershipChange {
    pub audience: String,
    pub profile_id: String,
    pub at: DateTime<Utc>,
    pub entered: bool,
}

/// What one refresh of an audience changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Refreshed {
    pub members: u64,
    pub entered: u64,
    pub exited: u64,
}

fn micros_to_time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

impl StateStore {
    /// Creates or replaces an audience (the caller has validated it); members stay until the
    /// next refresh.
    pub fn put_audience(&self, audience: &Audience, actor: &Actor) -> Result<(), StateError> {
        let transaction = self.database.begin_write()?;
        let replaced = {
            let mut audiences = transaction.open_table(AUDIENCES)?;
            let replaced = audiences.get(audience.key.as_str())?.is_some();
            audiences.insert(audience.key.as_str(), encode(audience)?.as_slice())?;
            replaced
        };
        let action = if replaced {
            "audience.changed"
        } else {
            "audience.created"
        };
        audit::append(
            &transaction,
            Change {
                actor,
                action,
                target: &audience.key,
                detail: json!(audience),
            },
        )?;
        transaction.commit()?;
        Ok(())
    }

    pub fn audience(&self, key: &str) -> Result<Option<Audience>, StateError> {
        let transaction = self.database.begin_read()?;
        let audiences = transaction.open_table(AUDIENCES)?;
        let found = audiences.get(key)?;
        found.map(|value| decode(value.value())).transpose()
    }

    /// Every audience, by key.
    pub fn audiences(&self) -> Result<Vec<Audience>, StateError> {
        let transaction = self.database.begin_read()?;
        let audiences = transaction.open_table(AUDIENCES)?;
        let mut listed = Vec::new();
        for entry in audiences.iter()? {
            let (_, value) = entry?;
            listed.push(decode(value.value())?);
        }
        Ok(listed)
    }

    /// Deletes an audience with its members and their history.
    pub fn delete_audience(&self, key: &str, actor: &Actor) -> Result<(), StateError> {
        let members_before = self.audience_members(key)?;
        let transaction = self.database.begin_write()?;
        {
            let mut audiences = transaction.open_table(AUDIENCES)?;
            if audiences.remove(key)?.is_none() {
                return Err(StateError::NotFound(format!("audience {key}")));
            }
            let mut members = transaction.open_table(MEMBERS)?;
            let mut by_profile = transaction.open_table(BY_PROFILE)?;
            for (profile, _) in &members_before {
                members.remove((key, profile.as_str()))?;
                by_profile.remove((profile.as_str(), key))?;
            }
            let mut changes = transaction.open_table(CHANGES)?;
            changes.retain_in(
                (key, i64::MIN, "")..=(key, i64::MAX, "\u{10FFFF}"),
                |_, _| false,
            )?;
        }
        audit::append(
            &transaction,
            Change {
                actor,
                action: "audience.deleted",
                target: key,
                detail: serde_json::Value::Null,
            },
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Makes `current` the members of audience `key` as of `at`, recording who entered and
    /// who left.
    pub fn refresh_members(
        &self,
        key: &str,
        current: &BTreeSet<String>,
        at: DateTime<Utc>,
    ) -> Result<Refreshed, StateError> {
        let at_micros = at.timestamp_micros();
        let (entered, exited) = self.membership_changes(key, current)?;
        let transaction = self.database.begin_write()?;
        let refreshed = Refreshed {
            members: current.len() as u64,
            entered: entered.len() as u64,
            exited: exited.len() as u64,
        };
        {
            let mut members = transaction.open_table(MEMBERS)?;
            let mut by_profile = transaction.open_table(BY_PROFILE)?;
            let mut changes = transaction.open_table(CHANGES)?;
            for profile in entered {
                members.insert((key, profile.as_str()), at_micros)?;
                by_profile.insert((profile.as_str(), key), ())?;
                changes.insert((key, at_micros, profile.as_str()), true)?;
            }
            for profile in exited {
                members.remove((key, profile.as_str()))?;
                by_profile.remove((profile.as_str(), key))?;
                changes.insert((key, at_micros, profile.as_str()), false)?;
            }
        }
        transaction.commit()?;
        Ok(refreshed)
    }

    /// Who would enter and who would leave `key` if `current` were its members now.
    pub fn membership_changes(
        &self,
        key: &str,
        current: &BTreeSet<String>,
    ) -> Result<(Vec<String>, Vec<String>), StateError> {
        let previous: BTreeSet<String> = self
            .audience_members(key)?
            .into_iter()
            .map(|(profile, _)| profile)
            .collect();
        Ok((
            current.difference(&previous).cloned().collect(),
            previous.difference(current).cloned().collect(),
        ))
    }

    /// The members of an audience with the time each entered, by profile id.
    pub fn audience_members(&self, key: &str) -> Result<Vec<(String, DateTime<Utc>)>, StateError> {
        let transaction = self.database.begin_read()?;
        let members = transaction.open_table(MEMBERS)?;
        let mut listed = Vec::new();
        for entry in members.range((key, "")..)? {
            let (member, entered) = entry?;
            let (audience, profile) = member.value();
            if audience != key {
                break;
            }
            listed.push((profile.to_string(), micros_to_time(entered.value())));
        }
        Ok(listed)
    }

    /// How many members an audience has.
    pub fn audience_member_count(&self, key: &str) -> Result<usize, StateError> {
        let transaction = self.database.begin_read()?;
        let members = transaction.open_table(MEMBERS)?;
        let mut count = 0;
        for entry in members.range((key, "")..)? {
            let (member, _) = entry?;
            if member.value().0 != key {
                break;
            }
            count += 1;
        }
        Ok(count)
    }

    /// The keys of the audiences a profile is a member of.
    pub fn audiences_of(&self, profile_id: &str) -> Result<Vec<String>, StateError> {
        let transaction = self.database.begin_read()?;
        let by_profile = transaction.open_table(BY_PROFILE)?;
        let mut keys = Vec::new();
        for entry in by_profile.range((profile_id, "")..)? {
            let (membership, _) = entry?;
            let (profile, audience) = membership.value();
            if profile != profile_id {
                break;
            }
            keys.push(audience.to_string());
        }
        Ok(keys)
    }

    /// The entries into and exits from an audience at or after `since`, oldest first.
    pub fn audience_changes(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<MembershipChange>, StateError> {
        let transaction = self.database.begin_read()?;
        let changes = transaction.open_table(CHANGES)?;
        let range = (key, since.timestamp_micros(), "")..=(key, i64::MAX, "\u{10FFFF}");
        listed_changes(changes.range(range)?)
    }

    /// Every entry and exit of every audience, by audience then time.
    pub fn all_audience_changes(&self) -> Result<Vec<MembershipChange>, StateError> {
        let transaction = self.database.begin_read()?;
        let changes = transaction.open_table(CHANGES)?;
        listed_changes(changes.iter()?)
    }
}

fn listed_changes(
    entries: redb::Range<'_, (&'static str, i64, &'static str), bool>,
) -> Result<Vec<MembershipChange>, StateError> {
    let mut listed = Vec::new();
    for entry in entries {
        let (change, entered) = entry?;
        let (audience, at, profile) = change.value();
        listed.push(MembershipChange {
            audience: audience.to_string(),
            profile_id: profile.to_string(),
            at: micros_to_time(at),
            entered: entered.value(),
        });
    }
    Ok(listed)
}
