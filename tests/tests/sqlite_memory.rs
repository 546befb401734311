//! The conformance suite on in-memory SQLite (`sqlite::memory:`), one database per test.

mod common;

evtstore_tests::conformance_suite!(sqlite_memory, async {
    crate::common::sqlite_memory().await
});
