//! The rules an event enum must follow, one function per rule. Each reports into the
//! [`Ctxt`] and says why the rule exists.

use std::collections::HashMap;

use syn::{Data, LitStr, Type};

use super::ast::{Input, Shape};
use crate::ctxt::Ctxt;
use crate::symbol::TYPE_FIELD;

pub(crate) fn check(cx: &Ctxt, input: &Input<'_>) {
    if !check_is_enum(cx, input) {
        return;
    }
    check_not_generic(cx, input);
    check_has_variants(cx, input);
    check_required_keys(cx, input);
    if let Some(stream) = &input.attrs.stream {
        check_stream_not_empty(cx, stream);
        check_stream_fits_its_column(cx, stream);
        check_stream_not_padded(cx, stream);
        check_stream_unquoted(cx, stream);
    }
    check_snapshot_tag_not_empty(cx, input);
    check_upcasters_have_a_schema(cx, input);
    check_variant_shapes(cx, input);
    check_newtype_payloads(cx, input);
    check_type_tag(cx, input);
    check_stored_both_ways(cx, input);
    check_unique_stored_names(cx, input);
    check_unique_methods(cx, input);
}

/// The events of a stream are alternatives: only an enum describes them.
fn check_is_enum(cx: &Ctxt, input: &Input<'_>) -> bool {
    match &input.original.data {
        Data::Enum(_) => true,
        Data::Struct(data) => {
            cx.error_spanned_by(
                data.struct_token,
                "#[derive(Aggregate)] goes on the enum of a stream's events, not on a struct",
            );
            false
        }
        Data::Union(data) => {
            cx.error_spanned_by(
                data.union_token,
                "#[derive(Aggregate)] goes on the enum of a stream's events, not on a union",
            );
            false
        }
    }
}

/// A stream stores one concrete event type; the aggregate is a `'static` set of names.
fn check_not_generic(cx: &Ctxt, input: &Input<'_>) {
    let generics = &input.original.generics;
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        cx.error_spanned_by(generics, "an event enum cannot have generic parameters");
    }
}

/// An enum without variants has no value: nothing could ever be stored in the stream.
fn check_has_variants(cx: &Ctxt, input: &Input<'_>) {
    if input.variants.is_empty() {
        cx.error_spanned_by(
            input.ident(),
            "an event enum needs at least one variant: one per kind of event",
        );
    }
}

/// The stream names where events are stored and the state names what they fold into; neither
/// has a sensible default.
fn check_required_keys(cx: &Ctxt, input: &Input<'_>) {
    let attrs = &input.attrs;
    let Some(attr) = attrs.attr else {
        cx.error_spanned_by(
            input.ident(),
            "#[derive(Aggregate)] needs `#[aggregate(stream = \"...\", state = StateType)]` on the enum",
        );
        return;
    };
    if attrs.stream.is_none() && !attrs.stream_written {
        cx.error_spanned_by(
            attr,
            "the aggregate has no stream: add `stream = \"...\"`, the name its events are stored under",
        );
    }
    if attrs.state.is_none() {
        cx.error_spanned_by(
            attr,
            "the aggregate has no state: add `state = StateType`, the type its events fold into",
        );
    }
}

/// The longest stream name the SQL stores keep: their `stream` columns are `VARCHAR(255)`.
const MAX_STREAM_CHARS: usize = 255;

/// The quotes of SQL identifiers and strings (`"`, `'`, and MySQL's backtick).
const STREAM_QUOTES: [char; 3] = ['"', '\'', '`'];

/// An empty stream name cannot be told apart from a missing one in storage.
fn check_stream_not_empty(cx: &Ctxt, stream: &LitStr) {
    if stream.value().is_empty() {
        cx.error_spanned_by(stream, "the stream name cannot be empty");
    }
}

/// A longer name would be refused (or, on a lax database, cut short) at the first append,
/// long after the code compiled.
fn check_stream_fits_its_column(cx: &Ctxt, stream: &LitStr) {
    let length = stream.value().chars().count();
    if length > MAX_STREAM_CHARS {
        cx.error_spanned_by(
            stream,
            format!(
                "the stream name is {length} characters long: the stores keep at most \
                 {MAX_STREAM_CHARS}"
            ),
        );
    }
}

