//! Reads the few `#[serde(..)]` settings that decide an event's stored type name.
//!
//! Malformed serde attributes are left for serde's own derive to report: this module skips
//! what it does not understand and never reports an error of its own.

use proc_macro2::{Span, TokenTree};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr, Path, Token};

use crate::case::RenameRule;
use crate::symbol::{
    CONTENT, DESERIALIZE, RENAME, RENAME_ALL, SERDE, SERIALIZE, SKIP, TAG, UNTAGGED,
};

/// A name given to serde, either once or separately for serializing and deserializing.
#[derive(Clone)]
pub(crate) struct Renamed<T> {
    /// Where the first name was given, for error spans.
    pub(crate) span: Span,
    pub(crate) serialize: Option<T>,
    pub(crate) deserialize: Option<T>,
}

impl<T: PartialEq + Clone> Renamed<T> {
    /// The one name used both ways, or `None` when serializing and deserializing disagree.
    pub(crate) fn agreed(&self) -> Option<T> {
        match (&self.serialize, &self.deserialize) {
            (Some(ser), Some(de)) if ser == de => Some(ser.clone()),
            _ => None,
        }
    }
}

/// The container-level serde settings of an event enum.
#[derive(Default)]
pub(crate) struct SerdeEnum {
    pub(crate) tag: Option<LitStr>,
    pub(crate) content: Option<Path>,
    pub(crate) untagged: Option<Path>,
    pub(crate) rename_all: Option<Renamed<RenameRule>>,
}

/// The variant-level serde settings of one event.
#[derive(Default)]
pub(crate) struct SerdeVariant {
    pub(crate) rename: Option<Renamed<String>>,
    /// `skip`, `skip_serializing`, `skip_deserializing` or `untagged`: the event would not be
    /// stored or read back under a type name.
    pub(crate) unstored: Option<Path>,
}

pub(crate) fn parse_enum(attrs: &[Attribute]) -> SerdeEnum {
    let mut serde = SerdeEnum::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident(SERDE)) {
        let _ignored_for_serde_to_report = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(TAG) {
                serde.tag = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident(CONTENT) {
                serde.content = Some(meta.path.clone());
                skip_value(&meta)?;
            } else if meta.path.is_ident(UNTAGGED) {
                serde.untagged = Some(meta.path.clone());
            } else if meta.path.is_ident(RENAME_ALL) {
                let renamed = parse_renamed(&meta)?;
                serde.rename_all = Some(Renamed {
                    span: renamed.span,
                    serialize: renamed.serialize.and_then(|s| RenameRule::from_name(&s)),
                    deserialize: renamed.deserialize.and_then(|s| RenameRule::from_name(&s)),
                });
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        });
    }
    serde
}

pub(crate) fn parse_variant(attrs: &[Attribute]) -> SerdeVariant {
    let mut serde = SerdeVariant::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident(SERDE)) {
        let _ignored_for_serde_to_report = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(RENAME) {
                serde.rename = Some(parse_renamed(&meta)?);
            } else if SKIP.iter().any(|skip| meta.path.is_ident(skip))
                || meta.path.is_ident(UNTAGGED)
            {
                serde.unstored = Some(meta.path.clone());
                skip_value(&meta)?;
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        });
    }
    serde
}

/// `key = "name"` or `key(serialize = "a", deserialize = "b")`.
fn parse_renamed(meta: &ParseNestedMeta<'_>) -> syn::Result<Renamed<String>> {
    let mut renamed = Renamed {
        span: meta.path.span(),
        serialize: None,
        deserialize: None,
    };
    if meta.input.peek(Token![=]) {
        let name: LitStr = meta.value()?.parse()?;
        renamed.span = name.span();
        renamed.serialize = Some(name.value());
        renamed.deserialize = Some(name.value());
    } else {
        meta.parse_nested_meta(|inner| {
            let name: LitStr = inner.value()?.parse()?;
            renamed.span = name.span();
            let name = name.value();
            if inner.path.is_ident(SERIALIZE) {
                renamed.serialize = Some(name);
            } else if inner.path.is_ident(DESERIALIZE) {
                renamed.deserialize = Some(name);
            }
            Ok(())
        })?;
    }
    Ok(renamed)
}

/// Consumes the value of a key this module does not read: `= expr`, `(..)` or nothing.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<TokenTree>()?;
    }
    Ok(())
}
