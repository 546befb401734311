//! Compile-fail and compile-pass cases for the evtstore macros; see `tests/`.
