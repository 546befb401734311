//! Generates the code of a valid `#[command]` input: the impl block as written, the command
//! enum, `impl CommandSet` and the extension trait with the typed entry points.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Type, Visibility};

use super::ast::{Command, Input, is_field_attr, last_ident};

/// Everything the expansion needs that validation has made sure of.
pub(crate) struct Names<'a> {
    pub(crate) event: &'a Type,
    pub(crate) enum_ident: Ident,
    pub(crate) ext_ident: Ident,
    pub(crate) vis: Visibility,
}

impl<'a> Names<'a> {
    pub(crate) fn of(input: &'a Input<'_>) -> Option<Self> {
        Some(Names {
            event: input.args.event.as_ref()?,
            enum_ident: input.enum_ident()?,
            ext_ident: input.ext_ident()?,
            vis: input
                .args
                .vis
                .clone()
                .unwrap_or_else(|| syn::parse_quote!(pub)),
        })
    }
}

/// Which expansion the command enum and the entry points are for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A valid input: the enum derives serde and the entry points execute it.
    Valid,
    /// An input with errors: the enum and the entry points keep every parameter as written, so
    /// that callers compile against them, and do nothing, so that their bodies cannot fail.
    Fallback,
}

fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

fn docs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident("doc"))
}

/// Commands whose shape the expansion can use (all of them, once validation passed).
fn usable<'b, 'a>(input: &'b Input<'a>) -> impl Iterator<Item = (&'b Command<'a>, &'b Ident)> {
    input
        .commands
        .iter()
        .filter_map(|command| command.variant.as_ref().map(|variant| (command, variant)))
}

/// One input of a command: a field of its variant and a parameter of its entry point.
struct Field<'a> {
    name: Ident,
    /// The field's type; `None` for an input that cannot be a field (`impl Trait`).
    field_ty: Option<Type>,
    /// The entry point's parameter type, as written.
    param_ty: &'a Type,
    /// The attributes the field carries over from its parameter.
    attrs: Vec<&'a Attribute>,
    /// Whether serde is told to check the field's type (`serde_checks`).
    checked: bool,
}

/// The inputs of a command. Once validation passed, these are its parameters after the
/// aggregate. In the fallback they are the parameters as written, even refused ones, so that
/// a refused parameter is reported once, at the parameter, and not again at every call site
/// as an argument too many.
fn fields<'a>(command: &Command<'a>, mode: Mode) -> Vec<Field<'a>> {
    match mode {
        Mode::Valid => command
            .inputs
            .iter()
            .filter_map(|input| {
                let (name, ty) = input.field()?;
                Some(Field {
                    name: name.clone(),
                    field_ty: Some(ty.clone()),
                    param_ty: ty,
                    attrs: input.field_attrs.clone(),
                    checked: !input.serde_sets_any(&OWN_WITH),
                })
            })
            .collect(),
        Mode::Fallback => command
            .written_inputs()
            .into_iter()
            .enumerate()
            .filter(|(_, input)| !matches!(input.ty, Type::Infer(_)))
            .map(|(index, input)| Field {
                name: input
                    .name
                    .clone()
                    .unwrap_or_else(|| format_ident!("input{index}")),
                field_ty: fallback_field_type(input.ty),
                param_ty: input.ty,
                attrs: input
                    .field_attrs
                    .iter()
                    .copied()
                    .filter(|attr| attr.path().is_ident("doc"))
                    .collect(),
                checked: false,
            })
            .collect(),
    }
}

