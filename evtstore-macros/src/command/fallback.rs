//! What a `#[command]` with errors still emits next to them: the impl block as written, and,
//! when the names are known, the command enum, a stub `CommandSet` and the entry points, so
//! that uses of the command set elsewhere do not fail again.

use proc_macro2::TokenStream;
use quote::quote;

use super::ast::Input;
use super::expand::{self, Mode, Names};

pub(crate) fn expand(input: &Input<'_>, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    let original = input.original;
    let Some(mut names) = Names::of(input).filter(|_| input.original.trait_.is_none()) else {
        return quote!(#errors #original);
    };
    // Named after the state by mistake: the events the commands return are what was meant,
    // and with them the command set's users compile.
    if let Some(returned) = input
        .returned_event()
        .filter(|_| input.event_names_the_state())
    {
        names.event = returned;
    }
    let original = expand::impl_block(input, Mode::Fallback);
    let command_enum = expand::command_enum(input, &names, Mode::Fallback);
    let command_set = expand::command_set_impl(input, &names, false);
    let ext = expand::ext_trait(input, &names, Mode::Fallback);
    quote! {
        #errors
        #original
        #command_enum
        #command_set
        #ext
    }
}
