//! The identity graph: every identifier belongs to exactly one profile; profiles merge when an
//! event links their identifiers, unless the merged profile would exceed a per-type limit.
//!
//! Deterministic by construction: profile ids are derived from the identifier that founded the
//! profile, and when two profiles merge the older one survives. Replaying the same events in
//! the same order therefore gives the same profiles with the same ids.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use silta_model::Event;
use xxhash_rust::xxh3::xxh3_64;

use crate::consent::Consent;
use crate::declared::{DeclaredValues, day_of};
use crate::extract::Extracted;
use crate::identifier::{ConfigError, IdentityConfig};
use crate::profile::{ComputedTraits, TraitValue, Traits};

type IdentifierIndex = u32;
type ProfileIndex = u32;

struct IdentifierRecord {
    kind: u16,
    value: Box<str>,
    profile: ProfileIndex,
}

pub struct Profile {
    pub id: String,
    identifiers: Vec<IdentifierIndex>,
    /// Identifiers per type, indexed like `IdentityGraph::kinds`.
    kind_counts: Vec<u32>,
    /// Set once this profile has been merged into another.
    merged_into: Option<ProfileIndex>,
    /// Merges that formed this profile, oldest first (indexes into `IdentityGraph::merges`).
    merge_history: Vec<usize>,
    pub traits: Traits,
    pub computed: ComputedTraits,
    pub consent: Consent,
    /// Buckets of the computed traits declared in configuration.
    declared: DeclaredValues,
    /// Set when the person was erased: the profile holds nothing and is not listed.
    erased: bool,
}

/// One merge: `merged` was folded into `survivor` because `event` linked two identifiers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Merge {
    pub survivor: String,
    pub merged: String,
    pub identifiers: [(String, String); 2],
    pub message_id: String,
    pub source: String,
    pub at: DateTime<Utc>,
}

/// An edge that was not merged (or an identifier that was not used), and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    pub message_id: String,
    pub source: String,
    pub at: DateTime<Utc>,
    pub reason: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    #[error("unknown identifier type `{0}`")]
    UnknownType(String),
    #[error("{0}")]
    Malformed(String),
}

pub struct IdentityGraph {
    config: IdentityConfig,
    kinds: Vec<String>,
    kind_limits: Vec<usize>,
    /// Per type: value → identifier.
    by_value: Vec<HashMap<Box<str>, IdentifierIndex>>,
    identifiers: Vec<IdentifierRecord>,
    profiles: Vec<Profile>,
    by_profile_id: HashMap<String, ProfileIndex>,
    merges: Vec<Merge>,
    refusals: Vec<Refusal>,
    /// Events observed; with `merges.len()` it tells readers whether anything changed.
    events_observed: u64,
}

/// Indexes of built-in types, registered first in `BUILT_IN_TYPES` order.
const USER_ID: u16 = 0;
const ANONYMOUS_ID: u16 = 5;

/// Identifier types known at most: the built-in ones, configured ones and custom types first
/// seen in `context.externalIds`.
const MAX_TYPES: usize = 64;

/// Refusals kept in memory at most; older ones are counted, not kept.
const MAX_REFUSALS: usize = 100_000;

impl IdentityGraph {
    pub fn new(config: IdentityConfig) -> Result<IdentityGraph, ConfigError> {
        config.validate()?;
        let mut graph = IdentityGraph {
            config,
            kinds: Vec::new(),
            kind_limits: Vec::new(),
            by_value: Vec::new(),
            identifiers: Vec::new(),
            profiles: Vec::new(),
            by_profile_id: HashMap::new(),
            merges: Vec::new(),
            refusals: Vec::new(),
            events_observed: 0,
        };
        for kind in crate::identifier::BUILT_IN_TYPES {
            graph.kind_index(kind);
        }
        let configured: Vec<String> = (graph.config.trait_identifiers.values())
            .chain(graph.config.limits.keys())
            .cloned()
            .collect();
        for kind in configured {
            graph.kind_index(&kind);
        }
        Ok(graph)
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.config
    }