/// The command enum derives `Serialize` and `Deserialize`, and serde reports a field type
/// without them as a wall of trait bounds inside its generated code. Routed through
/// `serialize_with` and `deserialize_with` functions bounded by traits with one message
/// each (`input_checks`), a missing impl reads as one sentence on the input's type: the
/// strings' span is where serde points the calls it makes of them.
///
/// Left out where they would change what the field does: where the parameter has its own
/// `with`, and for an `Option`, which serde reads as `None` when the field is missing but a
/// `deserialize_with` field would refuse. (A type alias of `Option` is not recognised here;
/// the check is then only a cleaner error, never a change of behaviour, as long as it is
/// spelled `Option`.)
fn serde_checks(ty: &Type, enum_ident: &Ident) -> TokenStream {
    let span = ty.span();
    // Named by the enum's name, not `Self`: serde calls them from impls of its own types.
    let serialize = syn::LitStr::new(&format!("{enum_ident}::__serialize_input"), span);
    let is_option = last_ident(ty).is_some_and(|ident| ident == "Option");
    let deserialize =
        (!is_option).then(|| syn::LitStr::new(&format!("{enum_ident}::__deserialize_input"), span));
    let deserialize = deserialize.map(|path| quote!(, deserialize_with = #path));
    quote!(#[serde(serialize_with = #serialize #deserialize)])
}

/// The serde keys with which a parameter brings its own (de)serializing: `serde_checks`
/// leaves those fields alone.
const OWN_WITH: [&str; 3] = ["with", "serialize_with", "deserialize_with"];

/// The functions and traits `serde_checks` names: hidden inherent functions of the command
/// enum, private to its module.
fn input_checks(enum_ident: &Ident) -> TokenStream {
    let serde = quote!(::evtstore::__private::serde);
    quote! {
        const _: () = {
            #[diagnostic::on_unimplemented(
                message = "command input `{Self}` must be `Serialize`: it is a field of the command enum, which derives it",
                label = "not `Serialize`",
                note = "derive `serde::Serialize` for `{Self}`, or take an input of another type"
            )]
            trait SerializableInput: #serde::Serialize {}

            #[diagnostic::do_not_recommend]
            impl<T: #serde::Serialize + ?::core::marker::Sized> SerializableInput for T {}

            #[diagnostic::on_unimplemented(
                message = "command input `{Self}` must be `Deserialize`: it is a field of the command enum, which derives it",
                label = "not `Deserialize`",
                note = "derive `serde::Deserialize` for `{Self}`, or take an input of another type"
            )]
            trait DeserializableInput: #serde::de::DeserializeOwned {}

            #[diagnostic::do_not_recommend]
            impl<T: #serde::de::DeserializeOwned> DeserializableInput for T {}

            #[automatically_derived]
            impl #enum_ident {
                #[allow(dead_code)]
                fn __serialize_input<T: SerializableInput + ?::core::marker::Sized, S: #serde::Serializer>(
                    value: &T,
                    serializer: S,
                ) -> ::core::result::Result<S::Ok, S::Error> {
                    #serde::Serialize::serialize(value, serializer)
                }

                #[allow(dead_code)]
                fn __deserialize_input<'de, T: DeserializableInput, D: #serde::Deserializer<'de>>(
                    deserializer: D,
                ) -> ::core::result::Result<T, D::Error> {
                    <T as #serde::Deserialize<'de>>::deserialize(deserializer)
                }
            }
        };
    }
}

/// A type that a field of the fallback enum can have for a parameter of type `ty`: a
/// borrowed input is kept as a `'static` borrow, so that the variant keeps its field.
fn fallback_field_type(ty: &Type) -> Option<Type> {
    match ty {
        Type::Reference(reference) => {
            let mut borrowed = reference.clone();
            borrowed.lifetime = Some(syn::Lifetime::new("'static", Span::call_site()));
            Some(Type::Reference(borrowed))
        }
        Type::ImplTrait(_) => None,
        other => Some(other.clone()),
    }
}

