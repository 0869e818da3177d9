//! Edits on many shapes of configuration files. Every edit's result must still parse (checked by
//! `edit`), and everything outside the list must stay byte-identical.

use super::*;

fn load(text: &str) -> PackageFile {
    PackageFile::from_text(Path::new("user.nix"), text.to_string())
        .unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
}

fn attrs(names: &[&str]) -> Vec<AttrPath> {
    names.iter().map(|n| AttrPath::parse(n).unwrap()).collect()
}

fn names(f: &PackageFile) -> Vec<String> {
    f.packages().iter().map(|p| p.attr.to_string()).collect()
}

/// Adds then checks the text, that it parses, and that a reload sees the same packages.
fn add(text: &str, new: &[&str], expected: &str) {
    let mut f = load(text);
    f.add(&attrs(new)).unwrap();
    assert_eq!(f.text(), expected, "adding {new:?} to:\n{text}");
    parse(Path::new("x"), f.text()).expect("the result parses");
    let again = load(f.text());
    assert_eq!(names(&again), names(&f));
}

fn remove(text: &str, old: &[&str], expected: &str) {
    let mut f = load(text);
    let out = f.remove(&attrs(old)).unwrap();
    assert!(out.not_found.is_empty(), "{out:?}");
    assert_eq!(f.text(), expected, "removing {old:?} from:\n{text}");
    parse(Path::new("x"), f.text()).expect("the result parses");
}

#[test]
fn lists_entries_with_lines_in_every_shape() {
    let cases: &[(&str, &[&str])] = &[
        ("{ pkgs }: with pkgs; [ hello jq ]", &["hello", "jq"]),
        ("{ pkgs, ... }: [ pkgs.hello pkgs.jq ]", &["hello", "jq"]),
        ("pkgs: with pkgs; [ ]", &[]),
        ("{ pkgs }: let x = 1; in [ pkgs.git ]", &["git"]),
        (
            "{ pkgs ? import <nixpkgs> { } }: with pkgs; [ ripgrep ]",
            &["ripgrep"],
        ),
        (
            "{ pkgs }: with pkgs; with python312Packages; [ numpy pkgs.jq ]",
            &["numpy", "jq"],
        ),
        ("{ pkgs }: with pkgs; ([ a ])", &["a"]),
        ("p: [ p.a p.b.c ]", &["a", "b.c"]),
        (
            "{ pkgs }: [ pkgs.emacsPackages.\"ghub+\" ]",
            &["emacsPackages.\"ghub+\""],
        ),
        ("{ lib, pkgs }: assert true; with pkgs; [ a ]", &["a"]),
        ("[ ]", &[]),
    ];
    for (text, want) in cases {
        let f = load(text);
        assert_eq!(names(&f), *want, "{text}");
    }
    let f = load("# tools\n{ pkgs }:\nwith pkgs; [\n  hello\n\n  # json\n  jq # here\n]\n");
    let lines: Vec<usize> = f.packages().iter().map(|p| p.line).collect();
    assert_eq!(lines, [4, 7]);
}

#[test]
fn expressions_are_listed_apart() {
    let f = load(
        "{ pkgs }: with pkgs; [\n  hello\n  (python312.withPackages (ps: [ ps.numpy ]))\n  x.y or z\n]\n",
    );
    assert_eq!(names(&f), ["hello"]);
    let others: Vec<_> = f
        .other_entries()
        .iter()
        .map(|o| (o.text.as_str(), o.line))
        .collect();
    assert_eq!(
        others,
        [
            ("(python312.withPackages (ps: [ ps.numpy ]))", 3),
            ("x.y or z", 4)
        ]
    );
}

#[test]
fn shapes_without_a_list_say_where_and_why() {
    for (text, at, why) in [
        ("{ pkgs }: { a = 1; }", "user.nix:1:11", "attribute set"),
        (
            "{ pkgs }:\n  with pkgs; [ a ] ++ [ b ]",
            "user.nix:2:14",
            "`++`",
        ),
        (
            "{ pkgs }: pkgs.lib.flatten [ ]",
            "user.nix:1:11",
            "function call",
        ),
        ("{ pkgs }: if true then [ ] else [ ]", "user.nix:1:11", "if"),
        ("{ pkgs }: \"x\"", "user.nix:1:11", "expected a list"),
        (
            "{ pkgs }: { a = \"x++\"; } // { }",
            "user.nix:1:11",
            "expected a list",
        ),
    ] {
        let e = PackageFile::from_text(Path::new("user.nix"), text.into()).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, NixError::NoPackageList { .. }), "{msg}");
        assert!(msg.starts_with(at), "{text}: {msg}");
        assert!(msg.contains(why), "{text}: {msg}");
        assert_eq!(e.category(), crate::Category::BadInput);
    }
}

