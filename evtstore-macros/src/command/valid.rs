//! The rules of a `#[command]` impl block, one function per rule; each says why it exists.

use std::collections::HashMap;

use quote::ToTokens;
use syn::{ReceiverKind, Safety, Type};

use super::ast::{Command, Input, is_metadata_param, last_ident};
use crate::ctxt::Ctxt;
use crate::symbol::RUNNER_METHODS;

pub(crate) fn check(cx: &Ctxt, input: &Input<'_>) {
    check_event_given(cx, input);
    check_event_not_state(cx, input);
    check_inherent_impl(cx, input);
    check_has_commands(cx, input);
    for command in &input.commands {
        check_async(cx, command);
        check_plain_fn(cx, command);
        check_receiver(cx, command);
        check_not_generic(cx, command);
        check_aggregate_param(cx, command);
        check_inputs(cx, command);
        check_returns_events_of(cx, input, command);
        check_name_not_shadowed(cx, command);
    }
    check_unique_variants(cx, input);
}

/// The event enum ties the command set to its aggregate; it cannot be inferred from the
/// methods before type checking.
fn check_event_given(cx: &Ctxt, input: &Input<'_>) {
    if input.args.event.is_none() {
        cx.syn_error(syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[command] needs the event enum of the aggregate the commands act on: \
             `#[command(UserEvent)]`",
        ));
    }
}

/// The commands load the state (`&Agg<User>`) and return the events (`UserEvent`); naming
/// the state in `#[command(..)]` would otherwise fail as a `User: Aggregate` bound at every
/// use of the command set.
fn check_event_not_state(cx: &Ctxt, input: &Input<'_>) {
    let Some(event) = input
        .args
        .event
        .as_ref()
        .filter(|_| input.event_names_the_state())
    else {
        return;
    };
    let named = tokens(event);
    let example = input
        .returned_event()
        .map_or_else(|| "UserEvent".to_owned(), tokens);
    cx.error_spanned_by(
        event,
        format!(
            "`{named}` is the state the commands load as `&Agg<{named}>`: #[command] names the \
             event enum, the one that derives `Aggregate`, as in `#[command({example})]`"
        ),
    );
}

/// The macro implements `CommandSet` for the self type and names the generated items after
/// it, so it needs a plain inherent impl of a named type.
fn check_inherent_impl(cx: &Ctxt, input: &Input<'_>) {
    let original = input.original;
    if let Some((path, _)) = &original.trait_ {
        cx.error_spanned_by(
            path,
            "#[command] goes on an inherent impl block, `impl UserCommands { .. }`, not on a \
             trait impl",
        );
    } else if input.self_ident.is_none() {
        cx.error_spanned_by(
            &original.self_ty,
            "#[command] needs an impl block of a named type, such as `impl UserCommands { .. }`",
        );
    }
    if let Some(unsafety) = original.unsafety {
        cx.error_spanned_by(unsafety, "a command impl block cannot be `unsafe`");
    }
}

/// An impl block without commands generates nothing useful: it is most likely a mistake.
fn check_has_commands(cx: &Ctxt, input: &Input<'_>) {
    if input.commands.is_empty() && input.original.trait_.is_none() {
        cx.error_spanned_by(
            &input.original.self_ty,
            "this impl block has no command: a command is an `async fn` taking `&self` and \
             the aggregate",
        );
    }
}

/// Deciding may need to await other aggregates or services, and the runner awaits it.
fn check_async(cx: &Ctxt, command: &Command<'_>) {
    let sig = &command.original.sig;
    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            format!(
                "command `{}` must be an `async fn`; methods that are not commands belong in \
                 another impl block",
                command.ident
            ),
        );
    }
}

/// The runner calls every command the same way; const, unsafe and extern functions cannot be
/// called like that.
fn check_plain_fn(cx: &Ctxt, command: &Command<'_>) {
    let sig = &command.original.sig;
    if let Some(constness) = sig.constness {
        cx.error_spanned_by(constness, "a command cannot be `const`");
    }
    if let Safety::Unsafe(unsafety) = sig.safety {
        cx.error_spanned_by(unsafety, "a command cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(abi, "a command cannot have an `extern` ABI");
    }
}

/// The command set is shared by every concurrent command: it is only ever borrowed.
fn check_receiver(cx: &Ctxt, command: &Command<'_>) {
    match command.original.sig.receiver() {
        None => cx.syn_error(syn::Error::new(
            command.span(),
            format!(
                "command `{}` must take `&self` first: `async fn {}(&self, aggregate: &Agg<State>, ..)`",
                command.ident, command.ident
            ),
        )),
        Some(receiver) => {
            let shared = matches!(&receiver.kind, ReceiverKind::Reference(_, _, None))
                && receiver.mutability.is_none();
            if !shared {
                cx.error_spanned_by(
                    receiver,
                    format!(
                        "command `{}` must take `&self`: the command set is shared by all \
                         commands running at once",
                        command.ident
                    ),
                );
            }
        }
    }
}

/// A command's inputs become fields of the serializable command enum, which has no type
/// parameters.
fn check_not_generic(cx: &Ctxt, command: &Command<'_>) {
    let generics = &command.original.sig.generics;
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        cx.error_spanned_by(
            generics,
            format!(
                "command `{}` cannot be generic: its inputs become fields of the command enum",
                command.ident
            ),
        );
    }
}

