//! Destinations in the running server: the fan-out that queues every applied event for each
//! destination whose filter admits it, audience entries and exits for the destinations that
//! activate the audience, one delivery worker per enabled destination, and the HTTP routes
//! that configure and observe them.

pub mod activation;
pub mod manage;
pub mod routes;
pub mod unsubscribe;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::json;
use silta_destinations::{
    Contact, Destination, DestinationStats, Outbox, OutboxError, People, QuietWindow, Sender,
    Stats, Worker,
};
use silta_identity::Identity;
use silta_model::{Channel, Event, EventType};
use silta_state::StateStore;
use silta_store::AppliedEvents;
use tokio::sync::{Notify, mpsc};

use crate::AppState;
use crate::consent::SILTA_SOURCE;
use unsubscribe::LinkKey;

/// `<data>/outbox.redb`.
pub fn outbox_path(data: &Path) -> std::path::PathBuf {
    data.join("outbox.redb")
}

/// An event's person as the identity graph and the audiences' members hold them now.
struct Profiles {
    identity: Arc<Identity>,
    credentials: Arc<StateStore>,
    /// Where people reach Silta, for unsubscribe links.
    public_url: Option<String>,
    links: LinkKey,
    /// `Email Sent` events, recorded through ingestion by [`record_sent_messages`].
    sent: mpsc::UnboundedSender<Event>,
}

impl People for Profiles {
    fn profile_id(&self, event: &Event) -> Option<String> {
        let graph = self.identity.read();
        graph
            .profile_id_of(event.user_id.as_deref(), event.anonymous_id.as_deref())
            .map(str::to_string)
    }

    fn contact(&self, event: &Event, purpose: &str) -> Option<Contact> {
        let public_url = self.public_url.as_deref()?;
        let graph = self.identity.read();
        let profile = graph
            .profile_id_of(event.user_id.as_deref(), event.anonymous_id.as_deref())
            .and_then(|id| graph.profile(id))?;
        let (_, email) = graph
            .identifiers_of(profile)
            .into_iter()
            .find(|(kind, _)| kind == "email")?;
        Some(Contact {
            email,
            unsubscribe_url: format!(
                "{}/v1/unsubscribe/{}",
                public_url.trim_end_matches('/'),
                self.links.token(&profile.id, purpose)
            ),
        })
    }

    fn record_sent(&self, destination: &Destination, event: &Event) {
        let now = chrono::Utc::now();
        let sent = Event {
            message_id: format!("sent-{}-{}", destination.id, event.message_id),
            event_type: EventType::Track,
            event: Some("Email Sent".to_string()),
            user_id: event.user_id.clone(),
            anonymous_id: event.anonymous_id.clone(),
            timestamp: now,
            received_at: now,
            source_id: SILTA_SOURCE.to_string(),
            channel: Channel::Email,
            properties: json!({
                "destination_id": destination.id,
                "destination": destination.spec.name,
                "trigger_event": event.event,
                "trigger_message_id": event.message_id,
            })
            .to_string(),
            traits: "{}".to_string(),
            integrations: "{}".to_string(),
            context: "{}".to_string(),
            ..Event::default()
        };
        // The receiver lives as long as the server.
        let _ = self.sent.send(sent);
    }

    fn granted(&self, purpose: &str, event: &Event) -> bool {
        let graph = self.identity.read();
        graph
            .profile_id_of(event.user_id.as_deref(), event.anonymous_id.as_deref())
            .and_then(|id| graph.profile(id))
            .is_some_and(|profile| profile.consent.granted(purpose))
    }

    fn in_any(&self, audiences: &[String], event: &Event) -> bool {
        let Some(profile_id) = self.profile_id(event) else {
            return false;
        };
        match self.credentials.audiences_of(&profile_id) {
            Ok(memberships) => memberships.iter().any(|key| audiences.contains(key)),
            Err(error) => {
                tracing::error!(%error, "could not read audience memberships; event held back");
                false
            }
        }
    }
}

/// An enabled destination as the fan-out sees it.
#[derive(Clone)]
struct Active {
    destination: Arc<Destination>,
    wake: Arc<Notify>,
}