#[test]
fn parse_errors_come_first() {
    let e = PackageFile::from_text(Path::new("user.nix"), "{ pkgs }: [ a\n".into()).unwrap_err();
    assert!(matches!(e, NixError::Parse { .. }), "{e}");
    assert!(e.to_string().starts_with("user.nix:2:1"), "{e}");
}

#[test]
fn adds_one_per_line_in_multiline_lists() {
    add(
        "# My packages\n{ pkgs }:\nwith pkgs; [\n  hello\n  jq # json\n]\n",
        &["ripgrep", "python312Packages.numpy"],
        "# My packages\n{ pkgs }:\nwith pkgs; [\n  hello\n  jq # json\n  ripgrep\n  python312Packages.numpy\n]\n",
    );
}

#[test]
fn adds_copy_the_prefix_style() {
    add(
        "{ pkgs, ... }:\n[\n    pkgs.hello\n]\n",
        &["jq"],
        "{ pkgs, ... }:\n[\n    pkgs.hello\n    pkgs.jq\n]\n",
    );
    add(
        "{ pkgs, ... }: [ pkgs.hello ]",
        &["pkgs.jq"],
        "{ pkgs, ... }: [ pkgs.hello pkgs.jq ]",
    );
    // A user's `pkgs.jq` inside `with pkgs;` is written as its neighbours are.
    add(
        "{ pkgs }: with pkgs; [ hello ]",
        &["pkgs.jq"],
        "{ pkgs }: with pkgs; [ hello jq ]",
    );
    add("p: [ p.a ]", &["b"], "p: [ p.a p.b ]");
}

#[test]
fn adds_inline_in_single_line_lists() {
    add(
        "pkgs: with pkgs; [ a b ]",
        &["c"],
        "pkgs: with pkgs; [ a b c ]",
    );
    add(
        "pkgs: with pkgs; [ a  b ]",
        &["c"],
        "pkgs: with pkgs; [ a  b  c ]",
    );
    add(
        "pkgs: with pkgs; [a]",
        &["c", "d"],
        "pkgs: with pkgs; [a c d]",
    );
}

#[test]
fn adds_to_empty_lists() {
    add("pkgs: with pkgs; [ ]", &["jq"], "pkgs: with pkgs; [ jq ]");
    add("pkgs: with pkgs; []", &["jq"], "pkgs: with pkgs; [ jq ]");
    add(
        "pkgs: with pkgs; [ ]",
        &["jq", "git"],
        "pkgs: with pkgs; [ jq git ]",
    );
    // No `with`: names need the prefix.
    add("{ pkgs }: [ ]", &["jq"], "{ pkgs }: [ pkgs.jq ]");
    add(
        "{ pkgs }:\nwith pkgs; [\n]\n",
        &["jq"],
        "{ pkgs }:\nwith pkgs; [\n  jq\n]\n",
    );
    add(
        "{ pkgs }:\nwith pkgs; [\n  # add packages here\n]\n",
        &["jq", "git"],
        "{ pkgs }:\nwith pkgs; [\n  # add packages here\n  jq\n  git\n]\n",
    );
    add(
        "{ pkgs }:\n  with pkgs; [\n  ]\n",
        &["jq"],
        "{ pkgs }:\n  with pkgs; [\n    jq\n  ]\n",
    );
}

#[test]
fn adds_keep_crlf_and_tabs() {
    add(
        "# x\r\n{ pkgs }:\r\nwith pkgs; [\r\n\thello\r\n]\r\n",
        &["jq"],
        "# x\r\n{ pkgs }:\r\nwith pkgs; [\r\n\thello\r\n\tjq\r\n]\r\n",
    );
    add(
        "{ pkgs }:\r\nwith pkgs; [\r\n]\r\n",
        &["jq"],
        "{ pkgs }:\r\nwith pkgs; [\r\n  jq\r\n]\r\n",
    );
    add(
        "{ pkgs }:\nlet\n\tx = 1;\nin with pkgs; [\n]\n",
        &["jq"],
        "{ pkgs }:\nlet\n\tx = 1;\nin with pkgs; [\n\tjq\n]\n",
    );
}

