//! Expansion tests: inputs built with `parse_quote!`, outputs checked as token text.

use syn::{DeriveInput, parse_quote};

fn expand(input: &DeriveInput) -> String {
    super::derive(input).to_string()
}

/// The messages of the `compile_error!`s in an expansion.
fn errors(output: &str) -> Vec<String> {
    output
        .split("compile_error !")
        .skip(1)
        .filter_map(|rest| rest.split('"').nth(1).map(str::to_owned))
        .collect()
}

fn users(attrs: proc_macro2::TokenStream) -> DeriveInput {
    parse_quote! {
        #attrs
        pub enum UserEvent {
            Created { name: String },
            NameChanged(Renamed),
            Disabled,
        }
    }
}

#[test]
fn valid_enum_expands_to_traits_and_impls() {
    let output = expand(&users(quote::quote! {
        #[aggregate(stream = "users", state = User, persist = "v2")]
        #[serde(tag = "type", rename_all = "camelCase")]
    }));
    assert!(errors(&output).is_empty(), "{output}");
    for expected in [
        "pub trait UserEventFold",
        "fn created (& mut self , name : & String) ;",
        "fn name_changed (& mut self , event : & Renamed) ;",
        "pub trait UserEventHandler : :: evtstore :: HandlerModel",
        "impl :: evtstore :: Aggregate for UserEvent",
        "const STREAM : & 'static str = \"users\" ;",
        "& [\"created\" , \"nameChanged\" , \"disabled\"]",
        ":: evtstore :: __private :: snapshots :: < User > (\"v2\")",
        "# [diagnostic :: do_not_recommend]",
        "impl < H : UserEventHandler > :: evtstore :: HandledBy < H > for UserEvent",
        "pub trait UserEventProjection < Tx : :: core :: marker :: Send > : :: evtstore :: HandlerModel",
        "fn created (& self , transaction : & mut Tx , aggregate_id : & str , name : & String , meta : & :: evtstore :: EventMeta ,)",
        "impl < H : UserEventProjection < Tx > , Tx : :: core :: marker :: Send > :: evtstore :: ProjectedBy < H , Tx > for UserEvent",
        "< H as UserEventProjection < Tx > > :: created (model , transaction , aggregate_id , name , meta) . await",
        "# [automatically_derived]",
    ] {
        assert!(
            output.contains(expected),
            "missing `{expected}` in {output}"
        );
    }
}

#[test]
fn stored_names_follow_serde_renames() {
    let input: DeriveInput = parse_quote! {
        #[aggregate(stream = "s", state = S)]
        #[serde(rename_all = "SCREAMING-KEBAB-CASE", tag = "type")]
        enum E {
            PostCreated,
            #[serde(rename = "custom")]
            Other,
            #[serde(rename(serialize = "both", deserialize = "both"))]
            Same,
        }
    };
    let output = expand(&input);
    assert!(
        output.contains("& [\"POST-CREATED\" , \"custom\" , \"both\"]"),
        "{output}"
    );
    assert!(!output.contains("SNAPSHOTS"), "{output}");
}

#[test]
fn every_mistake_is_reported_and_the_traits_still_exist() {
    let input: DeriveInput = parse_quote! {
        #[aggregate(stream = users, colour = "blue")]
        enum UserEvent {
            Created { name: String },
            Moved(u32, u32),
        }
    };
    let output = expand(&input);
    let found = errors(&output);
    assert_eq!(found.len(), 5, "{found:#?}");
    assert!(found[0].starts_with("`stream` takes a string"));
    assert!(found[1].starts_with("unknown aggregate attribute `colour`"));
    assert!(found[2].starts_with("the aggregate has no state"));
    assert!(found[3].starts_with("event `Moved` must have named fields"));
    assert!(found[4].starts_with("events must be stored with a `type` field"));
    assert!(output.contains("trait UserEventFold"), "{output}");
    assert!(output.contains("trait UserEventHandler"), "{output}");
    assert!(output.contains("trait UserEventProjection"), "{output}");
}

#[test]
fn duplicate_stored_names_and_split_renames_are_refused() {
    let input: DeriveInput = parse_quote! {
        #[aggregate(stream = "s", state = S)]
        #[serde(tag = "type", rename_all = "lowercase")]
        enum E {
            Created,
            #[serde(rename = "created")]
            Registered,
            #[serde(rename(serialize = "a"))]
            Half,
        }
    };
    let found = errors(&expand(&input));
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("`rename` of event `Half`"));
    assert!(found[1].contains("are both stored as"));
}

#[test]
fn other_inputs_are_refused_with_one_error() {
    let cases: [(DeriveInput, &str); 5] = [
        (
            parse_quote!(
                #[aggregate(stream = "s", state = S)]
                struct E;
            ),
            "goes on the enum of a stream's events, not on a struct",
        ),
        (
            parse_quote!(
                #[aggregate(stream = "s", state = S)]
                #[serde(tag = "type")]
                enum E<T> {
                    A(T),
                }
            ),
            "cannot have generic parameters",
        ),
        (
            parse_quote!(
                #[aggregate(stream = "s", state = S)]
                #[serde(tag = "kind")]
                enum E {
                    A,
                }
            ),
            "the event tag must be",
        ),
        (
            parse_quote!(
                #[aggregate(stream = "s", state = S)]
                #[serde(tag = "type", content = "c")]
                enum E {
                    A,
                }
            ),
            "cannot be adjacently tagged",
        ),
        (
            parse_quote!(
                #[aggregate(stream = "", state = S)]
                #[serde(tag = "type")]
                enum E {
                    #[serde(skip)]
                    A,
                }
            ),
            "the stream name cannot be empty",
        ),
    ];
    for (input, expected) in cases {
        let found = errors(&expand(&input));
        assert!(
            !found.is_empty() && found[0].contains(expected),
            "{found:#?}"
        );
    }
}

#[test]
fn keyword_variants_get_raw_method_names() {
    let input: DeriveInput = parse_quote! {
        #[aggregate(stream = "s", state = S)]
        #[serde(tag = "type")]
        enum E { Type, Match { r#ref: u8 } }
    };
    let output = expand(&input);
    assert!(errors(&output).is_empty(), "{output}");
    assert!(output.contains("fn r#type (& mut self)"), "{output}");
    assert!(
        output.contains("fn r#match (& mut self , r#ref : & u8)"),
        "{output}"
    );
    assert!(output.contains("& [\"Type\" , \"Match\"]"), "{output}");
}
