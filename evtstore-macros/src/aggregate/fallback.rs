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
    let projection_trait = expand::projection_trait(input);
    let locals = expand::Locals::new();
    let stub = |reader| {
        let header = expand::reader_impl_header(input, reader);
        let signature = expand::reader_signature(reader, &locals);
        quote! {
            #header {
                #[allow(unused_variables)]
                #signature {
                    ::core::unreachable!()
                }
            }
        }
    };
    let handled_by = stub(expand::Reader::Handler);
    let projected_by = stub(expand::Reader::Projection);
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

            #handled_by
            #projected_by
        }
    });
    quote! {
        #errors
        #fold_trait
        #handler_trait
        #projection_trait
        const _: () = {
            #aggregate
        };
    }
}