#[test]
fn adds_when_the_bracket_shares_a_line() {
    add(
        "{ pkgs }: with pkgs; [\n  a\n  b ]\n",
        &["c"],
        "{ pkgs }: with pkgs; [\n  a\n  b\n  c ]\n",
    );
    add(
        "{ pkgs }: with pkgs; [ a\n  b\n]\n",
        &["c"],
        "{ pkgs }: with pkgs; [ a\n  b\n  c\n]\n",
    );
    add(
        "{ pkgs }: with pkgs; [ a b\n]\n",
        &["c"],
        "{ pkgs }: with pkgs; [ a b\n  c\n]\n",
    );
}

#[test]
fn adds_in_let_nested_with_and_default_args() {
    add(
        "{ pkgs ? import <nixpkgs> { } }:\nlet\n  py = pkgs.python312Packages;\nin\nwith pkgs; [\n  git # vcs\n] # end\n",
        &["jq"],
        "{ pkgs ? import <nixpkgs> { } }:\nlet\n  py = pkgs.python312Packages;\nin\nwith pkgs; [\n  git # vcs\n  jq\n] # end\n",
    );
    add(
        "{ pkgs }: with pkgs; with python312Packages; [\n  numpy\n]\n",
        &["pandas"],
        "{ pkgs }: with pkgs; with python312Packages; [\n  numpy\n  pandas\n]\n",
    );
}

#[test]
fn adds_after_a_multi_line_expression() {
    add(
        "{ pkgs }:\n[\n  (pkgs.python312.withPackages (ps: [\n    ps.numpy\n  ]))\n]\n",
        &["jq"],
        "{ pkgs }:\n[\n  (pkgs.python312.withPackages (ps: [\n    ps.numpy\n  ]))\n  pkgs.jq\n]\n",
    );
    add(
        "{ pkgs }:\nwith pkgs; [\n  (python312.withPackages (ps: with ps; [\n    numpy\n  ]))\n  ruff\n]\n",
        &["jq"],
        "{ pkgs }:\nwith pkgs; [\n  (python312.withPackages (ps: with ps; [\n    numpy\n  ]))\n  ruff\n  jq\n]\n",
    );
}

#[test]
fn pattern_binds_and_comments_holding_brackets() {
    add(
        "args@{ pkgs, ... }: with pkgs; [ a /* ] */ ]",
        &["b"],
        "args@{ pkgs, ... }: with pkgs; [ a b /* ] */ ]",
    );
    add(
        "{ pkgs }: with pkgs; [\n  a # was ]\n]\n",
        &["b"],
        "{ pkgs }: with pkgs; [\n  a # was ]\n  b\n]\n",
    );
    remove(
        "{ pkgs }: with pkgs; [\n  a # was ]\n  b\n]\n",
        &["a"],
        "{ pkgs }: with pkgs; [\n  b\n]\n",
    );
}

#[test]
fn adding_what_is_there_changes_nothing() {
    let text = "{ pkgs }: with pkgs; [ hello pkgs.jq ]";
    let mut f = load(text);
    let out = f.add(&attrs(&["hello", "jq", "pkgs.hello"])).unwrap();
    assert!(out.added.is_empty());
    assert_eq!(out.already_present, attrs(&["hello", "jq"]));
    assert_eq!(f.text(), text);
    assert!(!f.is_modified());
    // The same name twice in one call is added once.
    let mut f = load("{ pkgs }: with pkgs; [ ]");
    let out = f.add(&attrs(&["jq", "jq"])).unwrap();
    assert_eq!(out.added, attrs(&["jq"]));
    assert_eq!(f.text(), "{ pkgs }: with pkgs; [ jq ]");
}

#[test]
fn new_names_that_need_quotes_are_quoted() {
    add(
        "{ pkgs }: with pkgs; [ ]",
        &["emacsPackages.\"ghub+\""],
        "{ pkgs }: with pkgs; [ emacsPackages.\"ghub+\" ]",
    );
}

#[test]
fn removes_whole_lines_with_their_comment() {
    remove(
        "# Mine\n{ pkgs }:\nwith pkgs; [\n  hello\n  jq # json\n  git\n]\n",
        &["jq"],
        "# Mine\n{ pkgs }:\nwith pkgs; [\n  hello\n  git\n]\n",
    );
    remove(
        "{ pkgs }:\r\nwith pkgs; [\r\n\thello\r\n\tjq\r\n]\r\n",
        &["hello", "jq"],
        "{ pkgs }:\r\nwith pkgs; [\r\n]\r\n",
    );
    remove(
        "{ pkgs, ... }: [\n  pkgs.a\n  pkgs.b\n]",
        &["pkgs.b"],
        "{ pkgs, ... }: [\n  pkgs.a\n]",
    );
}