pub struct Destinations {
    outbox: Arc<Outbox>,
    people: Arc<dyn People>,
    links: LinkKey,
    /// Replaced whole on every change, so the apply stage reads it without waiting.
    active: RwLock<Arc<Vec<Active>>>,
    workers: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
    /// Counters since start, kept while a destination's worker is restarted by a change.
    stats: Mutex<HashMap<String, Arc<Stats>>>,
}

impl Destinations {
    /// Opens the outbox and the key of unsubscribe links; the receiver gets the `Email Sent`
    /// events to record.
    pub fn open(
        data: &Path,
        identity: Arc<Identity>,
        credentials: Arc<StateStore>,
        public_url: Option<String>,
    ) -> Result<(Arc<Destinations>, mpsc::UnboundedReceiver<Event>), OutboxError> {
        let links = LinkKey::open(data).map_err(|error| {
            OutboxError::Corrupt(format!(
                "the unsubscribe link key cannot be opened: {error}"
            ))
        })?;
        let (sent, sent_receiver) = mpsc::unbounded_channel();
        let destinations = Destinations {
            outbox: Arc::new(Outbox::open(&outbox_path(data))?),
            people: Arc::new(Profiles {
                identity,
                credentials,
                public_url,
                links: links.clone(),
                sent,
            }),
            links,
            active: RwLock::new(Arc::new(Vec::new())),
            workers: Mutex::new(HashMap::new()),
            stats: Mutex::new(HashMap::new()),
        };
        Ok((Arc::new(destinations), sent_receiver))
    }