    /// The index of an identifier type, registering it when new; none once `MAX_TYPES` are
    /// known, so hostile `externalIds` cannot grow every profile without bound.
    fn kind_index(&mut self, kind: &str) -> Option<u16> {
        if let Some(index) = self.kinds.iter().position(|known| known == kind) {
            return Some(index as u16);
        }
        if self.kinds.len() >= MAX_TYPES {
            return None;
        }
        self.kinds.push(kind.to_string());
        self.kind_limits.push(self.config.limit(kind));
        self.by_value.push(HashMap::new());
        for profile in &mut self.profiles {
            profile.kind_counts.push(0);
        }
        Some((self.kinds.len() - 1) as u16)
    }

    fn find(&self, kind: u16, value: &str) -> Option<IdentifierIndex> {
        self.by_value[kind as usize].get(value).copied()
    }

    fn live(&self, mut profile: ProfileIndex) -> ProfileIndex {
        while let Some(next) = self.profiles[profile as usize].merged_into {
            profile = next;
        }
        profile
    }

    fn new_profile(&mut self, kind: u16, value: &str) -> ProfileIndex {
        let index = self.profiles.len() as ProfileIndex;
        let founder = format!("{}:{value}", self.kinds[kind as usize]);
        let mut id = format!("p_{:016x}", xxh3_64(founder.as_bytes()));
        if self.by_profile_id.contains_key(&id) {
            id = format!("{id}_{index}");
        }
        self.by_profile_id.insert(id.clone(), index);
        self.profiles.push(Profile {
            id,
            identifiers: Vec::new(),
            kind_counts: vec![0; self.kinds.len()],
            merged_into: None,
            merge_history: Vec::new(),
            traits: Traits::default(),
            computed: ComputedTraits::default(),
            consent: Consent::default(),
            declared: DeclaredValues::default(),
            erased: false,
        });
        index
    }

    fn attach(&mut self, profile: ProfileIndex, kind: u16, value: &str) -> IdentifierIndex {
        let index = self.identifiers.len() as IdentifierIndex;
        self.identifiers.push(IdentifierRecord {
            kind,
            value: value.into(),
            profile,
        });
        self.by_value[kind as usize].insert(value.into(), index);
        let profile = &mut self.profiles[profile as usize];
        profile.identifiers.push(index);
        profile.kind_counts[kind as usize] += 1;
        index
    }

    fn has_room(&self, profile: ProfileIndex, kind: u16, extra: u32) -> bool {
        self.profiles[profile as usize].kind_counts[kind as usize] + extra
            <= self.kind_limits[kind as usize] as u32
    }

    /// The type whose limit a merge of `a` and `b` would exceed, if any.
    fn merge_conflict(&self, a: ProfileIndex, b: ProfileIndex) -> Option<&str> {
        let (a, b) = (&self.profiles[a as usize], &self.profiles[b as usize]);
        (0..self.kinds.len())
            .find(|&kind| {
                (a.kind_counts[kind] + b.kind_counts[kind]) as usize > self.kind_limits[kind]
            })
            .map(|kind| self.kinds[kind].as_str())
    }

    fn merge(
        &mut self,
        a: ProfileIndex,
        b: ProfileIndex,
        edge: [IdentifierIndex; 2],
        event: &Event,
    ) -> ProfileIndex {
        let (survivor, merged) = (a.min(b), a.max(b));
        let moved = std::mem::take(&mut self.profiles[merged as usize].identifiers);
        for &identifier in &moved {
            self.identifiers[identifier as usize].profile = survivor;
        }
        let merged_profile = &mut self.profiles[merged as usize];
        merged_profile.merged_into = Some(survivor);
        let counts = std::mem::take(&mut merged_profile.kind_counts);
        let traits = std::mem::take(&mut merged_profile.traits);
        let computed = std::mem::take(&mut merged_profile.computed);
        let consent = std::mem::take(&mut merged_profile.consent);
        let declared = std::mem::take(&mut merged_profile.declared);
        let history = std::mem::take(&mut merged_profile.merge_history);
        let merged_id = merged_profile.id.clone();
        self.merges.push(Merge {
            survivor: self.profiles[survivor as usize].id.clone(),
            merged: merged_id,
            identifiers: edge.map(|identifier| self.describe(identifier)),
            message_id: event.message_id.clone(),
            source: event.source_id.clone(),
            at: event.timestamp,
        });
        let merge_index = self.merges.len() - 1;
        let profile = &mut self.profiles[survivor as usize];
        profile.identifiers.extend(moved);
        for (count, extra) in profile.kind_counts.iter_mut().zip(counts) {
            *count += extra;
        }
        profile.traits.absorb(traits);
        profile.computed.absorb(computed);
        profile.consent.absorb(consent);
        profile.declared.absorb(declared);
        profile.merge_history.extend(history);
        profile.merge_history.push(merge_index);
        profile.merge_history.sort_unstable();
        survivor
    }