#[test]
fn removes_inline_entries_with_one_separator() {
    remove("p: with p; [ a b c ]", &["b"], "p: with p; [ a c ]");
    remove("p: with p; [ a b c ]", &["a"], "p: with p; [ b c ]");
    remove("p: with p; [ a b c ]", &["c"], "p: with p; [ a b ]");
    remove("p: with p; [ a ]", &["a"], "p: with p; [ ]");
    remove("p: with p; [a]", &["a"], "p: with p; []");
    remove("p: with p; [ a b c ]", &["a", "b", "c"], "p: with p; [ ]");
    remove(
        "p: with p; [\n  a b\n  c\n]",
        &["a"],
        "p: with p; [\n  b\n  c\n]",
    );
    remove("p: with p; [ a\n  b\n]", &["a"], "p: with p; [\n  b\n]");
    remove("p: with p; [\n  a\n  b ]", &["b"], "p: with p; [\n  a ]");
}

#[test]
fn removes_every_occurrence_and_reports_the_missing() {
    let mut f = load("{ pkgs }: with pkgs; [ jq hello pkgs.jq ]");
    let out = f.remove(&attrs(&["jq", "nope"])).unwrap();
    assert_eq!(out.removed, attrs(&["jq"]));
    assert_eq!(out.not_found, attrs(&["nope"]));
    assert_eq!(f.text(), "{ pkgs }: with pkgs; [ hello ]");
}

#[test]
fn the_closest_package_is_suggested() {
    let f = load("{ pkgs }: with pkgs; [ ripgrep python312Packages.numpy ]");
    let c = |a: &str| {
        f.closest_package(&AttrPath::parse(a).unwrap())
            .map(|p| p.attr.to_string())
    };
    assert_eq!(c("ripgrpe").as_deref(), Some("ripgrep"));
    assert_eq!(
        c("pkgs.python312Packages.nump").as_deref(),
        Some("python312Packages.numpy")
    );
    assert_eq!(c("zzz"), None);
}

#[test]
fn add_then_remove_restores_the_file() {
    for text in [
        "# c\n{ pkgs }:\nwith pkgs; [\n  hello # hi\n]\n",
        "{ pkgs }: with pkgs; [ hello ]",
        "pkgs: with pkgs; [ ]",
        "{ pkgs }:\r\nwith pkgs; [\r\n\thello\r\n]\r\n",
    ] {
        let mut f = load(text);
        f.add(&attrs(&["ripgrep", "python312Packages.numpy"]))
            .unwrap();
        f.remove(&attrs(&["ripgrep", "python312Packages.numpy"]))
            .unwrap();
        assert_eq!(f.text(), text);
    }
}

#[test]
fn save_is_atomic_and_only_when_changed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("user.nix");
    std::fs::write(&p, "{ pkgs }: with pkgs; [ hello ]\n").unwrap();
    let mut f = PackageFile::load(&p).unwrap();
    assert!(!f.save().unwrap());
    f.add(&attrs(&["jq"])).unwrap();
    assert!(f.save().unwrap());
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        "{ pkgs }: with pkgs; [ hello jq ]\n"
    );
    assert!(!f.save().unwrap());
}

#[test]
fn a_missing_file_is_bad_input() {
    let e = PackageFile::load(Path::new("/nonexistent/user.nix")).unwrap_err();
    assert_eq!(e.category(), crate::Category::BadInput);
    assert!(e.to_string().contains("/nonexistent/user.nix"));
}

mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::nixexpr::canonical_digest;

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9_-]{0,8}",
            "[a-z][a-z0-9]{0,5}Packages\\.[a-z][a-z0-9-]{0,6}",
        ]
        .prop_filter("not a keyword", |n| AttrPath::parse(n).is_ok())
    }

    /// One way of writing a configuration file.
    #[derive(Debug, Clone)]
    struct Layout {
        multiline: bool,
        crlf: bool,
        tabs: bool,
        prefixed: bool,
        comments: bool,
    }

    fn layout() -> impl Strategy<Value = Layout> {
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(multiline, crlf, tabs, prefixed, comments)| Layout {
                multiline,
                crlf,
                tabs,
                prefixed,
                comments,
            })
    }

    fn render(names: &[String], l: &Layout) -> String {
        let eol = if l.crlf { "\r\n" } else { "\n" };
        let indent = if l.tabs { "\t" } else { "  " };
        let entry = |n: &String| {
            if l.prefixed {
                format!("pkgs.{n}")
            } else {
                n.clone()
            }
        };
        let mut s = String::new();
        if l.comments {
            s.push_str(&format!("# my packages{eol}"));
        }
        s.push_str(&format!("{{ pkgs }}:{eol}"));
        if !l.prefixed {
            s.push_str("with pkgs; ");
        }
        if l.multiline {
            s.push_str(&format!("[{eol}"));
            for n in names {
                s.push_str(&format!("{indent}{}", entry(n)));
                if l.comments {
                    s.push_str(" # why");
                }
                s.push_str(eol);
            }
            s.push(']');
        } else {
            let entries: Vec<String> = names.iter().map(entry).collect();
            if entries.is_empty() {
                s.push_str("[ ]");
            } else {
                s.push_str(&format!("[ {} ]", entries.join(" ")));
            }
        }
        if l.comments {
            s.push_str(" # end");
        }
        s.push_str(eol);
        s
    }

    fn unique(v: Vec<String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in v {
            if !out.contains(&n) {
                out.push(n);
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn add_then_remove_round_trips_and_keeps_the_rest(
            old in prop::collection::vec(name(), 0..6).prop_map(unique),
            new in prop::collection::vec(name(), 1..4).prop_map(unique),
            l in layout(),
        ) {
            let text = render(&old, &l);
            let mut f = load(&text);
            prop_assert_eq!(names(&f), old.clone());
            let fresh: Vec<String> = new.iter().filter(|n| !old.contains(n)).cloned().collect();
            let out = f.add(&attrs(&new.iter().map(String::as_str).collect::<Vec<_>>())).unwrap();
            prop_assert_eq!(out.added.len(), fresh.len());
            parse(Path::new("x"), f.text()).unwrap();
            let mut want = old.clone();
            want.extend(fresh.iter().cloned());
            prop_assert_eq!(names(&load(f.text())), want);
            // Everything before `[` and after `]` is untouched; line endings stay uniform.
            let open = text.find('[').unwrap();
            prop_assert_eq!(&f.text()[..open], &text[..open]);
            let tail = &text[text.rfind(']').unwrap()..];
            prop_assert!(f.text().ends_with(tail));
            if l.crlf {
                prop_assert_eq!(f.text().matches('\n').count(), f.text().matches("\r\n").count());
            } else {
                prop_assert!(!f.text().contains('\r'));
            }
            f.remove(&attrs(&fresh.iter().map(String::as_str).collect::<Vec<_>>())).unwrap();
            prop_assert_eq!(f.text(), text.as_str());
        }

        #[test]
        fn layout_never_changes_the_digest(
            names in prop::collection::vec(name(), 0..6).prop_map(unique),
            a in layout(),
            b in layout(),
        ) {
            // The prefix style is a real change of tokens; everything else is layout.
            let b = Layout { prefixed: a.prefixed, ..b };
            let da = canonical_digest(Path::new("a"), &render(&names, &a)).unwrap();
            let db = canonical_digest(Path::new("b"), &render(&names, &b)).unwrap();
            prop_assert_eq!(da, db);
        }
    }
}

#[test]
fn save_does_not_overwrite_a_change_made_since_loading() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("user.nix");
    std::fs::write(&p, "{ pkgs }: with pkgs; [ hello ]\n").unwrap();
    let mut f = PackageFile::load(&p).unwrap();
    f.add(&attrs(&["jq"])).unwrap();
    std::fs::write(&p, "{ pkgs }: with pkgs; [ hello git ]\n").unwrap();
    let e = f.save().unwrap_err();
    assert!(matches!(e, NixError::ChangedOnDisk { .. }), "{e}");
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        "{ pkgs }: with pkgs; [ hello git ]\n"
    );
}

#[test]
fn a_quoted_first_name_is_written_as_an_attribute_of_the_package_set() {
    add(
        "{ pkgs }: with pkgs; [ hello ]",
        &["\"a.b\""],
        "{ pkgs }: with pkgs; [ hello pkgs.\"a.b\" ]",
    );
    add(
        "{ pkgs }: [ pkgs.hello ]",
        &["\"7zip\""],
        "{ pkgs }: [ pkgs.hello pkgs.\"7zip\" ]",
    );
    // Without a name for the package set there is no way to write it: refused, not a string.
    let mut f = load("{ ... }: [ ]");
    let e = f.add(&attrs(&["\"a.b\""])).unwrap_err();
    assert!(matches!(e, NixError::BadAttr { .. }), "{e}");
    assert_eq!(f.text(), "{ ... }: [ ]");
}
