//! The conformance suite on the in-memory store.

evtstore_tests::conformance_suite!(memory, async { evtstore::MemoryStore::new() });
