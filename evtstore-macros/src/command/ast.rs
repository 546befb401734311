//! The typed model of a `#[command(Event)] impl Commands { .. }` input. It borrows from the
//! syn tree and keeps the original nodes for error spans; parsing is best effort and reports
//! into the [`Ctxt`].

use proc_macro2::{Ident, Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::{
    FnArg, GenericArgument, ImplItem, ImplItemFn, ItemImpl, Pat, PatType, PathArguments,
    ReturnType, Token, Type, Visibility,
};

use crate::case;
use crate::ctxt::Ctxt;
use crate::symbol::{COMMAND_NAME, COMMAND_VIS, SERDE};

/// The attribute's arguments: `#[command(UserEvent, name = UserCommand, vis = pub(crate))]`.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) event: Option<Type>,
    pub(crate) name: Option<Ident>,
    pub(crate) vis: Option<Visibility>,
}

pub(crate) struct Input<'a> {
    pub(crate) original: &'a ItemImpl,
    pub(crate) args: Args,
    /// The name of the impl's self type, when it is a path: `UserCommands`.
    pub(crate) self_ident: Option<&'a Ident>,
    pub(crate) commands: Vec<Command<'a>>,
}

/// One command method.
pub(crate) struct Command<'a> {
    pub(crate) original: &'a ImplItemFn,
    pub(crate) ident: &'a Ident,
    /// The command enum's variant: `create_post` -> `CreatePost`.
    pub(crate) variant: Option<Ident>,
    /// The parameter after `&self`, which receives the loaded aggregate.
    pub(crate) aggregate: Option<&'a PatType>,
    /// The parameters after the aggregate: the command's inputs.
    pub(crate) inputs: Vec<CommandInput<'a>>,
    /// The first parameter after the aggregate typed `&Metadata`, which receives the metadata
    /// the command was executed with, and its place among the inputs (how many come before
    /// it). It is not an input: the command enum has no field for it.
    pub(crate) metadata: Option<(usize, &'a PatType)>,
    pub(crate) output: Option<&'a Type>,
}

pub(crate) struct CommandInput<'a> {
    pub(crate) original: &'a PatType,
    /// `#[serde(..)]` and doc attributes of the parameter, moved to the enum's field.
    pub(crate) field_attrs: Vec<&'a syn::Attribute>,
    /// The field name: the parameter's name without `mut`; `None` for a pattern.
    pub(crate) name: Option<Ident>,
    pub(crate) ty: &'a Type,
}

impl Args {
    pub(crate) fn parse(cx: &Ctxt, args: TokenStream) -> Self {
        let mut parsed = Args::default();
        let parser = |input: ParseStream<'_>| -> syn::Result<()> {
            if input.is_empty() {
                return Ok(());
            }
            parsed.event = Some(input.parse()?);
            while !input.is_empty() {
                input.parse::<Token![,]>()?;
                if input.is_empty() {
                    break;
                }
                let key: Ident = input.parse()?;
                input.parse::<Token![=]>()?;
                if key == COMMAND_NAME {
                    parsed.name = Some(input.parse()?);
                } else if key == COMMAND_VIS {
                    parsed.vis = Some(input.parse()?);
                } else {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown #[command] argument `{key}`: expected `name` or `vis`"),
                    ));
                }
            }
            Ok(())
        };
        if let Err(error) = parser.parse2(args) {
            cx.syn_error(error);
        }
        parsed
    }
}

impl<'a> Input<'a> {
    pub(crate) fn from_syn(args: Args, original: &'a ItemImpl) -> Self {
        let self_ident = match &*original.self_ty {
            Type::Path(path) if path.qself.is_none() => {
                path.path.segments.last().map(|segment| &segment.ident)
            }
            _ => None,
        };
        let commands = original
            .items
            .iter()
            .filter_map(|item| match item {
                ImplItem::Fn(method) if is_command(method) => Some(Command::from_syn(method)),
                _ => None,
            })
            .collect();
        Input {
            original,
            args,
            self_ident,
            commands,
        }
    }