    pub fn link_key(&self) -> &LinkKey {
        &self.links
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    fn stats_of(&self, id: &str) -> Arc<Stats> {
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        stats.entry(id.to_string()).or_default().clone()
    }

    pub fn stats(&self, id: &str) -> Result<DestinationStats, OutboxError> {
        let (queued, dead) = self.outbox.counts(id)?;
        Ok(self.stats_of(id).snapshot(queued, dead))
    }

    /// Starts (or restarts, after a change) the fan-out and worker of `destination`; a
    /// disabled one only keeps its queue.
    pub fn install(&self, destination: Destination) {
        self.stop(&destination.id);
        if !destination.spec.enabled {
            return;
        }
        let sender = match Sender::new(&destination.spec.target, &destination.spec.delivery) {
            Ok(sender) => sender,
            Err(error) => {
                tracing::error!(destination = %destination.id, %error, "destination not started");
                return;
            }
        };
        let wake = Arc::new(Notify::new());
        // Validated when the destination was configured.
        let quiet = destination
            .spec
            .quiet_hours
            .as_ref()
            .and_then(|hours| QuietWindow::parse(hours).ok());
        let destination = Arc::new(destination);
        let worker = Worker {
            destination: (*destination).clone(),
            outbox: self.outbox.clone(),
            sender,
            people: self.people.clone(),
            stats: self.stats_of(&destination.id),
            wake: wake.clone(),
            quiet,
        };
        let handle = tokio::spawn(worker.run());
        self.workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(destination.id.clone(), handle);
        let mut active = self.active.write().unwrap_or_else(|p| p.into_inner());
        let mut next: Vec<Active> = active.iter().cloned().collect();
        next.push(Active { destination, wake });
        *active = Arc::new(next);
    }

    /// Stops the fan-out to and the worker of `id`; its queue stays.
    pub fn stop(&self, id: &str) {
        if let Some(handle) = self
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
        {
            handle.abort();
        }
        let mut active = self.active.write().unwrap_or_else(|p| p.into_inner());
        if active.iter().any(|entry| entry.destination.id == id) {
            let next: Vec<Active> = active
                .iter()
                .filter(|entry| entry.destination.id != id)
                .cloned()
                .collect();
            *active = Arc::new(next);
        }
    }

    /// Stops `id` and forgets its queue and dead letters.
    pub fn remove(&self, id: &str) -> Result<(), OutboxError> {
        self.stop(id);
        self.stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        self.outbox.remove(id)
    }

    fn take_workers(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        workers.drain().map(|(_, handle)| handle).collect()
    }

    /// Stops every worker and waits until they are gone (at shutdown); queued events wait for
    /// the next start.
    pub async fn stop_all(&self) {
        for handle in self.take_workers() {
            handle.abort();
            let _ = handle.await;
        }
        if let Err(error) = self.outbox.sync() {
            tracing::warn!(%error, "could not sync the outbox; delivered events may be sent again");
        }
    }

    /// [`Destinations::stop_all`] without waiting.
    pub fn abort_all(&self) {
        for handle in self.take_workers() {
            handle.abort();
        }
    }

    /// Wakes the worker of `id` (after dead letters were put back in its queue).
    pub fn wake(&self, id: &str) {
        let active = self
            .active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for entry in active.iter().filter(|entry| entry.destination.id == id) {
            entry.wake.notify_one();
        }
    }
}

impl Destinations {
    /// Queues the entries and exits of `audience` (profile id, change) for every enabled
    /// destination that activates it (or only for `only`), durably, before the refresh that
    /// found them is recorded: a crash in between sends them again rather than never. Returns
    /// how many events were queued.
    pub fn activate(
        &self,
        identity: &Identity,
        audience: &str,
        changes: &[(&str, activation::Change)],
        at: chrono::DateTime<chrono::Utc>,
        only: Option<&str>,
    ) -> Result<usize, OutboxError> {
        let active = self
            .active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let targets: Vec<&Active> = active
            .iter()
            .filter(|entry| only.is_none_or(|id| entry.destination.id == id))
            .filter(|entry| {
                entry
                    .destination
                    .spec
                    .activate
                    .iter()
                    .any(|key| key == audience)
            })
            .collect();
        if targets.is_empty() || changes.is_empty() {
            return Ok(0);
        }
        let events: Vec<Event> = {
            let graph = identity.read();
            changes
                .iter()
                .filter_map(|&(profile_id, change)| {
                    activation::membership_event(&graph, audience, profile_id, change, at)
                })
                .collect()
        };
        let mut queued = Vec::with_capacity(events.len() * targets.len());
        for event in &events {
            for entry in &targets {
                queued.push((entry.destination.id.as_str(), event));
            }
        }
        for chunk in queued.chunks(ACTIVATION_CHUNK) {
            self.outbox.enqueue(chunk)?;
        }
        for entry in targets {
            entry.wake.notify_one();
        }
        Ok(queued.len())
    }
}

/// Records each message a destination sent (an `Email Sent` event of the person) through
/// ingestion, so that it reaches the profile, analytics and attribution like any event.
pub async fn record_sent_messages(state: AppState, mut sent: mpsc::UnboundedReceiver<Event>) {
    while let Some(event) = sent.recv().await {
        if let Err(error) = state.ingestor.record(event).await {
            tracing::error!(error = %error.message, "a sent message could not be recorded");
        }
    }
}

/// Activation events queued per outbox transaction (a full sync of a large audience).
const ACTIVATION_CHUNK: usize = 10_000;

impl AppliedEvents for Destinations {
    fn applied(&self, events: &[&Event]) -> Result<(), String> {
        let active = self
            .active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if active.is_empty() {
            return Ok(());
        }
        let mut queued = Vec::new();
        let mut woken = vec![false; active.len()];
        for &event in events {
            for (index, entry) in active.iter().enumerate() {
                let spec = &entry.destination.spec;
                // Emails are never about what Silta records itself (consent answers, sends):
                // an email destination without an event filter would answer its own sends.
                let own_record = event.source_id == SILTA_SOURCE
                    && matches!(spec.target, silta_destinations::Target::Email { .. });
                if spec.forward_events && !own_record && spec.filter.admits(event) {
                    queued.push((entry.destination.id.as_str(), event));
                    woken[index] = true;
                }
            }
        }
        self.outbox
            .enqueue(&queued)
            .map_err(|error| error.to_string())?;
        for (entry, woken) in active.iter().zip(woken) {
            if woken {
                entry.wake.notify_one();
            }
        }
        Ok(())
    }
}