    fn describe(&self, identifier: IdentifierIndex) -> (String, String) {
        let record = &self.identifiers[identifier as usize];
        (
            self.kinds[record.kind as usize].clone(),
            record.value.to_string(),
        )
    }

    fn refuse(&mut self, event: &Event, reason: String) {
        if self.refusals.len() < MAX_REFUSALS {
            self.refusals.push(Refusal {
                message_id: event.message_id.clone(),
                source: event.source_id.clone(),
                at: event.timestamp,
                reason,
            });
        }
    }

    /// Links the event's identifiers and updates the profile it belongs to; returns that
    /// profile's id (none for an event without usable identifiers).
    pub fn observe(&mut self, event: &Event) -> Option<&str> {
        self.events_observed += 1;
        let extracted = Extracted::from_event(event, &self.config);
        for problem in &extracted.problems {
            self.refuse(event, problem.clone());
        }
        let mut identifiers: Vec<(u16, &str)> = Vec::with_capacity(extracted.identifiers.len());
        for (kind, value) in &extracted.identifiers {
            match self.kind_index(kind) {
                Some(index) => identifiers.push((index, value.as_str())),
                None => self.refuse(
                    event,
                    format!("`{kind}` not used: Silta already knows {MAX_TYPES} identifier types"),
                ),
            }
        }
        let (first_kind, first_value) = *identifiers.first()?;
        let known: Vec<Option<IdentifierIndex>> = identifiers
            .iter()
            .map(|(kind, value)| self.find(*kind, value))
            .collect();
        // The event belongs with its strongest identifier. When that one is new, it joins the
        // profile of the strongest known identifier if that profile has room for it.
        let mut anchor = match known[0] {
            Some(identifier) => self.identifiers[identifier as usize].profile,
            None => known
                .iter()
                .flatten()
                .next()
                .map(|&identifier| self.identifiers[identifier as usize].profile)
                .filter(|&profile| self.has_room(profile, first_kind, 1))
                .unwrap_or_else(|| self.new_profile(first_kind, first_value)),
        };
        let mut anchor_identifier = known[0].or_else(|| {
            known
                .iter()
                .flatten()
                .copied()
                .find(|&identifier| self.identifiers[identifier as usize].profile == anchor)
        });
        for (&(kind, value), known) in identifiers.iter().zip(&known) {
            match known {
                None if self.has_room(anchor, kind, 1) => {
                    let identifier = self.attach(anchor, kind, value);
                    anchor_identifier.get_or_insert(identifier);
                }
                None => {
                    let reason = format!(
                        "{}:{value} not linked: the profile already has the most {} identifiers allowed",
                        self.kinds[kind as usize], self.kinds[kind as usize]
                    );
                    self.refuse(event, reason);
                    let own = self.new_profile(kind, value);
                    self.attach(own, kind, value);
                }
                Some(identifier) => {
                    let profile = self.identifiers[*identifier as usize].profile;
                    if profile == anchor {
                        continue;
                    }
                    match self.merge_conflict(anchor, profile).map(str::to_string) {
                        None => {
                            let edge = [anchor_identifier.unwrap_or(*identifier), *identifier];
                            anchor = self.merge(anchor, profile, edge, event);
                        }
                        Some(kind_name) => {
                            let reason = format!(
                                "profiles {} and {} not merged: together they would exceed the {kind_name} limit",
                                self.profiles[anchor as usize].id,
                                self.profiles[profile as usize].id
                            );
                            self.refuse(event, reason);
                        }
                    }
                }
            }
        }
        let owner = self.find(first_kind, first_value)?;
        let profile_index = self.identifiers[owner as usize].profile;
        let profile = &mut self.profiles[profile_index as usize];
        profile
            .computed
            .observe(event, extracted.device_type.as_deref());
        profile.consent.observe(&extracted.consent, event);
        profile.declared.observe(
            &self.config.computed_traits,
            event,
            &mut None,
            day_of(Utc::now()),
        );
        let mut problems = Vec::new();
        for (name, value) in extracted.traits {
            let incoming = TraitValue {
                value,
                source: event.source_id.clone(),
                at: event.timestamp,
            };
            if let Err(problem) = profile.traits.set(&name, incoming) {
                problems.push(problem);
            }
        }
        for problem in problems {
            self.refuse(event, problem);
        }
        Some(self.profiles[profile_index as usize].id.as_str())
    }

