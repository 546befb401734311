//! Procedural macros of evtstore. Use them through the `evtstore` crate, which documents them.
