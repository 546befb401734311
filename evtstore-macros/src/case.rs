//! Name conversions: serde's renaming of variants (so the stored type name is exactly what
//! serde writes) and the Rust names of generated methods and variants.

use proc_macro2::{Ident, Span};

/// A `rename_all` rule of serde, applied the way serde applies it to variant names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

impl RenameRule {
    /// Every rule with the name serde accepts for it.
    const ALL: [(&'static str, RenameRule); 8] = [
        ("lowercase", RenameRule::Lower),
        ("UPPERCASE", RenameRule::Upper),
        ("PascalCase", RenameRule::Pascal),
        ("camelCase", RenameRule::Camel),
        ("snake_case", RenameRule::Snake),
        ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
        ("kebab-case", RenameRule::Kebab),
        ("SCREAMING-KEBAB-CASE", RenameRule::ScreamingKebab),
    ];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, rule)| *rule)
    }

    /// The stored name of a variant named `variant` (a PascalCase Rust name) under this rule.
    pub(crate) fn apply_to_variant(self, variant: &str) -> String {
        match self {
            RenameRule::Pascal => variant.to_owned(),
            RenameRule::Lower => variant.to_ascii_lowercase(),
            RenameRule::Upper => variant.to_ascii_uppercase(),
            RenameRule::Camel => {
                let mut chars = variant.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            }
            RenameRule::Snake => serde_snake(variant),
            RenameRule::ScreamingSnake => serde_snake(variant).to_ascii_uppercase(),
            RenameRule::Kebab => serde_snake(variant).replace('_', "-"),
            RenameRule::ScreamingKebab => {
                serde_snake(variant).to_ascii_uppercase().replace('_', "-")
            }
        }
    }
}

/// serde's snake case of a variant: an underscore before every uppercase letter but the first.
fn serde_snake(variant: &str) -> String {
    let mut snake = String::with_capacity(variant.len() + 4);
    for (index, ch) in variant.char_indices() {
        if index > 0 && ch.is_uppercase() {
            snake.push('_');
        }
        snake.push(ch.to_ascii_lowercase());
    }
    snake
}

/// The snake case method name for a PascalCase variant: `PostCreated` -> `post_created`,
/// `HTTPRequest` -> `http_request`. Unlike serde's rule it keeps acronyms together, as these
/// names are read, not stored.
pub(crate) fn method_name(variant: &str) -> String {
    let chars: Vec<char> = variant.chars().collect();
    let mut snake = String::with_capacity(variant.len() + 4);
    let mut previous: Option<char> = None;
    for (index, &ch) in chars.iter().enumerate() {
        if let Some(previous) = previous.filter(|_| ch.is_uppercase()) {
            let next_is_lower = chars.get(index + 1).is_some_and(|next| next.is_lowercase());
            let word_start = previous.is_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_uppercase() && next_is_lower);
            if word_start && previous != '_' {
                snake.push('_');
            }
        }
        snake.extend(ch.to_lowercase());
        previous = Some(ch);
    }
    snake
}

/// The PascalCase variant name for a snake case method name: `create_post` -> `CreatePost`.
pub(crate) fn variant_name(method: &str) -> String {
    method
        .split('_')
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// An identifier for `name`, raw when `name` is a keyword (`type` -> `r#type`). Returns `None`
/// for a name that cannot be an identifier at all.
pub(crate) fn ident(name: &str, span: Span) -> Option<Ident> {
    const KEYWORDS: &[&str] = &[
        "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do",
        "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in",
        "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
        "return", "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe",
        "unsized", "use", "virtual", "where", "while", "yield",
    ];
    const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];
    if name.is_empty() || NOT_RAW.contains(&name) {
        return None;
    }
    let valid = name
        .chars()
        .enumerate()
        .all(|(index, ch)| ch == '_' || ch.is_alphabetic() || (index > 0 && ch.is_alphanumeric()));
    if !valid {
        return None;
    }
    Some(if KEYWORDS.contains(&name) {
        Ident::new_raw(name, span)
    } else {
        Ident::new(name, span)
    })
}

#[cfg(test)]
mod tests {
    use super::{RenameRule, method_name, variant_name};

    #[test]
    fn serde_rules_rename_variants_as_serde_does() {
        let cases = [
            ("lowercase", "postcreated"),
            ("UPPERCASE", "POSTCREATED"),
            ("PascalCase", "PostCreated"),
            ("camelCase", "postCreated"),
            ("snake_case", "post_created"),
            ("SCREAMING_SNAKE_CASE", "POST_CREATED"),
            ("kebab-case", "post-created"),
            ("SCREAMING-KEBAB-CASE", "POST-CREATED"),
        ];
        for (rule, expected) in cases {
            let rule = RenameRule::from_name(rule).expect("a serde rule");
            assert_eq!(rule.apply_to_variant("PostCreated"), expected);
        }
        assert_eq!(RenameRule::Snake.apply_to_variant("HTTPGet"), "h_t_t_p_get");
        assert_eq!(RenameRule::from_name("Camel"), None);
    }

    #[test]
    fn method_names_keep_acronyms_together() {
        assert_eq!(method_name("PostCreated"), "post_created");
        assert_eq!(method_name("Created"), "created");
        assert_eq!(method_name("HTTPRequest"), "http_request");
        assert_eq!(method_name("Version2Bumped"), "version2_bumped");
        assert_eq!(method_name("Snake_Case"), "snake_case");
    }

    #[test]
    fn variant_names_are_pascal_case() {
        assert_eq!(variant_name("create_post"), "CreatePost");
        assert_eq!(variant_name("create"), "Create");
        assert_eq!(variant_name("_odd__name_"), "OddName");
    }
}
