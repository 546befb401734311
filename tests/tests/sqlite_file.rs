//! The conformance suite on SQLite in a file (WAL), one new file per test.

mod common;

evtstore_tests::conformance_suite!(sqlite_file, async { crate::common::sqlite_file().await });
