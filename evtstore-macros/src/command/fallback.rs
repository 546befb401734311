//! What a `#[command]` with errors still emits next to them: the impl block as written, and,
//! when the names are known, the command enum, a stub `CommandSet` and the entry points, so
//! that uses of the command set elsewhere do not fail again.

use proc_macro2::TokenStream;
use quote::quote;

use super::ast::Input;
use super::expand::{self, Names};

pub(crate) fn expand(input: &Input<'_>, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    let original = input.original;
    let Some(names) = Names::of(input).filter(|_| input.original.trait_.is_none()) else {
        return quote!(#errors #original);
    };
    let original = expand::impl_block(input);
    let command_enum = expand::command_enum(input, &names);
    let command_set = expand::command_set_impl(input, &names, false);
    let ext = expand::ext_trait(input, &names);
    quote! {
        #errors
        #original
        #command_enum
        #command_set
        #ext
    }
}