/// The impl block as written, with `async` commands that await nothing allowed: `async` is
/// what makes them commands. In the fallback, `mut self` is allowed too: its refusal already
/// says to take `&self`.
pub(crate) fn impl_block(input: &Input<'_>, mode: Mode) -> TokenStream {
    let mut block = input.original.clone();
    for item in &mut block.items {
        if let syn::ImplItem::Fn(method) = item
            && method.sig.asyncness.is_some()
        {
            method
                .attrs
                .push(syn::parse_quote!(#[allow(clippy::unused_async)]));
            if mode == Mode::Fallback {
                method.attrs.push(syn::parse_quote!(#[allow(unused_mut)]));
            }
            for arg in &mut method.sig.inputs {
                if let syn::FnArg::Typed(param) = arg {
                    param.attrs.retain(|attr| !is_field_attr(attr));
                }
            }
        }
    }
    quote!(#block)
}

pub(crate) fn expand(input: &Input<'_>, names: &Names<'_>) -> TokenStream {
    let original = impl_block(input, Mode::Valid);
    let command_enum = command_enum(input, names, Mode::Valid);
    let command_set = command_set_impl(input, names, true);
    let ext = ext_trait(input, names, Mode::Valid);
    quote! {
        #original
        #command_enum
        #command_set
        #ext
    }
}

pub(crate) fn command_enum(input: &Input<'_>, names: &Names<'_>, mode: Mode) -> TokenStream {
    let Names {
        enum_ident, vis, ..
    } = names;
    let self_name = input
        .self_ident
        .map(ToString::to_string)
        .unwrap_or_default();
    let variants = usable(input).map(|(command, variant)| {
        let method = command.ident;
        let mut doc: Vec<&Attribute> = docs(&command.original.attrs).collect();
        let fallback = format!(" The `{method}` command of `{self_name}`.");
        let fallback: Attribute = syn::parse_quote!(#[doc = #fallback]);
        if doc.is_empty() {
            doc.push(&fallback);
        }
        let fields: Vec<TokenStream> = fields(command, mode)
            .into_iter()
            .filter_map(|field| {
                let Field {
                    name,
                    attrs,
                    field_ty,
                    checked,
                    ..
                } = field;
                let ty = field_ty?;
                let serde_checks = checked.then(|| serde_checks(&ty, enum_ident));
                let has_doc = attrs.iter().any(|attr| attr.path().is_ident("doc"));
                let field_doc = format!(" Input `{name}` of the command.");
                let field_doc = (!has_doc).then(|| quote!(#[doc = #field_doc]));
                Some(quote! {
                    #field_doc
                    #(#attrs)*
                    #serde_checks
                    #name: #ty
                })
            })
            .collect();
        let is_unit = fields.is_empty();
        if is_unit {
            quote!(#(#doc)* #variant)
        } else {
            quote!(#(#doc)* #variant { #(#fields),* })
        }
    });
    let doc = format!(
        " The commands of `{self_name}`, one variant per command method; generated by\n \
         `#[command]`.\n\n In JSON a command names its variant in a `type` field, with variant \
         and field names in\n camelCase: `{{\"type\": \"createPost\", \"userId\": \"alice\"}}`. \
         Execute one with\n `Commands::execute`."
    );
    let serde = match mode {
        Mode::Valid => quote! {
            #[derive(
                ::evtstore::__private::serde::Serialize,
                ::evtstore::__private::serde::Deserialize,
            )]
            #[serde(
                crate = "::evtstore::__private::serde",
                tag = "type",
                rename_all = "camelCase",
                rename_all_fields = "camelCase"
            )]
        },
        Mode::Fallback => TokenStream::new(),
    };
    let serde_impls = match mode {
        Mode::Valid => input_checks(enum_ident),
        Mode::Fallback => serde_stubs(enum_ident),
    };
    // The `type` each variant has in JSON, as serde's `rename_all = "camelCase"` spells it,
    // so that a service can tell an unknown command from a malformed one and list the known.
    let types = usable(input).map(|(_, variant)| {
        crate::case::RenameRule::Camel
            .apply_to_variant(variant.to_string().trim_start_matches("r#"))
    });
    let types_doc =
        format!(" The `type` of each command of `{self_name}` in JSON, in declaration order.");
    quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug)]
        #serde
        #vis enum #enum_ident {
            #(#variants,)*
        }
        #[automatically_derived]
        impl #enum_ident {
            #[doc = #types_doc]
            #vis const TYPES: &'static [&'static str] = &[#(#types),*];
        }
        #serde_impls
    }
}

/// The fallback's serde impls: they bound nothing, so a field type that serde could not
/// handle is not reported on top of the mistake that made the input fall back.
fn serde_stubs(enum_ident: &Ident) -> TokenStream {
    let serde = quote!(::evtstore::__private::serde);
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #serde::Serialize for #enum_ident {
                fn serialize<S: #serde::Serializer>(
                    &self,
                    serializer: S,
                ) -> ::core::result::Result<S::Ok, S::Error> {
                    let _ = serializer;
                    ::core::unreachable!()
                }
            }

            #[automatically_derived]
            impl<'de> #serde::Deserialize<'de> for #enum_ident {
                fn deserialize<D: #serde::Deserializer<'de>>(
                    deserializer: D,
                ) -> ::core::result::Result<Self, D::Error> {
                    let _ = deserializer;
                    ::core::unreachable!()
                }
            }
        };
    }
}

