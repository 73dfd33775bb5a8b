//! Signed changes: who made a change, provable outside the server.
//!
//! Every person who unlocks a device holds an Ed25519 key for that device (kept sealed under
//! their PIN inside the encrypted store; see `rounds_core::store`). After each action the
//! device signs the change the action made: the signature covers the document, the person
//! and the change's hash ([`change_message`]). A change's hash covers its dependencies'
//! hashes, so a signature over the change an action made covers the whole history the person
//! saw when they made it.
//!
//! **What a push must carry** ([`uncovered`]): every change it brings must be *covered* by a
//! signature of the person the change says made it (the `by` of its message): either the
//! change itself is signed by them, or it is an ancestor of a change they signed. A device's
//! changes to one document form a chain (each depends on the one before), so one signature,
//! the one over the last change of a person in the push, covers all of theirs before it:
//! the server checks one signature per person and document rather than one per change (at
//! 211,000 changes a day, checking each costs the server more CPU than automerge does).
//! What one signature over a later change attests for the earlier ones is exactly that the
//! signer's later change was built on them; their own earlier changes say `by` them and were
//! signed when made, on their device.
//!
//! The server verifies each signature against a key registered for that person *on the
//! device that pushes* ([`verify_change`]), stores it, and refuses an uncovered change, a bad
//! signature or an unknown or revoked key with their own rejection kinds. `rounds-server
//! verify` checks the same coverage on an exported bundle with nothing but the bundle.

use automerge::Change;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use uuid::Uuid;

use crate::entropy::Entropy;

/// An Ed25519 public key, as it travels and is stored.
pub type PublicKey = [u8; 32];

/// An Ed25519 signature.
pub type Signature = [u8; 64];

/// What every change signature signs before the document, person and hash: the format's name
/// and version, so a signature made for anything else never reads as one of these.
const CHANGE_LABEL: &[u8] = b"rounds-change-signature-v1\n";

/// The bytes a person signs for a change they made to a document.
pub fn change_message(doc: Uuid, person: Uuid, change: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(CHANGE_LABEL.len() + 16 + 16 + 32);
    m.extend_from_slice(CHANGE_LABEL);
    m.extend_from_slice(doc.as_bytes());
    m.extend_from_slice(person.as_bytes());
    m.extend_from_slice(change);
    m
}

/// What [`SigningSecret::sign_bundle`] signs before an export bundle's manifest digest: a
/// signature over a change can never pass for one over a bundle, nor the reverse.
const BUNDLE_LABEL: &[u8] = b"rounds-evidence-manifest-v1\n";

/// The bytes the district signs for an export bundle whose manifest has SHA-256 `digest`.
pub fn bundle_message(digest: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(BUNDLE_LABEL.len() + 32);
    m.extend_from_slice(BUNDLE_LABEL);
    m.extend_from_slice(digest);
    m
}

/// Verifies the district's signature over an export bundle's manifest digest (strict).
pub fn verify_bundle(
    key: &PublicKey,
    digest: &[u8; 32],
    signature: &[u8],
) -> Result<(), SignatureFault> {
    verify_message(key, &bundle_message(digest), signature)
}

fn verify_message(key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), SignatureFault> {
    let vk = VerifyingKey::from_bytes(key).map_err(|_| SignatureFault::BadKey)?;
    if vk.is_weak() {
        return Err(SignatureFault::BadKey);
    }
    let sig: Signature = signature
        .try_into()
        .map_err(|_| SignatureFault::BadSignature)?;
    vk.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| SignatureFault::BadSignature)
}

/// A person's signing key on one device. Its bytes never leave the device: the store keeps
/// them sealed under the person's PIN (see `rounds_core::keyslots::PersonSeal`).
pub struct SigningSecret(SigningKey);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SigningSecret")
            .field(&hex_of(&self.public()))
            .finish()
    }
}

impl SigningSecret {
    /// A new key from `entropy`.
    pub fn generate(entropy: &mut dyn Entropy) -> SigningSecret {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        entropy.fill(seed.as_mut());
        SigningSecret(SigningKey::from_bytes(&seed))
    }

    /// The key of a 32-byte seed (as [`SigningSecret::seed`] gave it).
    pub fn from_seed(seed: &[u8; 32]) -> SigningSecret {
        SigningSecret(SigningKey::from_bytes(seed))
    }

