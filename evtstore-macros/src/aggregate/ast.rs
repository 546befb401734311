//! The typed model of a `#[derive(Aggregate)]` input. It borrows from the syn tree and keeps
//! the original nodes for error spans. Parsing is best effort: a bad key is reported to the
//! [`Ctxt`] and parsing goes on, so that every mistake of the input is reported together.

use proc_macro2::{Ident, Span};
use syn::{Attribute, Data, DeriveInput, Expr, Field, Fields, Lit, LitStr, Meta, Type};

use crate::case;
use crate::ctxt::Ctxt;
use crate::serde_attr::{self, SerdeEnum, SerdeVariant};
use crate::symbol::{AGGREGATE, PERSIST, SCHEMA, STATE, STREAM, UPCASTERS};

pub(crate) struct Input<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) attrs: Attrs<'a>,
    pub(crate) serde: SerdeEnum,
    /// The variants; empty when the input is not an enum.
    pub(crate) variants: Vec<Variant<'a>>,
}

/// What `#[aggregate(..)]` says.
#[derive(Default)]
pub(crate) struct Attrs<'a> {
    /// The first `#[aggregate]` attribute, for errors about a missing key.
    pub(crate) attr: Option<&'a Attribute>,
    pub(crate) stream: Option<LitStr>,
    pub(crate) state: Option<Type>,
    pub(crate) persist: Option<LitStr>,
    /// `schema = 2`: the enum's schema version (`Aggregate::SCHEMA`).
    pub(crate) schema: Option<syn::LitInt>,
    /// `upcasters = USER_UPCASTERS`: a path to a `&[Upcaster]` constant.
    pub(crate) upcasters: Option<syn::Path>,
    /// Whether `stream` was written, valid or not: an invalid one is reported once, not also
    /// as missing.
    pub(crate) stream_written: bool,
}

pub(crate) struct Variant<'a> {
    pub(crate) original: &'a syn::Variant,
    pub(crate) ident: &'a Ident,
    pub(crate) shape: Shape<'a>,
    pub(crate) serde: SerdeVariant,
    /// The generated fold and handler method's name.
    pub(crate) method: Option<Ident>,
}

/// The payload of an event variant.
pub(crate) enum Shape<'a> {
    Unit,
    Named(Vec<&'a Field>),
    /// A single-field tuple variant.
    Newtype(&'a Field),
    /// A tuple variant with zero or several fields: not an event shape; reported by validation.
    Tuple,
}

impl<'a> Input<'a> {
    pub(crate) fn from_syn(cx: &Ctxt, original: &'a DeriveInput) -> Self {
        let variants = match &original.data {
            Data::Enum(data) => data
                .variants
                .iter()
                .map(|variant| Variant::from_syn(cx, variant))
                .collect(),
            Data::Struct(_) | Data::Union(_) => Vec::new(),
        };
        Input {
            original,
            attrs: Attrs::from_syn(cx, &original.attrs),
            serde: serde_attr::parse_enum(&original.attrs),
            variants,
        }
    }

    pub(crate) fn ident(&self) -> &'a Ident {
        &self.original.ident
    }

    /// The stored type name of a variant: what serde writes in the `type` field.
    pub(crate) fn stored_name(&self, variant: &Variant<'_>) -> String {
        if let Some(name) = variant
            .serde
            .rename
            .as_ref()
            .and_then(|r| r.serialize.clone())
        {
            return name;
        }
        let unraw = variant.ident.to_string();
        let unraw = unraw.trim_start_matches("r#");
        match self
            .serde
            .rename_all
            .as_ref()
            .and_then(|rule| rule.serialize)
        {
            Some(rule) => rule.apply_to_variant(unraw),
            None => unraw.to_owned(),
        }
    }
}

