//! `#[derive(Aggregate)]`: parse, validate, then expand or fall back.

mod ast;
mod expand;
mod fallback;
mod valid;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ctxt::Ctxt;

pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let parsed = ast::Input::from_syn(&cx, input);
    valid::check(&cx, &parsed);
    match (cx.finish(), &parsed.attrs.state, &parsed.attrs.stream) {
        (None, Some(state), Some(stream)) => expand::derive(&parsed, state, stream),
        (Some(error), _, _) => fallback::expand(&parsed, &error),
        // Validation reports a missing state or stream; this arm is never reached.
        (None, _, _) => TokenStream::new(),
    }
}

#[cfg(test)]
mod tests;
