//! `Idempotency-Key`: a request's command id, and the check that a request sent again with the
//! same key is the same request.
//!
//! The library makes a command with an id run once per aggregate: executed again, it appends
//! nothing and answers as the first execution left the aggregate. It does not compare the two
//! commands. A client that reuses a key for another request (a bug) would get the first one's
//! answer as if its own had run; the service stores a fingerprint of the command with the
//! events and answers such a reuse with 422 `idempotency_key_reused` instead.

use evtstore::{Aggregate, Domain, Metadata, Store};
use serde::Serialize;

use crate::http::ApiError;

/// The metadata field that holds the fingerprint.
const FINGERPRINT: &str = "requestFingerprint";

/// FNV-1a (64 bits) of the command's JSON as this service writes it (the command enum's
/// fields in declaration order): stable across processes and releases, unlike std's hasher.
fn fingerprint<T: Serialize>(command: &T) -> Result<String, ApiError> {
    let json = serde_json::to_vec(command)
        .map_err(|error| ApiError::bad_json(format!("the command does not encode: {error}")))?;
    let hash = json.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    Ok(format!("{hash:016x}"))
}

/// Adds the command's fingerprint to metadata that carries a command id.
///
/// # Errors
/// 400 when the command does not encode (it was just decoded, so it does).
pub(super) fn stamp<T: Serialize>(metadata: &mut Metadata, command: &T) -> Result<(), ApiError> {
    if metadata.command_id.is_some() {
        metadata
            .extra
            .insert(FINGERPRINT.to_owned(), fingerprint(command)?.into());
    }
    Ok(())
}

/// After the execution: refuses when events of the aggregate carry the request's command id
/// with another command's fingerprint (the key was used before for another request). A store
/// error while looking is logged and lets the answer through: the command may have just been
/// stored, and a failure would make the client send it again.
///
/// # Errors
/// 422 `idempotency_key_reused`.
pub(super) async fn check_reuse<A: Aggregate, S: Store>(
    domain: &Domain<S>,
    aggregate_id: &str,
    metadata: &Metadata,
) -> Result<(), ApiError> {
    let Some(key) = &metadata.command_id else {
        return Ok(());
    };
    let history = match domain.history::<A>(aggregate_id).await {
        Ok(history) => history,
        Err(error) => {
            tracing::warn!(%error, "cannot check the Idempotency-Key against the stored events");
            return Ok(());
        }
    };
    let first = history
        .iter()
        .find(|recorded| recorded.meta.metadata.command_id.as_ref() == Some(key));
    match first {
        Some(recorded)
            if recorded.meta.metadata.extra.get(FINGERPRINT) != metadata.extra.get(FINGERPRINT) =>
        {
            Err(ApiError::idempotency_key_reused(key))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::fingerprint;
    use crate::domain::PostCommand;

    #[test]
    fn fingerprints_tell_commands_apart_and_stay_stable() {
        let hello = PostCommand::CreatePost {
            content: "Hello".into(),
        };
        let other = PostCommand::CreatePost {
            content: "Hello!".into(),
        };
        let hello = fingerprint(&hello).unwrap();
        assert_ne!(hello, fingerprint(&other).unwrap());
        // FNV-1a of `{"type":"createPost","content":"Hello"}`: the same in every process and
        // release, so that a retry reaching another process is recognised.
        assert_eq!(hello, "05dc49211381b016");
    }
}
