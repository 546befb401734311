//! Procedural macros of evtstore. Use them through the `evtstore` crate, which documents them.
//!
//! Each macro is parsed into a typed model (`ast`), checked (`valid`), and expanded
//! (`expand`); an input with mistakes gets every mistake reported at once, next to stub code
//! (`fallback`) that keeps the rest of the user's crate free of follow-on errors.

mod aggregate;
mod case;
mod command;
mod ctxt;
mod serde_attr;
mod symbol;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Documented on its re-export, `evtstore::Aggregate`.
///
/// # Stream names
/// `#[aggregate(stream = "..")]` is checked when the enum compiles, so that a name the stores
/// cannot keep, or keep only as a trap, is never first met at run time. A stream name
/// - is not empty, which storage could not tell from a missing name;
/// - has at most 255 characters, the `VARCHAR(255)` of the SQL stores' `stream` columns;
/// - neither starts nor ends with whitespace (`"users "` would be another stream than
///   `"users"`) and holds no control character (a newline or a tab does not show in logs);
/// - holds no quote, `"`, `'` or a backtick, with which SQL quotes identifiers and strings.
///
/// Spaces inside a name (`"user accounts"`) and any other Unicode are accepted.
#[proc_macro_derive(Aggregate, attributes(aggregate))]
pub fn derive_aggregate(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    aggregate::derive(&input).into()
}

/// Documented on its re-export, `evtstore::command`.
#[proc_macro_attribute]
pub fn command(args: TokenStream, input: TokenStream) -> TokenStream {
    command::expand(args.into(), input.into()).into()
}
