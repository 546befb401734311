//! Expansion tests: inputs built with `parse_quote!`, outputs checked as token text.

use proc_macro2::TokenStream;
use quote::quote;

fn expand(args: TokenStream, input: TokenStream) -> String {
    super::expand(args, input).to_string()
}

fn errors(output: &str) -> Vec<String> {
    output
        .split("compile_error !")
        .skip(1)
        .filter_map(|rest| rest.split('"').nth(1).map(str::to_owned))
        .collect()
}

#[test]
fn valid_impl_expands_to_enum_routing_and_entry_points() {
    let output = expand(
        quote!(UserEvent),
        quote! {
            impl UserCommands {
                /// Creates a user.
                async fn create_user(&self, user: &Agg<User>, full_name: String) -> CommandResult<UserEvent> {
                    todo!()
                }
                async fn disable(&self, user: &Agg<User>) -> CommandResult<UserEvent> {
                    todo!()
                }
                fn new() -> Self {
                    UserCommands
                }
            }
        },
    );
    assert!(errors(&output).is_empty(), "{output}");
    for expected in [
        "# [allow (clippy :: unused_async)] async fn create_user",
        "fn new () -> Self",
        "pub enum UserCommand",
        "CreateUser { # [doc = \" Input `full_name` of the command.\"] # [serde (serialize_with = \"UserCommand::__serialize_input\" , deserialize_with = \"UserCommand::__deserialize_input\")] full_name : String }",
        "message = \"command input `{Self}` must be `Deserialize`: it is a field of the command enum, which derives it\"",
        "Disable ,",
        "tag = \"type\" , rename_all = \"camelCase\" , rename_all_fields = \"camelCase\"",
        "impl :: evtstore :: CommandSet for UserCommands",
        "type Aggregate = UserEvent ;",
        "UserCommand :: CreateUser { full_name } => :: evtstore :: __private :: decided :: < UserEvent , _ > (Self :: create_user (self , :: evtstore :: __private :: aggregate_of :: < UserEvent , Agg < User > > (aggregate) , :: core :: clone :: Clone :: clone (full_name)) . await)",
        "pub trait UserCommandsExt",
        "impl < __Store : :: evtstore :: Store > UserCommandsExt for :: evtstore :: Commands < __Store , UserCommands >",
        ":: evtstore :: Commands :: execute (self , aggregate_id , & UserCommand :: Disable) . await",
    ] {
        assert!(
            output.contains(expected),
            "missing `{expected}` in {output}"
        );
    }
    assert!(!output.contains("Variant :: New"), "{output}");
}

#[test]
fn serde_attributes_and_docs_of_parameters_move_to_the_fields() {
    let output = expand(
        quote!(E),
        quote! {
            impl C {
                async fn a(&self, u: &Agg<U>, #[serde(default)] #[doc = " Tags."] tags: Vec<String>) -> CommandResult<E> {
                    todo!()
                }
            }
        },
    );
    assert!(errors(&output).is_empty(), "{output}");
    assert!(
        output.contains(
            "A { # [serde (default)] # [doc = \" Tags.\"] # [serde (serialize_with = \"CCommand::__serialize_input\" , deserialize_with = \"CCommand::__deserialize_input\")] tags : Vec < String > }"
        ),
        "{output}"
    );
    assert!(
        output.contains("async fn a (& self , u : & Agg < U > , tags : Vec < String >)"),
        "{output}"
    );
}

#[test]
fn generic_impls_and_arguments_are_kept() {
    let output = expand(
        quote!(PostEvent, name = PostCmd, vis = pub(crate)),
        quote! {
            impl<S: Store> Posts<S> where S: Clone {
                async fn archive(&self, post: &Agg<Post>) -> CommandResult<PostEvent> {
                    todo!()
                }
            }
        },
    );
    assert!(errors(&output).is_empty(), "{output}");
    for expected in [
        "pub (crate) enum PostCmd",
        "impl < S : Store > :: evtstore :: CommandSet for Posts < S > where S : Clone",
        "pub (crate) trait PostsExt",
        "impl < S : Store , __Store : :: evtstore :: Store > PostsExt for :: evtstore :: Commands < __Store , Posts < S > > where S : Clone",
    ] {
        assert!(
            output.contains(expected),
            "missing `{expected}` in {output}"
        );
    }
}

