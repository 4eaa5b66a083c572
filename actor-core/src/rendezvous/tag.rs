//! Recipient tags: `to_tag = SHA-256("quorate/to-tag/v1" || X25519 public key || slot)`.

use sha2::{Digest, Sha256};
use x25519_dalek::PublicKey;

/// Length of one time slot: one hour. Tags rotate every slot.
pub const SLOT_MS: u64 = 60 * 60 * 1000;

const TO_TAG_LABEL: &[u8] = b"quorate/to-tag/v1";

/// The slot number of a time: `now_ms / SLOT_MS`.
#[must_use]
pub const fn slot(now_ms: u64) -> u64 {
    now_ms / SLOT_MS
}

/// `SHA-256("quorate/to-tag/v1" || recipient || slot as u64 big-endian)`.
///
/// The label has no terminator: what follows it has a fixed length (32 + 8 bytes), so the
/// hashed string splits one way only.
#[must_use]
pub fn to_tag(recipient: &PublicKey, slot: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(TO_TAG_LABEL);
    h.update(recipient.as_bytes());
    h.update(slot.to_be_bytes());
    h.finalize().into()
}

/// The slots a recipient accepts at `now_ms`: the current one and one either side (clock
/// skew, and envelopes sealed near a slot boundary), oldest first.
pub fn accepted_slots(now_ms: u64) -> impl Iterator<Item = u64> {
    let s = slot(now_ms);
    [s.checked_sub(1), Some(s), s.checked_add(1)]
        .into_iter()
        .flatten()
}

/// True if `tag` names `recipient` in one of the [`accepted_slots`] at `now_ms`.
#[must_use]
pub fn is_addressed_to(tag: &[u8; 32], recipient: &PublicKey, now_ms: u64) -> bool {
    accepted_slots(now_ms).any(|s| to_tag(recipient, s) == *tag)
}

/// The tags of one recipient for the slots around one time; recomputed when the slot
/// changes, so the common "not for us" answer costs no hashing.
#[derive(Clone, Debug)]
pub(crate) struct TagWindow {
    recipient: PublicKey,
    slot: Option<u64>,
    tags: Vec<[u8; 32]>,
}

impl TagWindow {
    pub(crate) fn new(recipient: PublicKey) -> Self {
        TagWindow {
            recipient,
            slot: None,
            tags: Vec::new(),
        }
    }

    pub(crate) fn matches(&mut self, tag: &[u8; 32], now_ms: u64) -> bool {
        let current = slot(now_ms);
        if self.slot != Some(current) {
            self.tags = accepted_slots(now_ms)
                .map(|s| to_tag(&self.recipient, s))
                .collect();
            self.slot = Some(current);
        }
        self.tags.contains(tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_hours_and_the_window_is_three_wide() {
        assert_eq!(slot(0), 0);
        assert_eq!(slot(SLOT_MS - 1), 0);
        assert_eq!(slot(SLOT_MS), 1);
        assert_eq!(accepted_slots(0).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(
            accepted_slots(5 * SLOT_MS + 7).collect::<Vec<_>>(),
            vec![4, 5, 6]
        );
        assert_eq!(accepted_slots(u64::MAX).count(), 3);
    }

    #[test]
    fn tags_depend_on_key_and_slot_and_the_window_caches_them() {
        let a = PublicKey::from([9; 32]);
        let b = PublicKey::from([10; 32]);
        assert_ne!(to_tag(&a, 1), to_tag(&a, 2));
        assert_ne!(to_tag(&a, 1), to_tag(&b, 1));
        let now = 10 * SLOT_MS;
        let mut window = TagWindow::new(a);
        for s in 9..=11 {
            assert!(window.matches(&to_tag(&a, s), now));
            assert!(is_addressed_to(&to_tag(&a, s), &a, now));
        }
        for s in [8, 12] {
            assert!(!window.matches(&to_tag(&a, s), now));
            assert!(!is_addressed_to(&to_tag(&a, s), &a, now));
        }
        assert!(!window.matches(&to_tag(&b, 10), now));
        assert!(window.matches(&to_tag(&a, 12), now + SLOT_MS));
    }
}
