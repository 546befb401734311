//! The conformance suite on PostgreSQL (`EVTSTORE_TEST_POSTGRES_URL`), one new schema per test.

mod common;

evtstore_tests::conformance_suite!(postgres, async { crate::common::postgres().await });