    /// The live profile holding `kind:value` (normalised first), if any.
    pub fn lookup(&self, kind: &str, value: &str) -> Result<Option<&Profile>, LookupError> {
        let Some(kind_index) = self.kinds.iter().position(|known| known == kind) else {
            return Err(LookupError::UnknownType(kind.to_string()));
        };
        let value = self
            .config
            .normalise(kind, value)
            .map_err(LookupError::Malformed)?;
        Ok(self.find(kind_index as u16, &value).map(|identifier| {
            &self.profiles[self.identifiers[identifier as usize].profile as usize]
        }))
    }

    /// The profile id of an event's person: by `user_id`, else by `anonymous_id`.
    pub fn profile_id_of(&self, user_id: Option<&str>, anonymous_id: Option<&str>) -> Option<&str> {
        self.profile_index_of(user_id, anonymous_id)
            .map(|profile| self.profiles[profile as usize].id.as_str())
    }

    /// The internal number of an event's person's profile, as [`IdentityGraph::profile_id_of`]
    /// finds it: cheap to group millions of events by, valid while this graph is unchanged.
    pub fn profile_index_of(
        &self,
        user_id: Option<&str>,
        anonymous_id: Option<&str>,
    ) -> Option<ProfileIndex> {
        [(USER_ID, user_id), (ANONYMOUS_ID, anonymous_id)]
            .into_iter()
            .find_map(|(kind, value)| self.find(kind, value?.trim()))
            .map(|identifier| self.identifiers[identifier as usize].profile)
    }

    /// A profile by id; an id merged away resolves to the profile that absorbed it.
    pub fn profile(&self, id: &str) -> Option<&Profile> {
        Some(&self.profiles[self.profile_index(id)? as usize])
    }

    /// The internal number of a profile by id (see [`IdentityGraph::profile_index_of`]); an id
    /// merged away gives the profile that absorbed it.
    pub fn profile_index(&self, id: &str) -> Option<ProfileIndex> {
        let index = *self.by_profile_id.get(id)?;
        Some(self.live(index))
    }

    /// `(type, value)` of every identifier of a profile.
    pub fn identifiers_of(&self, profile: &Profile) -> Vec<(String, String)> {
        profile
            .identifiers
            .iter()
            .map(|&identifier| self.describe(identifier))
            .collect()
    }

    /// The computed traits declared in configuration, by name, as of now.
    pub fn declared_traits_of(&self, profile: &Profile) -> Vec<(String, serde_json::Value)> {
        profile
            .declared
            .values(&self.config.computed_traits, day_of(Utc::now()))
    }

    pub fn merges_of(&self, profile: &Profile) -> Vec<&Merge> {
        profile
            .merge_history
            .iter()
            .map(|&index| &self.merges[index])
            .collect()
    }