/// `impl CommandSet`: routes each variant to its method. Without `route`, the decision is a
/// stub (for the fallback).
pub(crate) fn command_set_impl(input: &Input<'_>, names: &Names<'_>, route: bool) -> TokenStream {
    let Names {
        event, enum_ident, ..
    } = names;
    let self_ty = &input.original.self_ty;
    let (impl_generics, _, where_clause) = input.original.generics.split_for_impl();
    let aggregate = local("aggregate");
    let command_var = local("command");
    let metadata = local("metadata");
    let arms = usable(input).map(|(command, variant)| {
        let method = command.ident;
        let fields: Vec<Ident> = fields(command, Mode::Valid)
            .into_iter()
            .map(|field| field.name)
            .collect();
        // The method's arguments after the aggregate: the fields, cloned out of the command,
        // with the metadata where the method takes it.
        let mut args: Vec<TokenStream> = fields
            .iter()
            .map(|field| quote!(::core::clone::Clone::clone(#field)))
            .collect();
        if let Some((index, param)) = command.metadata {
            let given = quote_spanned! {param.ty.span()=>
                ::evtstore::__private::metadata_param(#metadata)
            };
            args.insert(index.min(args.len()), given);
        }
        // Checked through `__private` traits spanned at the user's tokens: a wrong aggregate
        // type reads as one error at the parameter, a wrong return type at the return type.
        let aggregate_arg = match command.aggregate.map(|param| &*param.ty) {
            Some(Type::Reference(param)) => {
                let loaded = &param.elem;
                quote_spanned! {param.elem.span()=>
                    ::evtstore::__private::aggregate_of::<#event, #loaded>(#aggregate)
                }
            }
            _ => quote!(#aggregate),
        };
        let call_span = command.output.map_or_else(|| command.span(), Spanned::span);
        let call = quote_spanned! {call_span=>
            ::evtstore::__private::decided::<#event, _>(
                Self::#method(self, #aggregate_arg #(, #args)*).await
            )
        };
        if fields.is_empty() {
            quote!(#enum_ident::#variant => #call)
        } else {
            quote!(#enum_ident::#variant { #(#fields),* } => #call)
        }
    });
    // The method's name stands for the command in the `evtstore.command` span.
    let name_arms = usable(input).map(|(command, variant)| {
        let name = command.ident.to_string();
        quote!(#enum_ident::#variant { .. } => #name)
    });
    let command_name = route.then(|| {
        quote! {
            fn command_name(&self, #command_var: &#enum_ident) -> ::core::option::Option<&'static str> {
                ::core::option::Option::Some(match #command_var {
                    #(#name_arms,)*
                })
            }
        }
    });
    let body = if route {
        quote! {
            match #command_var {
                #(#arms,)*
            }
        }
    } else {
        quote! {
            let _ = (#aggregate, #command_var, #metadata);
            ::core::unimplemented!()
        }
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics ::evtstore::CommandSet for #self_ty #where_clause {
            type Aggregate = #event;
            type Command = #enum_ident;

            async fn decide(
                &self,
                #aggregate: &::evtstore::Agg<<#event as ::evtstore::Aggregate>::State>,
                #command_var: &#enum_ident,
            ) -> ::evtstore::CommandResult<#event> {
                <Self as ::evtstore::CommandSet>::decide_with(
                    self,
                    #aggregate,
                    #command_var,
                    &::evtstore::Metadata::default(),
                )
                .await
            }

            async fn decide_with(
                &self,
                #aggregate: &::evtstore::Agg<<#event as ::evtstore::Aggregate>::State>,
                #command_var: &#enum_ident,
                #metadata: &::evtstore::Metadata,
            ) -> ::evtstore::CommandResult<#event> {
                #body
            }

            #command_name
        }
    }
}

/// The typed entry points: `users.create("alice", name)` executes `UserCommand::Create`.
pub(crate) fn ext_trait(input: &Input<'_>, names: &Names<'_>, mode: Mode) -> TokenStream {
    let Names {
        event,
        enum_ident,
        ext_ident,
        vis,
    } = names;
    let self_ty = &input.original.self_ty;
    let self_name = input
        .self_ident
        .map(ToString::to_string)
        .unwrap_or_default();
    let aggregate_id = local("aggregate_id");
    // The state is named through an associated type, so the trait's signatures mention no
    // user type but the inputs: a `pub` trait over `pub(crate)` events stays warning-free.
    let output = quote! {
        ::core::result::Result<::evtstore::Agg<Self::State>, ::evtstore::Error>
    };
    let signatures: Vec<(TokenStream, TokenStream)> = usable(input)
        .map(|(command, variant)| {
            let method = command.ident;
            let (fields, types): (Vec<Ident>, Vec<&Type>) = fields(command, mode)
                .into_iter()
                .map(|field| (field.name, field.param_ty))
                .unzip();
            let params = quote!(&self, #aggregate_id: &str #(, #fields: #types)*);
            let construct = if fields.is_empty() {
                quote!(#enum_ident::#variant)
            } else {
                quote!(#enum_ident::#variant { #(#fields),* })
            };
            let doc = docs(&command.original.attrs);
            let summary = format!(
                " Executes [`{enum_ident}::{variant}`] on the aggregate `aggregate_id` and returns \
                 the aggregate\n after it.\n\n # Errors\n As `Commands::execute`: the command's \
                 refusal, a version conflict that\n outlasted the retries, or the store's errors."
            );
            let declaration = quote! {
                #(#doc)*
                #[doc = ""]
                #[doc = #summary]
                fn #method(#params)
                    -> impl ::core::future::Future<Output = #output> + ::core::marker::Send;
            };
            let definition = match mode {
                Mode::Valid => quote! {
                    async fn #method(#params) -> #output {
                        ::evtstore::Commands::execute(self, #aggregate_id, &#construct).await
                    }
                },
                // Not an `async fn`: its future would hold the parameters as written, which
                // need not be `Send`.
                Mode::Fallback => quote! {
                    fn #method(#params)
                        -> impl ::core::future::Future<Output = #output> + ::core::marker::Send
                    {
                        let _ = (#aggregate_id, #(#fields,)*);
                        ::core::future::pending()
                    }
                },
            };
            (declaration, definition)
        })
        .collect();
    let declarations = signatures.iter().map(|(declaration, _)| declaration);
    let definitions = signatures.iter().map(|(_, definition)| definition);
    let mut generics = input.original.generics.clone();
    let store = Ident::new("__Store", Span::call_site());
    generics
        .params
        .push(syn::parse_quote!(#store: ::evtstore::Store));
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let doc = format!(
        " Typed entry points for the commands of `{self_name}`, on the `Commands` that\n \
         `Domain::commands` returns; generated by `#[command]`. Bring it into scope to call\n \
         them: `users.create(\"alice\", ..)`."
    );
    quote! {
        #[doc = #doc]
        #vis trait #ext_ident {
            /// The state of the aggregate the commands act on.
            type State;

            #(#declarations)*
        }

        #[automatically_derived]
        impl #impl_generics #ext_ident for ::evtstore::Commands<#store, #self_ty> #where_clause {
            type State = <#event as ::evtstore::Aggregate>::State;

            #(#definitions)*
        }
    }
}