/// `"users "` and `"users"` look alike in logs and queries but are two streams; a control
/// character is invisible there altogether.
fn check_stream_not_padded(cx: &Ctxt, stream: &LitStr) {
    let name = stream.value();
    if name.trim() != name {
        cx.error_spanned_by(
            stream,
            format!(
                "the stream name cannot start or end with whitespace: {name:?} and {:?} would \
                 be two streams",
                name.trim()
            ),
        );
    } else if name.chars().any(char::is_control) {
        cx.error_spanned_by(
            stream,
            "the stream name cannot hold control characters, such as a newline or a tab: they \
             do not show in logs and queries",
        );
    }
}

/// The SQL stores and the TypeScript evtstore put stream names next to quoted identifiers and
/// string literals; a quote in a name is a trap for anyone writing such SQL by hand.
fn check_stream_unquoted(cx: &Ctxt, stream: &LitStr) {
    if let Some(quote) = stream.value().chars().find(|c| STREAM_QUOTES.contains(c)) {
        cx.error_spanned_by(
            stream,
            format!(
                "the stream name cannot hold the quote `{quote}`: SQL quotes identifiers and \
                 strings with `\"`, `'` and backticks"
            ),
        );
    }
}

/// An empty fold tag cannot be told apart from a missing one in storage.
fn check_snapshot_tag_not_empty(cx: &Ctxt, input: &Input<'_>) {
    if let Some(tag) = input
        .attrs
        .persist
        .as_ref()
        .filter(|s| s.value().is_empty())
    {
        cx.error_spanned_by(
            tag,
            "the snapshot tag cannot be empty: use a fold version such as \"v1\"",
        );
    }
}

/// Upcasters read events stored under a schema older than the enum's: without a schema above
/// 1 there is none, and every upcaster would be silently ignored.
fn check_upcasters_have_a_schema(cx: &Ctxt, input: &Input<'_>) {
    let above_one = input
        .attrs
        .schema
        .as_ref()
        .is_some_and(|schema| schema.base10_parse::<u32>().is_ok_and(|schema| schema > 1));
    if let Some(upcasters) = input.attrs.upcasters.as_ref().filter(|_| !above_one) {
        cx.error_spanned_by(
            upcasters,
            "`upcasters` read events stored under older schemas: set `schema` to the enum's \
             current version, 2 or more, as in `schema = 2`",
        );
    }
}

/// Each event is stored as one JSON object with a `type` field: a tuple of several values
/// has no field names to store them under.
fn check_variant_shapes(cx: &Ctxt, input: &Input<'_>) {
    for variant in &input.variants {
        if let Shape::Tuple = variant.shape {
            let ident = variant.ident;
            cx.error_spanned_by(
                &variant.original.fields,
                format!(
                    "event `{ident}` must have named fields or a single value: \
                     write `{ident} {{ name: Type, .. }}` or `{ident}(Payload)`"
                ),
            );
        }
    }
}

/// serde stores a single-value variant of a tagged enum by flattening the value's fields next
/// to the `type` field: a number, a string, a sequence or an option has no fields and fails at
/// run time ("cannot serialize tagged newtype variant"). Types that are obviously such values
/// are refused here; others (a struct or a map) are serde's to check.
fn check_newtype_payloads(cx: &Ctxt, input: &Input<'_>) {
    const NOT_OBJECTS: &[&str] = &[
        "bool", "char", "str", "String", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16",
        "i32", "i64", "i128", "isize", "f32", "f64", "Vec", "VecDeque", "Option",
    ];
    for variant in &input.variants {
        let Shape::Newtype(field) = variant.shape else {
            continue;
        };
        let name = match &field.ty {
            Type::Path(path) if path.qself.is_none() => path
                .path
                .segments
                .last()
                .map(|segment| segment.ident.to_string())
                .filter(|name| NOT_OBJECTS.contains(&name.as_str())),
            Type::Tuple(_) | Type::Array(_) | Type::Slice(_) | Type::Reference(_) => {
                Some(quote::ToTokens::to_token_stream(&field.ty).to_string())
            }
            _ => None,
        };
        if let Some(name) = name {
            let ident = variant.ident;
            cx.error_spanned_by(
                &field.ty,
                format!(
                    "event `{ident}` cannot hold a bare `{name}`: its value is stored as fields next \
                     to the `type` field, so it must be a struct; write `{ident} {{ value: .. }}`"
                ),
            );
        }
    }
}