/// Every command decides on the aggregate as loaded; it comes right after `&self`.
fn check_aggregate_param(cx: &Ctxt, command: &Command<'_>) {
    let ident = command.ident;
    match command.aggregate {
        None => cx.syn_error(syn::Error::new(
            command.span(),
            format!(
                "command `{ident}` has no aggregate parameter: add it after `&self`, as in \
                 `async fn {ident}(&self, aggregate: &Agg<State>, ..)`"
            ),
        )),
        Some(aggregate) => {
            let by_shared_ref =
                matches!(&*aggregate.ty, Type::Reference(r) if r.mutability.is_none());
            if !by_shared_ref {
                cx.error_spanned_by(
                    &aggregate.ty,
                    format!(
                        "the parameter after `&self` is the aggregate and is borrowed: write \
                         `&Agg<State>`, not `{}`; the command's inputs come after it",
                        tokens(&aggregate.ty)
                    ),
                );
            }
        }
    }
}

/// Inputs become fields of the command enum: each needs a name, and an owned type that can be
/// deserialized from a command arriving over HTTP or a queue.
fn check_inputs(cx: &Ctxt, command: &Command<'_>) {
    for input in &command.inputs {
        if input.name.is_none() {
            cx.error_spanned_by(
                &input.original.pat,
                "a command input needs a plain name: it becomes a field of the command enum",
            );
        }
        match input.ty {
            Type::Reference(_) if is_metadata_param(input.original) => cx.error_spanned_by(
                input.original,
                "a command takes at most one `&Metadata` parameter",
            ),
            Type::Reference(_) => cx.error_spanned_by(
                input.ty,
                format!(
                    "command input `{}` must be an owned type, not a reference: it becomes a \
                     field of the command enum",
                    tokens(&input.original.pat)
                ),
            ),
            Type::ImplTrait(_) | Type::Infer(_) => cx.error_spanned_by(
                input.ty,
                "a command input needs a concrete type: it becomes a field of the command enum",
            ),
            _ => {}
        }
    }
}

/// A command returns `CommandResult` of the impl's event enum. Aliases and other spellings
/// are left to the type checker, which reports them at the return type.
fn check_returns_events_of(cx: &Ctxt, input: &Input<'_>, command: &Command<'_>) {
    let Some(event) = &input.args.event else {
        return;
    };
    if command.output.is_none() {
        cx.syn_error(syn::Error::new(
            command.span(),
            format!(
                "command `{}` has no return type: it returns `CommandResult<{}>`",
                command.ident,
                tokens(event)
            ),
        ));
        return;
    }
    // Naming the state is reported once, by `check_event_not_state`, not again here for
    // every command returning the events.
    if input.event_names_the_state() {
        return;
    }
    let Some(returned) = command.returned_event() else {
        return;
    };
    if last_ident(returned) != last_ident(event) {
        cx.error_spanned_by(
            returned,
            format!(
                "command `{}` returns events of `{}`, but the commands of this impl act on `{}`",
                command.ident,
                tokens(returned),
                tokens(event)
            ),
        );
    }
}

/// `Commands` has inherent methods of these names; `users.load(..)` would call them and
/// never the command.
fn check_name_not_shadowed(cx: &Ctxt, command: &Command<'_>) {
    let name = command.ident.to_string();
    if RUNNER_METHODS.contains(&name.as_str()) {
        cx.syn_error(syn::Error::new(
            command.span(),
            format!(
                "a command cannot be named `{name}`: `Commands::{name}` already exists and would \
                 be called instead"
            ),
        ));
    }
}

/// Each command is one variant of the command enum.
fn check_unique_variants(cx: &Ctxt, input: &Input<'_>) {
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    for command in &input.commands {
        let Some(variant) = &command.variant else {
            cx.syn_error(syn::Error::new(
                command.span(),
                format!("command `{}` has no usable variant name", command.ident),
            ));
            continue;
        };
        let name = variant.to_string();
        match seen.get(&name) {
            Some(first) => cx.syn_error(syn::Error::new(
                command.span(),
                format!(
                    "commands `{first}` and `{}` would both be the variant `{name}` of the \
                     command enum: rename one of them",
                    command.ident
                ),
            )),
            None => {
                seen.insert(name, command.ident);
            }
        }
    }
}

fn tokens(node: &impl ToTokens) -> String {
    node.to_token_stream()
        .to_string()
        .replace(" < ", "<")
        .replace(" >", ">")
        .replace("& ", "&")
        .replace(" :: ", "::")
}
