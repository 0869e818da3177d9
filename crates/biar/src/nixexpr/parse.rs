//! Parsing with positions, and the canonical (layout- and comment-free) hash of a Nix file.

use std::path::Path;

use rnix::{ParseError, SyntaxKind, SyntaxNode, TextRange};
use sha2::{Digest, Sha256};

use super::NixError;
use crate::location::Location;

/// Parses `text` (read from `file`, named in errors). The first syntax error becomes
/// [`NixError::Parse`] with its line:column.
pub fn parse(file: &Path, text: &str) -> Result<SyntaxNode, NixError> {
    let parsed = rnix::Root::parse(text);
    if let Some(err) = parsed.errors().first() {
        let (offset, message) = describe(err, text);
        return Err(NixError::Parse {
            at: Location::from_offset(file, text, offset),
            message,
        });
    }
    Ok(parsed.syntax())
}

/// A byte offset and a sentence for a parse error (rnix's own text speaks in offsets and kinds).
fn describe(err: &ParseError, text: &str) -> (usize, String) {
    let snippet = |r: &TextRange| {
        let s = &text[usize::from(r.start())..usize::from(r.end())];
        let s: String = s.chars().take(30).collect();
        format!("`{}`", s.replace('\n', "\\n"))
    };
    let wanted = |kinds: &[SyntaxKind]| {
        let names: Vec<String> = kinds.iter().take(6).map(|k| kind_name(*k)).collect();
        names.join(", ")
    };
    match err {
        ParseError::Unexpected(r) => (usize::from(r.start()), format!("unexpected {}", snippet(r))),
        ParseError::UnexpectedExtra(r) => (
            usize::from(r.start()),
            format!("unexpected {} after the end of the expression", snippet(r)),
        ),
        ParseError::UnexpectedWanted(_, r, kinds) => (
            usize::from(r.start()),
            format!("unexpected {}, expected {}", snippet(r), wanted(kinds)),
        ),
        ParseError::UnexpectedDoubleBind(r) => (
            usize::from(r.start()),
            "a pattern is bound twice".to_string(),
        ),
        ParseError::UnexpectedEOF => (text.len(), "unexpected end of file".to_string()),
        ParseError::UnexpectedEOFWanted(kinds) => (
            text.len(),
            format!("unexpected end of file, expected {}", wanted(kinds)),
        ),
        ParseError::DuplicatedArgs(r, name) => (
            usize::from(r.start()),
            format!("argument `{name}` is given twice"),
        ),
        ParseError::RecursionLimitExceeded => (0, "the file nests too deeply".to_string()),
        other => (0, other.to_string()),
    }
}

/// A readable name for a token kind (`TOKEN_R_BRACK` → `]`).
fn kind_name(kind: SyntaxKind) -> String {
    use SyntaxKind::*;
    let s = match kind {
        TOKEN_R_BRACK => "`]`",
        TOKEN_L_BRACK => "`[`",
        TOKEN_R_BRACE => "`}`",
        TOKEN_L_BRACE => "`{`",
        TOKEN_R_PAREN => "`)`",
        TOKEN_L_PAREN => "`(`",
        TOKEN_SEMICOLON => "`;`",
        TOKEN_COLON => "`:`",
        TOKEN_COMMA => "`,`",
        TOKEN_ASSIGN => "`=`",
        TOKEN_IN => "`in`",
        TOKEN_THEN => "`then`",
        TOKEN_ELSE => "`else`",
        TOKEN_IDENT => "a name",
        TOKEN_STRING_END => "the end of a string",
        TOKEN_INTERPOL_END => "`}`",
        other => return format!("{other:?}").to_lowercase().replace('_', " "),
    };
    s.to_string()
}

/// Domain tag of [`canonical_digest`]; bump it if the token encoding ever changes.
const CANONICAL_DOMAIN: &[u8] = b"biar nix canonical tokens v1";

/// sha256 of a Nix file's token stream with whitespace and comments removed: every other token's
/// text, each prefixed by its length (u64, little endian), after a domain tag. Two files that
/// differ only in layout or comments get the same digest; any other change gives another one.
/// Whitespace *inside* strings is string content and counts.
pub fn canonical_digest(file: &Path, text: &str) -> Result<[u8; 32], NixError> {
    let root = parse(file, text)?;
    Ok(canonical_digest_of(&root))
}

/// [`canonical_digest`] of an already parsed tree.
pub fn canonical_digest_of(root: &SyntaxNode) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((CANONICAL_DOMAIN.len() as u64).to_le_bytes());
    h.update(CANONICAL_DOMAIN);
    for token in root
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
    {
        if matches!(
            token.kind(),
            SyntaxKind::TOKEN_WHITESPACE | SyntaxKind::TOKEN_COMMENT
        ) {
            continue;
        }
        let t = token.text().as_bytes();
        h.update((t.len() as u64).to_le_bytes());
        h.update(t);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<SyntaxNode, NixError> {
        parse(Path::new("f.nix"), text)
    }

    #[test]
    fn syntax_errors_say_line_and_column() {
        let err = p("{ pkgs }:\nwith pkgs; [\n  hello\n  ]; x\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("f.nix:4:4:"), "{msg}");
        assert_eq!(err.category(), crate::Category::BadInput);

        let err = p("{ pkgs }: [\n  hello\n").unwrap_err();
        assert!(err.to_string().contains("end of file"), "{err}");
        assert!(err.to_string().starts_with("f.nix:3:1"), "{err}");

        let err = p("{ pkgs }: [ (hello ]").unwrap_err();
        assert!(err.to_string().starts_with("f.nix:1:"), "{err}");
    }

    #[test]
    fn layout_and_comments_do_not_change_the_digest() {
        let a = canonical_digest(Path::new("a"), "{ pkgs }: with pkgs; [ hello jq ]").unwrap();
        let b = canonical_digest(
            Path::new("b"),
            "# my tools\r\n{ pkgs }:\r\nwith pkgs;\r\n[\r\n\thello # greet\r\n\tjq\r\n  /* x */ ]\r\n",
        )
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn content_changes_change_the_digest() {
        let d = |t: &str| canonical_digest(Path::new("a"), t).unwrap();
        let base = d("{ pkgs }: with pkgs; [ hello jq ]");
        assert_ne!(base, d("{ pkgs }: with pkgs; [ hello ]"));
        assert_ne!(base, d("{ pkgs }: with pkgs; [ jq hello ]"));
        assert_ne!(base, d("{ pkgs }: with pkgs; [ hellojq ]"));
        assert_ne!(d("\"a b\""), d("\"ab\""));
    }
}
