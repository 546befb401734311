//! The macros' compile-fail and compile-pass cases. Regenerate the `.stderr` snapshots with
//! `TRYBUILD=overwrite cargo test -p evtstore-trybuild` and review every change.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