impl<'a> Attrs<'a> {
    fn from_syn(cx: &Ctxt, attrs: &'a [Attribute]) -> Self {
        let mut parsed = Attrs::default();
        for attr in attrs.iter().filter(|attr| attr.path().is_ident(AGGREGATE)) {
            parsed.attr.get_or_insert(attr);
            if !matches!(attr.meta, Meta::List(_)) {
                cx.error_spanned_by(
                    attr,
                    "expected `#[aggregate(stream = \"...\", state = StateType)]`",
                );
                continue;
            }
            let result = attr.parse_nested_meta(|meta| {
                let key = &meta.path;
                if key.is_ident(STREAM) {
                    parsed.stream_written = true;
                    let value = string_value(cx, &meta, STREAM, "\"users\"")?;
                    set_once(cx, key, &mut parsed.stream, value);
                } else if key.is_ident(PERSIST) {
                    let value = string_value(cx, &meta, PERSIST, "\"v1\"")?;
                    set_once(cx, key, &mut parsed.persist, value);
                } else if key.is_ident(STATE) {
                    let state: Type = meta.value()?.parse()?;
                    set_once(cx, key, &mut parsed.state, Some(state));
                } else if key.is_ident(SCHEMA) {
                    let value = schema_value(cx, &meta)?;
                    set_once(cx, key, &mut parsed.schema, value);
                } else if key.is_ident(UPCASTERS) {
                    let path: syn::Path = meta.value()?.parse()?;
                    set_once(cx, key, &mut parsed.upcasters, Some(path));
                } else {
                    let name = quote::ToTokens::to_token_stream(key).to_string().replace(' ', "");
                    cx.error_spanned_by(
                        key,
                        format!(
                            "unknown aggregate attribute `{name}`: expected `stream`, `state`, `persist`, \
                             `schema` or `upcasters`"
                        ),
                    );
                    // Skip its value so that the keys after it are still read.
                    if meta.input.peek(syn::Token![=]) {
                        meta.value()?.parse::<Expr>()?;
                    } else if meta.input.peek(syn::token::Paren) {
                        meta.input.parse::<proc_macro2::TokenTree>()?;
                    }
                }
                Ok(())
            });
            if let Err(error) = result {
                cx.syn_error(error);
            }
        }
        parsed
    }
}

/// Reads `schema = N`: a whole number from 1, the schema version of the enum's shape. Anything
/// else is reported and yields `None`.
fn schema_value(
    cx: &Ctxt,
    meta: &syn::meta::ParseNestedMeta<'_>,
) -> syn::Result<Option<syn::LitInt>> {
    let mut value: Expr = meta.value()?.parse()?;
    while let Expr::Group(group) = value {
        value = *group.expr;
    }
    match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(number),
            ..
        }) if number.suffix().is_empty()
            && number.base10_parse::<u32>().is_ok_and(|schema| schema >= 1) =>
        {
            Ok(Some(number))
        }
        other => {
            cx.error_spanned_by(
                &other,
                "`schema` takes the schema version, a whole number from 1, as in `schema = 2`",
            );
            Ok(None)
        }
    }
}

/// Reads `key = "text"`; a value that is not a string literal is reported and yields `None`.
fn string_value(
    cx: &Ctxt,
    meta: &syn::meta::ParseNestedMeta<'_>,
    key: &str,
    example: &str,
) -> syn::Result<Option<LitStr>> {
    let mut value: Expr = meta.value()?.parse()?;
    // A literal passed through a `macro_rules!` fragment arrives in an invisible group.
    while let Expr::Group(group) = value {
        value = *group.expr;
    }
    match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(text),
            ..
        }) => Ok(Some(text)),
        other => {
            cx.error_spanned_by(
                &other,
                format!("`{key}` takes a string, as in `{key} = {example}`"),
            );
            Ok(None)
        }
    }
}

fn set_once<T>(cx: &Ctxt, key: &syn::Path, slot: &mut Option<T>, value: Option<T>) {
    if slot.is_some() {
        let name = key
            .get_ident()
            .map_or_else(String::new, ToString::to_string);
        cx.error_spanned_by(key, format!("`{name}` is given twice"));
    } else if value.is_some() {
        *slot = value;
    }
}

impl<'a> Variant<'a> {
    fn from_syn(cx: &Ctxt, original: &'a syn::Variant) -> Self {
        for attr in original
            .attrs
            .iter()
            .chain(original.fields.iter().flat_map(|field| &field.attrs))
            .filter(|attr| attr.path().is_ident(AGGREGATE))
        {
            cx.error_spanned_by(
                attr,
                "`#[aggregate(..)]` goes on the event enum, not on a variant or field",
            );
        }
        let shape = match &original.fields {
            Fields::Unit => Shape::Unit,
            Fields::Named(fields) => Shape::Named(fields.named.iter().collect()),
            Fields::Unnamed(fields) => match (fields.unnamed.first(), fields.unnamed.len()) {
                (Some(field), 1) => Shape::Newtype(field),
                _ => Shape::Tuple,
            },
        };
        let name = original.ident.to_string();
        let method = case::ident(
            &case::method_name(name.trim_start_matches("r#")),
            original.ident.span(),
        );
        Variant {
            original,
            ident: &original.ident,
            shape,
            serde: serde_attr::parse_variant(&original.attrs),
            method,
        }
    }

    /// The span that errors about this variant point at.
    pub(crate) fn span(&self) -> Span {
        self.ident.span()
    }

    /// The fields handed to the fold and handler methods, in declaration order.
    pub(crate) fn fields(&self) -> Vec<&'a Field> {
        match &self.shape {
            Shape::Named(fields) => fields.clone(),
            Shape::Newtype(field) => vec![field],
            Shape::Unit | Shape::Tuple => Vec::new(),
        }
    }
}
