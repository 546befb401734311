//! `#[command]`: parse, validate, then expand or fall back.

mod ast;
mod expand;
mod fallback;
mod valid;

use proc_macro2::TokenStream;
use quote::quote;
use syn::Item;

use crate::ctxt::Ctxt;

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let item = match syn::parse2::<Item>(input.clone()) {
        Ok(item) => item,
        Err(error) => {
            let error = error.to_compile_error();
            return quote!(#error #input);
        }
    };
    let Item::Impl(original) = &item else {
        let error = syn::Error::new_spanned(
            not_impl_span(&item),
            "#[command] goes on an impl block whose `async fn`s are the commands, \
             `#[command(UserEvent)] impl UserCommands { .. }`",
        )
        .to_compile_error();
        return quote!(#error #item);
    };
    let cx = Ctxt::new();
    let args = ast::Args::parse(&cx, args);
    let parsed = ast::Input::from_syn(args, original);
    valid::check(&cx, &parsed);
    match (cx.finish(), expand::Names::of(&parsed)) {
        (None, Some(names)) => expand::expand(&parsed, &names),
        (Some(error), _) => fallback::expand(&parsed, &error),
        // Validation reports what is missing; this arm is never reached.
        (None, None) => quote!(#original),
    }
}

/// The tokens an error about a misplaced `#[command]` underlines: the item's signature.
fn not_impl_span(item: &Item) -> TokenStream {
    match item {
        Item::Fn(function) => {
            let sig = &function.sig;
            quote!(#sig)
        }
        other => quote!(#other),
    }
}

#[cfg(test)]
mod tests;