    /// The command enum: `UserCommands` -> `UserCommand`, `Users` -> `UsersCommand`, or the
    /// `name` argument.
    pub(crate) fn enum_ident(&self) -> Option<Ident> {
        if let Some(name) = &self.args.name {
            return Some(name.clone());
        }
        let base = self.self_ident?;
        let text = base.to_string();
        let name = match text.strip_suffix('s') {
            Some(singular) if text.ends_with("Commands") => singular.to_owned(),
            _ => format!("{text}Command"),
        };
        Some(Ident::new(&name, base.span()))
    }

    /// The event enum that the commands' return types name, `CommandResult<UserEvent>`, when
    /// they all name the same one.
    pub(crate) fn returned_event(&self) -> Option<&'a Type> {
        let mut returned = self.commands.iter().filter_map(Command::returned_event);
        let first = returned.next()?;
        let text = quote::ToTokens::to_token_stream(first).to_string();
        returned
            .all(|other| quote::ToTokens::to_token_stream(other).to_string() == text)
            .then_some(first)
    }

    /// Whether `#[command(..)]` names the state that the commands load as `&Agg<State>`
    /// rather than the event enum: the two are easily confused, and only the enum implements
    /// `Aggregate`.
    pub(crate) fn event_names_the_state(&self) -> bool {
        let Some(event) = self.args.event.as_ref().and_then(last_ident) else {
            return false;
        };
        self.commands
            .iter()
            .filter_map(Command::loaded_state)
            .any(|state| last_ident(state) == Some(event))
    }

    /// The extension trait with the typed entry points: `UserCommands` -> `UserCommandsExt`.
    pub(crate) fn ext_ident(&self) -> Option<Ident> {
        let base = self.self_ident?;
        Some(Ident::new(&format!("{base}Ext"), base.span()))
    }
}

/// A method is a command when it is `async` or takes `self`: a non-async method with `self`
/// is reported as a command that forgot `async`, rather than silently left out. Associated
/// functions such as `fn new() -> Self` pass through untouched.
fn is_command(method: &ImplItemFn) -> bool {
    method.sig.asyncness.is_some() || method.sig.receiver().is_some()
}

impl<'a> Command<'a> {
    fn from_syn(original: &'a ImplItemFn) -> Self {
        let sig = &original.sig;
        let mut typed = sig.inputs.iter().filter_map(|arg| match arg {
            FnArg::Typed(typed) => Some(typed),
            FnArg::Receiver(_) => None,
        });
        let aggregate = typed.next();
        let mut metadata = None;
        let mut inputs = Vec::new();
        for param in typed {
            if metadata.is_none() && is_metadata_param(param) {
                metadata = Some((inputs.len(), param));
            } else {
                inputs.push(CommandInput::from_syn(param));
            }
        }
        let output = match &sig.output {
            ReturnType::Type(_, ty) => Some(&**ty),
            ReturnType::Default => None,
        };
        let name = sig.ident.to_string();
        let variant = case::ident(
            &case::variant_name(name.trim_start_matches("r#")),
            sig.ident.span(),
        );
        Command {
            original,
            ident: &sig.ident,
            variant,
            aggregate,
            inputs,
            metadata,
            output,
        }
    }