/// Stored events carry their type name in a `type` field (`{"type":"created","name":".."}`),
/// as the TypeScript evtstore stores them; serde's internal tagging writes exactly that.
fn check_type_tag(cx: &Ctxt, input: &Input<'_>) {
    let serde = &input.serde;
    if let Some(untagged) = &serde.untagged {
        cx.error_spanned_by(
            untagged,
            "events cannot be `untagged`: a stored event names its type in a `type` field, \
             use `#[serde(tag = \"type\")]`",
        );
        return;
    }
    if let Some(content) = &serde.content {
        cx.error_spanned_by(
            content,
            "events cannot be adjacently tagged: a stored event keeps its fields next to its \
             `type` field, remove `content`",
        );
    }
    match &serde.tag {
        None => cx.error_spanned_by(
            input.ident(),
            "events must be stored with a `type` field: add `#[serde(tag = \"type\")]` to the enum",
        ),
        Some(tag) if tag.value() != TYPE_FIELD => cx.error_spanned_by(
            tag,
            format!(
                "the event tag must be \"type\", not {:?}: stored events name their type in a \
                 `type` field",
                tag.value()
            ),
        ),
        Some(_) => {}
    }
    for variant in &input.variants {
        if let Some(path) = &variant.serde.unstored {
            let key = path
                .get_ident()
                .map_or_else(String::new, ToString::to_string);
            cx.error_spanned_by(
                path,
                format!(
                    "event `{}` cannot be `{key}`: every event is stored and read back by its type name",
                    variant.ident
                ),
            );
        }
    }
}

/// An event is read back under the name it was stored with: serde's serialize and
/// deserialize names must agree.
fn check_stored_both_ways(cx: &Ctxt, input: &Input<'_>) {
    if let Some(rule) = &input.serde.rename_all {
        // Both `None` is an unknown rule name: serde reports that one.
        let given = rule.serialize.is_some() || rule.deserialize.is_some();
        if given && rule.agreed().is_none() {
            cx.syn_error(syn::Error::new(
                rule.span,
                "`rename_all` must be the same for serialize and deserialize: events are read \
                 back under the names they are stored with",
            ));
        }
    }
    for variant in &input.variants {
        if let Some(rename) = variant
            .serde
            .rename
            .as_ref()
            .filter(|r| r.agreed().is_none())
        {
            cx.syn_error(syn::Error::new(
                rename.span,
                format!(
                    "`rename` of event `{}` must be the same for serialize and deserialize: \
                     events are read back under the names they are stored with",
                    variant.ident
                ),
            ));
        }
    }
}

/// Two events stored under one name could not be told apart when read back.
fn check_unique_stored_names(cx: &Ctxt, input: &Input<'_>) {
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    for variant in &input.variants {
        let name = input.stored_name(variant);
        match seen.get(&name) {
            Some(first) => cx.syn_error(syn::Error::new(
                variant
                    .serde
                    .rename
                    .as_ref()
                    .map_or(variant.span(), |r| r.span),
                format!(
                    "events `{first}` and `{}` are both stored as \"{name}\": each event needs \
                     its own type name",
                    variant.ident
                ),
            )),
            None => {
                seen.insert(name, variant.ident);
            }
        }
    }
}

/// Every event gets a fold and a handler method named after it.
fn check_unique_methods(cx: &Ctxt, input: &Input<'_>) {
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    for variant in &input.variants {
        let Some(method) = &variant.method else {
            cx.error_spanned_by(
                variant.ident,
                format!("event `{}` has no usable method name", variant.ident),
            );
            continue;
        };
        let name = method.to_string();
        match seen.get(&name) {
            Some(first) => cx.error_spanned_by(
                variant.ident,
                format!(
                    "events `{first}` and `{}` would both be folded and handled by a method \
                     named `{name}`: rename one of them",
                    variant.ident
                ),
            ),
            None => {
                seen.insert(name, variant.ident);
            }
        }
    }
}
