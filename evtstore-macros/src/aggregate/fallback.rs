//! What a `#[derive(Aggregate)]` with errors still emits next to them: the traits and impls
//! the rest of the crate refers to, so that one mistake is reported once and not again at
//! every use of the aggregate.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Data;

use super::ast::{Input, Shape};
use super::expand;

pub(crate) fn expand(input: &Input<'_>, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    if !matches!(input.original.data, Data::Enum(_)) {
        return errors;
    }
    let ident = input.ident();
    let fold_trait = expand::fold_trait(input);
    let handler_trait = expand::handler_trait(input);
    let handler_name = expand::handler_trait_name(input);
    // serde's derive rejects tuple variants of a tagged enum too; without its impls, stubs
    // of ours would only add errors about missing `Serialize` and `Deserialize`.
    let serde_fails = input.serde.tag.is_some()
        && input
            .variants
            .iter()
            .any(|v| matches!(v.shape, Shape::Tuple));
    let state = input.attrs.state.as_ref().filter(|_| !serde_fails);
    let aggregate = state.map(|state| {
        quote! {
            #[automatically_derived]
            impl ::evtstore::Aggregate for #ident {
                type State = #state;
                const STREAM: &'static str = "";
                const EVENT_TYPES: &'static [&'static str] = &[];
                fn event_type(&self) -> &'static str {
                    ::core::unreachable!()
                }
                fn fold(_: &mut #state, _: &Self) {}
            }

            #[automatically_derived]
            #[diagnostic::do_not_recommend]
            impl<H: #handler_name> ::evtstore::HandledBy<H> for #ident {
                async fn dispatch(
                    _: &H,
                    _: &str,
                    _: &Self,
                    _: &::evtstore::EventMeta,
                ) -> ::evtstore::HandlerResult {
                    ::core::unreachable!()
                }
            }
        }
    });
    quote! {
        #errors
        #fold_trait
        #handler_trait
        const _: () = {
            #aggregate
        };
    }
}
