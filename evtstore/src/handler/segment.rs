//! Segments: a handler split into N parts by a stable hash of the aggregate id, each with its
//! own claim and bookmark, so that N runners share one handler's work.

use std::fmt;

/// One of the `count` segments of a handler.
///
/// An aggregate belongs to segment `fnv1a_64(aggregate id) % count`: the function is fixed
/// (FNV-1a over the id's UTF-8 bytes), so every process, backend and release of this library
/// puts an aggregate in the same segment, and all its events are handled by one runner, in
/// order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Segment {
    index: u32,
    count: u32,
}

impl Segment {
    /// Segment `index` of `count`; `None` unless `index < count`.
    #[must_use]
    pub fn new(index: u32, count: u32) -> Option<Self> {
        (index < count).then_some(Segment { index, count })
    }

    /// Which segment of `count` handles the events of `aggregate_id`. `count` 0 is taken as 1.
    #[must_use]
    pub fn of(aggregate_id: &str, count: u32) -> Self {
        let count = count.max(1);
        let index = fnv1a_64(aggregate_id.as_bytes()) % u64::from(count);
        Segment {
            // Below `count`, which is a u32.
            index: u32::try_from(index).unwrap_or(0),
            count,
        }
    }

    /// The segment's number, from 0.
    #[must_use]
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many segments the handler has.
    #[must_use]
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether this segment handles the events of `aggregate_id`.
    #[must_use]
    pub fn contains(self, aggregate_id: &str) -> bool {
        Segment::of(aggregate_id, self.count) == self
    }

    /// The bookmark (and claim) name of this segment of the handler `handler`:
    /// `handler#index/count`. The count is part of the name, so that re-splitting a handler
    /// starts new bookmarks instead of misreading old ones.
    #[must_use]
    pub fn bookmark(self, handler: &str) -> String {
        format!("{handler}#{self}")
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The 64-bit FNV-1a hash: tiny, fast on short ids, and defined by its constants alone, which
/// is what a hash that must never change needs (std's hashers may change between releases).
fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_published_fnv1a() {
        // Test vectors of the FNV reference implementation.
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn segments_are_stable_and_cover_every_id() {
        // Pinned: a change here moves aggregates between segments of running deployments.
        let pinned: Vec<u32> = ["user-1", "user-2", "user-3", "post-9"]
            .iter()
            .map(|id| Segment::of(id, 4).index())
            .collect();
        assert_eq!(pinned, [0, 1, 2, 1]);
        let mut counts = [0; 4];
        for n in 0..4000 {
            counts[Segment::of(&format!("agg-{n}"), 4).index() as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
        assert!(Segment::new(4, 4).is_none());
        assert_eq!(Segment::new(1, 4).unwrap().bookmark("posts"), "posts#1/4");
    }
}
