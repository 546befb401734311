//! The attribute and key names the macros read.

pub(crate) const AGGREGATE: &str = "aggregate";
pub(crate) const STREAM: &str = "stream";
pub(crate) const STATE: &str = "state";
pub(crate) const PERSIST: &str = "persist";
pub(crate) const SCHEMA: &str = "schema";
pub(crate) const UPCASTERS: &str = "upcasters";

pub(crate) const SERDE: &str = "serde";
pub(crate) const TAG: &str = "tag";
pub(crate) const CONTENT: &str = "content";
pub(crate) const UNTAGGED: &str = "untagged";
pub(crate) const RENAME: &str = "rename";
pub(crate) const RENAME_ALL: &str = "rename_all";
pub(crate) const SERIALIZE: &str = "serialize";
pub(crate) const DESERIALIZE: &str = "deserialize";
pub(crate) const SKIP: [&str; 3] = ["skip", "skip_serializing", "skip_deserializing"];

/// The field every stored event carries its type name in.
pub(crate) const TYPE_FIELD: &str = "type";

pub(crate) const COMMAND_NAME: &str = "name";
pub(crate) const COMMAND_VIS: &str = "vis";

/// The methods of `evtstore::Commands`: a command of the same name would be shadowed by them
/// in `users.load(..)`.
pub(crate) const RUNNER_METHODS: [&str; 7] = [
    "execute",
    "execute_with",
    "load",
    "command_set",
    "domain",
    "metadata",
    "with_metadata",
];
