//! The conformance suite on MySQL/MariaDB (`EVTSTORE_TEST_MYSQL_URL`), one new database per
//! test.

mod common;

evtstore_tests::conformance_suite!(mysql, async { crate::common::mysql().await });
