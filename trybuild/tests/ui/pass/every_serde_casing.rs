//! Every serde `rename_all` rule, and `rename` on a variant: the stored type name the derive
//! computes is the one serde writes.

#![deny(warnings)]

use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default)]
pub struct Nothing;

macro_rules! casing {
    ($name:ident, $fold:ident, $rule:literal, [$($expected:literal),*]) => {
        #[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
        #[aggregate(stream = $rule, state = Nothing)]
        #[serde(tag = "type", rename_all = $rule)]
        pub enum $name {
            PostCreated { id: u32 },
            HTTPGet,
            Done,
            #[serde(rename = "custom-name")]
            Renamed,
        }

        impl $fold for Nothing {
            fn post_created(&mut self, _: &u32) {}
            fn http_get(&mut self) {}
            fn done(&mut self) {}
            fn renamed(&mut self) {}
        }

        let all = [
            $name::PostCreated { id: 1 },
            $name::HTTPGet,
            $name::Done,
            $name::Renamed,
        ];
        assert_eq!($name::EVENT_TYPES, [$($expected),*]);
        for event in all {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["type"], event.event_type(), "{}", $rule);
            let back: $name = serde_json::from_value(json).unwrap();
            assert_eq!(back.event_type(), event.event_type());
        }
    };
}

fn main() {
    casing!(Lower, LowerFold, "lowercase", ["postcreated", "httpget", "done", "custom-name"]);
    casing!(Upper, UpperFold, "UPPERCASE", ["POSTCREATED", "HTTPGET", "DONE", "custom-name"]);
    casing!(Pascal, PascalFold, "PascalCase", ["PostCreated", "HTTPGet", "Done", "custom-name"]);
    casing!(Camel, CamelFold, "camelCase", ["postCreated", "hTTPGet", "done", "custom-name"]);
    casing!(Snake, SnakeFold, "snake_case", ["post_created", "h_t_t_p_get", "done", "custom-name"]);
    casing!(
        ScreamingSnake,
        ScreamingSnakeFold,
        "SCREAMING_SNAKE_CASE",
        ["POST_CREATED", "H_T_T_P_GET", "DONE", "custom-name"]
    );
    casing!(Kebab, KebabFold, "kebab-case", ["post-created", "h-t-t-p-get", "done", "custom-name"]);
    casing!(
        ScreamingKebab,
        ScreamingKebabFold,
        "SCREAMING-KEBAB-CASE",
        ["POST-CREATED", "H-T-T-P-GET", "DONE", "custom-name"]
    );

    // No rule: the variant's own name.
    #[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
    #[aggregate(stream = "plain", state = Nothing)]
    #[serde(tag = "type")]
    enum Plain {
        PostCreated,
    }
    impl PlainFold for Nothing {
        fn post_created(&mut self) {}
    }
    assert_eq!(Plain::EVENT_TYPES, ["PostCreated"]);
    assert_eq!(Plain::PostCreated.event_type(), "PostCreated");
}