    /// Live profiles, oldest first.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles
            .iter()
            .filter(|profile| profile.merged_into.is_none() && !profile.erased)
    }

    /// Every identifier as (type, value, profile id).
    pub fn identities(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.identifiers
            .iter()
            .filter(|record| !record.value.is_empty())
            .map(|record| {
                (
                    self.kinds[record.kind as usize].as_str(),
                    &*record.value,
                    self.profiles[record.profile as usize].id.as_str(),
                )
            })
    }

    /// Every merge, oldest first (those of erased people left out).
    pub fn merges(&self) -> impl Iterator<Item = &Merge> {
        self.merges
            .iter()
            .filter(|merge| !merge.survivor.is_empty())
    }

    /// Erases a person: their identifiers no longer resolve; their traits, computed traits,
    /// consent, merges and the refusals that name them are gone, and neither their profile id
    /// nor the ids merged into it answers. Returns the identifiers the profile held, or `None`
    /// when no profile has this id.
    pub fn forget(&mut self, profile_id: &str) -> Option<Vec<(String, String)>> {
        let index = self.live(*self.by_profile_id.get(profile_id)?);
        let identifiers = self.identifiers_of(&self.profiles[index as usize]);
        for &identifier in &std::mem::take(&mut self.profiles[index as usize].identifiers) {
            let record = &mut self.identifiers[identifier as usize];
            self.by_value[record.kind as usize].remove(&record.value);
            record.value = Box::from("");
        }
        let family: Vec<String> = (0..self.profiles.len() as ProfileIndex)
            .filter(|&other| self.live(other) == index)
            .map(|other| self.profiles[other as usize].id.clone())
            .collect();
        for id in &family {
            self.by_profile_id.remove(id);
        }
        for merge in &mut self.merges {
            if family.contains(&merge.survivor) {
                *merge = Merge {
                    survivor: String::new(),
                    merged: String::new(),
                    identifiers: Default::default(),
                    message_id: String::new(),
                    source: String::new(),
                    at: merge.at,
                };
            }
        }
        self.refusals.retain(|refusal| {
            !identifiers
                .iter()
                .any(|(_, value)| refusal.reason.contains(value.as_str()))
                && !family.iter().any(|id| refusal.reason.contains(id.as_str()))
        });
        let profile = &mut self.profiles[index as usize];
        profile.kind_counts.iter_mut().for_each(|count| *count = 0);
        profile.merge_history.clear();
        profile.traits = Traits::default();
        profile.computed = ComputedTraits::default();
        profile.consent = Consent::default();
        profile.declared = DeclaredValues::default();
        profile.erased = true;
        self.events_observed += 1;
        Some(identifiers)
    }

    pub fn refusals(&self) -> &[Refusal] {
        &self.refusals
    }

    pub fn identifier_count(&self) -> usize {
        self.identifiers.len()
    }

    /// Changes whenever the graph does: for caches of its tables.
    pub fn version(&self) -> u64 {
        self.events_observed
    }

    /// Checks the invariants every merge must keep: each identifier is in exactly one live
    /// profile, that profile lists it, and no profile exceeds a limit.
    pub fn check_consistency(&self) -> Result<(), String> {
        let mut owners = vec![0u32; self.identifiers.len()];
        for (index, profile) in self.profiles.iter().enumerate() {
            if profile.merged_into.is_some() {
                if !profile.identifiers.is_empty() {
                    return Err(format!(
                        "merged profile {} still holds identifiers",
                        profile.id
                    ));
                }
                continue;
            }
            let mut counts = vec![0u32; self.kinds.len()];
            for &identifier in &profile.identifiers {
                let record = &self.identifiers[identifier as usize];
                if record.profile as usize != index {
                    return Err(format!("identifier {identifier} points elsewhere"));
                }
                owners[identifier as usize] += 1;
                counts[record.kind as usize] += 1;
            }
            for (kind, count) in counts.iter().enumerate() {
                if *count as usize > self.kind_limits[kind] {
                    return Err(format!(
                        "{} exceeds the {} limit",
                        profile.id, self.kinds[kind]
                    ));
                }
                if *count != profile.kind_counts[kind] {
                    return Err(format!("{} miscounts {}", profile.id, self.kinds[kind]));
                }
            }
        }
        let erased = |identifier: usize| self.identifiers[identifier].value.is_empty();
        match (0..owners.len()).find(|&identifier| owners[identifier] != 1 && !erased(identifier)) {
            Some(identifier) => Err(format!(
                "identifier {identifier} is in {} profiles",
                owners[identifier]
            )),
            None => Ok(()),
        }
    }
}