    /// `E` of a return type written `CommandResult<E>`.
    pub(crate) fn returned_event(&self) -> Option<&'a Type> {
        let Some(Type::Path(path)) = self.output else {
            return None;
        };
        let last = path.path.segments.last()?;
        if last.ident != "CommandResult" {
            return None;
        }
        match &last.arguments {
            PathArguments::AngleBracketed(args) => match args.args.first()? {
                GenericArgument::Type(returned) => Some(returned),
                _ => None,
            },
            _ => None,
        }
    }

    /// `State` of an aggregate parameter written `&Agg<State>`.
    fn loaded_state(&self) -> Option<&'a Type> {
        let Type::Reference(reference) = &*self.aggregate?.ty else {
            return None;
        };
        let Type::Path(path) = &*reference.elem else {
            return None;
        };
        let last = path.path.segments.last()?;
        match &last.arguments {
            PathArguments::AngleBracketed(args) if last.ident == "Agg" => {
                match args.args.first()? {
                    GenericArgument::Type(state) => Some(state),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The inputs as written, for the fallback's entry points. A parameter after `&self` that
    /// is not a reference cannot be the aggregate: the aggregate was left out, and that
    /// parameter is the first input, which the callers pass.
    pub(crate) fn written_inputs(&self) -> Vec<CommandInput<'a>> {
        let first_input = self
            .aggregate
            .filter(|param| !matches!(*param.ty, Type::Reference(_)));
        first_input
            .into_iter()
            .chain(self.inputs.iter().map(|input| input.original))
            .filter(|param| !is_metadata_param(param))
            .map(CommandInput::from_syn)
            .collect()
    }

    /// Where errors about the whole signature point.
    pub(crate) fn span(&self) -> Span {
        self.ident.span()
    }
}

impl<'a> CommandInput<'a> {
    /// The field of the command enum, when the input can be one.
    pub(crate) fn field(&self) -> Option<(&Ident, &'a Type)> {
        let owned = !matches!(
            self.ty,
            Type::Reference(_) | Type::ImplTrait(_) | Type::Infer(_)
        );
        self.name
            .as_ref()
            .filter(|_| owned)
            .map(|name| (name, self.ty))
    }

    /// Whether the parameter's `#[serde(..)]` attributes set one of `keys`. Values are
    /// skipped unread; a malformed attribute is serde's to report.
    pub(crate) fn serde_sets_any(&self, keys: &[&str]) -> bool {
        let mut found = false;
        for attr in self
            .field_attrs
            .iter()
            .filter(|attr| attr.path().is_ident(SERDE))
        {
            let _reported_by_serde = attr.parse_nested_meta(|meta| {
                found |= keys.iter().any(|key| meta.path.is_ident(key));
                if meta.input.peek(Token![=]) {
                    meta.value()?.parse::<syn::Expr>()?;
                } else if meta.input.peek(syn::token::Paren) {
                    meta.input.parse::<proc_macro2::TokenTree>()?;
                }
                Ok(())
            });
        }
        found
    }

    fn from_syn(original: &'a PatType) -> Self {
        let name = match &*original.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                Some(pat.ident.clone())
            }
            _ => None,
        };
        CommandInput {
            original,
            field_attrs: original
                .attrs
                .iter()
                .filter(|attr| is_field_attr(attr))
                .collect(),
            name,
            ty: &original.ty,
        }
    }
}

/// Whether a parameter is typed `&Metadata` (any path ending in `Metadata`, such as
/// `&evtstore::Metadata`): it receives the call's metadata rather than being an input. Only the
/// name can be checked before type checking; the expansion passes `&::evtstore::Metadata`
/// there, so another type of that name fails to compile at the parameter.
pub(crate) fn is_metadata_param(param: &PatType) -> bool {
    let Type::Reference(reference) = &*param.ty else {
        return false;
    };
    reference.mutability.is_none()
        && matches!(&*reference.elem, Type::Path(path)
        if path.qself.is_none()
            && path.path.segments.last().is_some_and(|last| {
                last.ident == "Metadata" && last.arguments.is_none()
            }))
}

/// Attributes of a command parameter that belong to the command enum's field: serde's, such
/// as `#[serde(default)]`, and doc comments. Rust does not allow them on parameters, so the
/// macro moves them.
pub(crate) fn is_field_attr(attr: &syn::Attribute) -> bool {
    attr.path().is_ident(SERDE) || attr.path().is_ident("doc")
}

/// The last name of a type path: `UserEvent` in `crate::users::UserEvent`.
pub(crate) fn last_ident(ty: &Type) -> Option<&Ident> {
    match ty {
        Type::Path(path) => path.path.segments.last().map(|segment| &segment.ident),
        _ => None,
    }
}
