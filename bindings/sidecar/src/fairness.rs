//! Evaluation slots per client: one client (a peer address) holds at most a share of the
//! server's slots, so requests that are slow to evaluate, however many one client sends,
//! cannot keep every other client waiting. A client over its share waits for one of its
//! own requests to finish (up to the same timeout as for a free slot), it is not refused.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Slots held by each client, and the share each may hold.
pub struct ClientSlots {
    held: Mutex<HashMap<IpAddr, usize>>,
    share: usize,
    freed: Notify,
}

/// One slot held by a client; released when dropped (also when moved into a blocking task
/// that outlives the request).
pub struct ClientSlot {
    slots: Arc<ClientSlots>,
    client: IpAddr,
}

impl ClientSlots {
    /// At most `share` slots per client (at least 1).
    pub fn new(share: usize) -> Arc<Self> {
        Arc::new(ClientSlots {
            held: Mutex::new(HashMap::new()),
            share: share.max(1),
            freed: Notify::new(),
        })
    }

    /// Takes a slot for `client`, waiting up to `timeout` while it holds its share.
    pub async fn acquire(
        self: &Arc<Self>,
        client: IpAddr,
        timeout: Duration,
    ) -> Option<ClientSlot> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before looking, so a release between the look and the wait is seen.
            let freed = self.freed.notified();
            if let Some(slot) = self.try_acquire(client) {
                return Some(slot);
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return None;
            }
        }
    }

    /// Takes a slot for `client` when it holds less than its share; never waits.
    pub fn try_acquire(self: &Arc<Self>, client: IpAddr) -> Option<ClientSlot> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let count = held.entry(client).or_insert(0);
        if *count >= self.share {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            slots: self.clone(),
            client,
        })
    }

    /// Slots `client` holds now.
    #[cfg(test)]
    fn held_by(&self, client: IpAddr) -> usize {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.get(&client).copied().unwrap_or(0)
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut held = self.slots.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = held.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                // Forgotten at zero: the map holds only clients with requests in flight.
                held.remove(&self.client);
            }
        }
        drop(held);
        self.slots.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_waits_at_its_share_and_others_do_not() {
        let slots = ClientSlots::new(2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let short = Duration::from_millis(50);
        let first = slots.acquire(a, short).await.unwrap();
        let _second = slots.acquire(a, short).await.unwrap();
        assert!(
            slots.acquire(a, short).await.is_none(),
            "a third slot for the same client"
        );
        assert!(
            slots.acquire(b, short).await.is_some(),
            "another client is not held up"
        );
        // A waiting client gets the slot its finished request frees.
        let waiter = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.acquire(a, Duration::from_secs(5)).await.is_some() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        assert!(waiter.await.unwrap());
        assert_eq!(slots.held_by(b), 0, "released slots are forgotten");
    }

    #[tokio::test]
    async fn trying_for_a_slot_never_waits_and_keeps_to_the_share() {
        let slots = ClientSlots::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let first = slots.try_acquire(a).unwrap();
        let second = slots.acquire(a, Duration::from_millis(50)).await.unwrap();
        assert!(
            slots.try_acquire(a).is_none(),
            "a third slot for the same client"
        );
        assert_eq!(slots.held_by(a), 2);
        drop(second);
        let third = slots.try_acquire(a).unwrap();
        drop((first, third));
        assert_eq!(slots.held_by(a), 0);
    }
}