    /// The seed, to be sealed: zeroed when dropped.
    pub fn seed(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.0.to_bytes())
    }

    /// The public key the server records.
    pub fn public(&self) -> PublicKey {
        self.0.verifying_key().to_bytes()
    }

    /// Signs the change `change` that `person` made to `doc`.
    pub fn sign_change(&self, doc: Uuid, person: Uuid, change: &[u8; 32]) -> Signature {
        self.0.sign(&change_message(doc, person, change)).to_bytes()
    }

    /// Signs an export bundle whose manifest has SHA-256 `digest` (the console key does).
    pub fn sign_bundle(&self, digest: &[u8; 32]) -> Signature {
        self.0.sign(&bundle_message(digest)).to_bytes()
    }
}

/// Why a signature or key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureFault {
    /// The bytes are not a usable Ed25519 public key (not a curve point, or a weak one).
    #[error("not a usable Ed25519 public key")]
    BadKey,
    /// The signature does not verify under the key.
    #[error("the signature does not verify")]
    BadSignature,
}

/// Checks that `bytes` are a usable public key: a point on the curve and not one of the
/// small-order points, under which a signature proves nothing.
pub fn check_public_key(bytes: &[u8]) -> Result<PublicKey, SignatureFault> {
    let key: PublicKey = bytes.try_into().map_err(|_| SignatureFault::BadKey)?;
    let vk = VerifyingKey::from_bytes(&key).map_err(|_| SignatureFault::BadKey)?;
    if vk.is_weak() {
        return Err(SignatureFault::BadKey);
    }
    Ok(key)
}

/// Verifies `signature` by `key` over the change `change` that `person` made to `doc`
/// (strict verification: no malleable encodings).
pub fn verify_change(
    key: &PublicKey,
    doc: Uuid,
    person: Uuid,
    change: &[u8; 32],
    signature: &[u8],
) -> Result<(), SignatureFault> {
    verify_message(key, &change_message(doc, person, change), signature)
}

/// The person a change says made it: the `by` of its message (see
/// [`crate::document::change`]). `None` for a change without one.
pub fn change_by(c: &Change) -> Option<Uuid> {
    #[derive(serde::Deserialize)]
    struct By {
        by: Uuid,
    }
    serde_json::from_str::<By>(c.message()?).ok().map(|m| m.by)
}

/// The first of `changes` not covered by a signature of the person who made it: `signed`
/// lists (change hash, signer) pairs, already verified. A change is covered by a signature of
/// its maker over itself or over any change that depends on it, directly or through other
/// changes of `changes`. `changes` are the changes being judged; dependencies outside them
/// are stored already and were judged when they came. A change with no `by` is never
/// covered.
pub fn uncovered<'a>(changes: &'a [Change], signed: &[([u8; 32], Uuid)]) -> Option<&'a Change> {
    uncovered_by(changes, signed, change_by)
}

/// [`uncovered`] with each change's maker given by `maker` rather than read from its message:
/// the server, whose rules have already read and checked every change's `by`, passes what
/// they found (reading each message again cost a JSON parse per change of a surge).
pub fn uncovered_by<'a>(
    changes: &'a [Change],
    signed: &[([u8; 32], Uuid)],
    maker: impl Fn(&Change) -> Option<Uuid>,
) -> Option<&'a Change> {
    use std::collections::{HashMap, HashSet};
    let index: HashMap<[u8; 32], usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.hash().0, i))
        .collect();
    // For each signer, every change of `changes` reachable from one of their signed changes.
    let mut covered: HashMap<Uuid, HashSet<usize>> = HashMap::new();
    for (hash, person) in signed {
        let Some(&start) = index.get(hash) else {
            continue;
        };
        let seen = covered.entry(*person).or_default();
        let mut stack = vec![start];
        while let Some(i) = stack.pop() {
            if !seen.insert(i) {
                continue;
            }
            stack.extend(changes[i].deps().iter().filter_map(|d| index.get(&d.0)));
        }
    }
    changes.iter().enumerate().find_map(|(i, c)| {
        let ok = maker(c)
            .and_then(|p| covered.get(&p))
            .is_some_and(|s| s.contains(&i));
        (!ok).then_some(c)
    })
}