#[test]
fn every_mistake_is_reported_next_to_stubs() {
    let output = expand(
        quote!(UserEvent),
        quote! {
            impl UserCommands {
                fn create(&self, user: &Agg<User>, name: String) -> CommandResult<UserEvent> {
                    todo!()
                }
                async fn disable(&mut self) -> CommandResult<PostEvent> {
                    todo!()
                }
                async fn load<T>(&self, user: &Agg<User>, (a, b): (u8, u8), c: &str) {}
            }
        },
    );
    let found = errors(&output);
    let expected = [
        "command `create` must be an `async fn`",
        "command `disable` must take `&self`",
        "command `disable` has no aggregate parameter",
        "command `disable` returns events of `PostEvent`",
        "command `load` cannot be generic",
        "a command input needs a plain name",
        "command input `c` must be an owned type",
        "command `load` has no return type",
        "a command cannot be named `load`",
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (found, expected) in found.iter().zip(expected) {
        assert!(found.starts_with(expected), "{found} / {expected}");
    }
    // The stubs keep the names callers use.
    assert!(output.contains("pub enum UserCommand"), "{output}");
    assert!(output.contains("pub trait UserCommandsExt"), "{output}");
    assert!(output.contains(":: core :: unimplemented ! ()"), "{output}");
}

#[test]
fn misplaced_or_incomplete_attributes_are_refused() {
    let cases = [
        (
            quote!(UserEvent),
            quote!(
                async fn create() {}
            ),
            "#[command] goes on an impl block",
        ),
        (
            quote!(),
            quote!(impl UserCommands { async fn a(&self, u: &Agg<U>) -> CommandResult<E> { todo!() } }),
            "#[command] needs the event enum",
        ),
        (
            quote!(UserEvent, colour = Blue),
            quote!(impl UserCommands { async fn a(&self, u: &Agg<U>) -> CommandResult<UserEvent> { todo!() } }),
            "unknown #[command] argument `colour`",
        ),
        (
            quote!(UserEvent),
            quote!(impl Display for UserCommands { fn fmt(&self) {} }),
            "#[command] goes on an inherent impl block",
        ),
        (
            quote!(UserEvent),
            quote!(impl UserCommands { fn new() -> Self { UserCommands } }),
            "this impl block has no command",
        ),
    ];
    for (args, input, expected) in cases {
        let found = errors(&expand(args, input));
        assert!(
            !found.is_empty() && found[0].starts_with(expected),
            "{found:#?}"
        );
    }
}

#[test]
fn command_enum_names_follow_the_self_type() {
    for (self_ty, expected) in [
        (quote!(UserCommands), "enum UserCommand"),
        (quote!(Users), "enum UsersCommand"),
        (quote!(crate::x::PostService<S>), "enum PostServiceCommand"),
    ] {
        let output = expand(
            quote!(E),
            quote!(impl #self_ty { async fn a(&self, u: &Agg<U>) -> CommandResult<E> { todo!() } }),
        );
        assert!(output.contains(expected), "{output}");
    }
}

#[test]
fn inputs_with_their_own_serde_or_an_option_keep_serde_as_it_is() {
    let output = expand(
        quote!(E),
        quote! {
            impl C {
                async fn a(
                    &self,
                    u: &Agg<U>,
                    #[serde(with = "my_format")] at: Time,
                    note: Option<String>,
                ) -> CommandResult<E> {
                    todo!()
                }
            }
        },
    );
    assert!(errors(&output).is_empty(), "{output}");
    assert!(
        output.contains("# [serde (with = \"my_format\")] at : Time"),
        "{output}"
    );
    assert!(
        output.contains(
            "# [serde (serialize_with = \"CCommand::__serialize_input\")] note : Option < String >"
        ),
        "{output}"
    );
}

#[test]
fn refused_parameters_stay_in_the_fallback_entry_points() {
    let output = expand(
        quote!(E),
        quote! {
            impl C {
                async fn a(&self, u: &Agg<U>, name: &String) -> CommandResult<E> {
                    todo!()
                }
                async fn b(&self, name: String) -> CommandResult<E> {
                    todo!()
                }
            }
        },
    );
    let found = errors(&output);
    assert_eq!(found.len(), 2, "{found:#?}");
    for expected in [
        "A { # [doc = \" Input `name` of the command.\"] name : & 'static String }",
        "fn a (& self , aggregate_id : & str , name : & String)",
        "B { # [doc = \" Input `name` of the command.\"] name : String }",
        "fn b (& self , aggregate_id : & str , name : String)",
        "impl < 'de > :: evtstore :: __private :: serde :: Deserialize < 'de > for CCommand",
    ] {
        assert!(
            output.contains(expected),
            "missing `{expected}` in {output}"
        );
    }
}

#[test]
fn naming_the_state_is_one_error_and_the_fallback_uses_the_returned_events() {
    let output = expand(
        quote!(User),
        quote! {
            impl UserCommands {
                async fn a(&self, u: &Agg<User>) -> CommandResult<UserEvent> {
                    todo!()
                }
                async fn b(&self, u: &Agg<User>) -> CommandResult<UserEvent> {
                    todo!()
                }
            }
        },
    );
    let found = errors(&output);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("`User` is the state the commands load as `&Agg<User>`"),
        "{found:#?}"
    );
    assert!(found[0].contains("`#[command(UserEvent)]`"), "{found:#?}");
    assert!(output.contains("type Aggregate = UserEvent ;"), "{output}");
}