/// Lower-case hex of a key or signature, for messages and logs.
pub fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;
    use automerge::{Automerge, ROOT, transaction::Transactable};
    use chrono::{TimeZone, Utc};

    const DOC: Uuid = Uuid::from_u128(0xD0C);
    const ANA: Uuid = Uuid::from_u128(0xA1);
    const BEN: Uuid = Uuid::from_u128(0xB1);

    fn chain(people: &[Uuid]) -> Vec<Change> {
        let mut am = Automerge::new();
        let mut out = Vec::new();
        for (i, p) in people.iter().enumerate() {
            crate::document::change(
                &mut am,
                Utc.timestamp_opt(1_700_000_000 + i as i64, 0)
                    .single()
                    .expect("time"),
                *p,
                "edit",
                |tx| {
                    tx.put(ROOT, "n", i as i64).expect("put");
                    Ok(())
                },
            )
            .expect("change");
            out.push(am.get_last_local_change().expect("change").clone());
        }
        out
    }

    #[test]
    fn a_signature_verifies_only_for_its_document_person_and_change() {
        let key = SigningSecret::generate(&mut SeededEntropy::new(1));
        let hash = [7u8; 32];
        let sig = key.sign_change(DOC, ANA, &hash);
        assert_eq!(verify_change(&key.public(), DOC, ANA, &hash, &sig), Ok(()));
        let other_doc = Uuid::from_u128(0xD0D);
        assert_eq!(
            verify_change(&key.public(), other_doc, ANA, &hash, &sig),
            Err(SignatureFault::BadSignature),
            "replayed under another document"
        );
        assert_eq!(
            verify_change(&key.public(), DOC, BEN, &hash, &sig),
            Err(SignatureFault::BadSignature)
        );
        let mut flipped = sig;
        flipped[10] ^= 1;
        assert_eq!(
            verify_change(&key.public(), DOC, ANA, &hash, &flipped),
            Err(SignatureFault::BadSignature)
        );
        let other = SigningSecret::generate(&mut SeededEntropy::new(2));
        assert_eq!(
            verify_change(&other.public(), DOC, ANA, &hash, &sig),
            Err(SignatureFault::BadSignature),
            "another person's key"
        );
        assert_eq!(
            verify_change(&key.public(), DOC, ANA, &hash, &sig[..63]),
            Err(SignatureFault::BadSignature)
        );
    }

    #[test]
    fn the_seed_gives_the_same_key_back() {
        let key = SigningSecret::generate(&mut SeededEntropy::new(3));
        assert_eq!(SigningSecret::from_seed(&key.seed()).public(), key.public());
    }

    #[test]
    fn weak_and_malformed_public_keys_are_refused() {
        assert_eq!(check_public_key(&[0u8; 31]), Err(SignatureFault::BadKey));
        // The identity point: every signature "verifies" under a small-order key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(check_public_key(&identity), Err(SignatureFault::BadKey));
        let key = SigningSecret::generate(&mut SeededEntropy::new(4));
        assert_eq!(check_public_key(&key.public()), Ok(key.public()));
    }

    #[test]
    fn one_signature_over_the_last_change_covers_the_makers_earlier_changes() {
        let c = chain(&[ANA, ANA, ANA]);
        assert!(uncovered(&c, &[(c[2].hash().0, ANA)]).is_none());
        // Signed over the middle one: the last is not covered.
        let left = uncovered(&c, &[(c[1].hash().0, ANA)]).expect("uncovered");
        assert_eq!(left.hash(), c[2].hash());
        assert!(uncovered(&c, &[]).is_some());
    }

    #[test]
    fn a_change_is_covered_only_by_its_own_makers_signature() {
        let c = chain(&[BEN, ANA]);
        // Ana's signature over her change is built on Ben's, but does not sign for him.
        let left = uncovered(&c, &[(c[1].hash().0, ANA)]).expect("uncovered");
        assert_eq!(left.hash(), c[0].hash());
        assert!(uncovered(&c, &[(c[1].hash().0, ANA), (c[0].hash().0, BEN)]).is_none());
        // A signature naming the wrong person for a change covers nothing of Ana's.
        assert!(uncovered(&c, &[(c[1].hash().0, BEN), (c[0].hash().0, BEN)]).is_some());
    }
}
