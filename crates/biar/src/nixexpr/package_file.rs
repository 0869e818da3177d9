//! A configuration file's package list: find it, read its entries, add and remove packages by
//! editing the source text at the list's offsets, so everything else stays byte-identical.
//!
//! ```no_run
//! use biar::nixexpr::{AttrPath, PackageFile};
//! let mut file = PackageFile::load("user.nix".as_ref())?;
//! for entry in file.packages() {
//!     println!("{} (line {})", entry.attr, entry.line);
//! }
//! let outcome = file.add(&[AttrPath::parse("ripgrep")?])?;
//! if !outcome.added.is_empty() {
//!     file.save()?; // atomic: temp file + rename, mode kept
//! }
//! # Ok::<(), biar::nixexpr::NixError>(())
//! ```

use std::path::{Path, PathBuf};

use rnix::{SyntaxKind, SyntaxNode};
use serde::Serialize;

use super::attr::AttrPath;
use super::parse::parse;
use super::NixError;
use crate::location::Location;

/// One package of the list, as an attribute path relative to the package set (a `pkgs.` prefix
/// the file writes is removed: `pkgs.jq` and `jq` are both `jq`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageEntry {
    pub attr: AttrPath,
    /// 1-based line of the entry in the file.
    pub line: usize,
}

/// An element of the list that is not a plain attribute path (e.g.
/// `(python312.withPackages (ps: [ ps.numpy ]))`): listed, never edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherEntry {
    /// The source text, whitespace runs collapsed to one space.
    pub text: String,
    pub line: usize,
}

/// What [`PackageFile::add`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddOutcome {
    /// Added to the list, in order.
    pub added: Vec<AttrPath>,
    /// Already in the list: nothing changed for these.
    pub already_present: Vec<AttrPath>,
}

/// What [`PackageFile::remove`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoveOutcome {
    pub removed: Vec<AttrPath>,
    /// Not in the list: nothing changed for these.
    pub not_found: Vec<AttrPath>,
}

/// A Nix configuration file (a function of the package set returning a list of packages),
/// loaded for reading and in-place editing. Edits change only [`text`](Self::text) until
/// [`save`](Self::save).
#[derive(Debug, Clone)]
pub struct PackageFile {
    path: PathBuf,
    original: String,
    text: String,
    shape: Shape,
    packages: Vec<PackageEntry>,
    others: Vec<OtherEntry>,
}

/// Where the list is and how the file writes its entries.
#[derive(Debug, Clone)]
struct Shape {
    /// Offset of `[`.
    open: usize,
    /// Offset of `]`.
    close: usize,
    entries: Vec<RawEntry>,
    /// The name the package set is bound to (`pkgs` in `{ pkgs }:` or `pkgs:`).
    pkgs_name: Option<String>,
    /// The list is inside `with <pkgs_name>;`.
    with_pkgs: bool,
}

#[derive(Debug, Clone)]
struct RawEntry {
    start: usize,
    end: usize,
    /// The attribute path relative to the package set, if the entry is one.
    attr: Option<AttrPath>,
    /// Written with the package set's name in front (`pkgs.jq`).
    prefixed: bool,
}

impl PackageFile {
    /// Reads and parses `path` and finds its package list.
    /// Like every project file it must be a regular file within the size limit, UTF-8 without
    /// a BOM ([`crate::fsutil::read_text`]); `path` should be resolved inside the project
    /// (`config::Project::resolve`).
    pub fn load(path: &Path) -> Result<PackageFile, NixError> {
        let text = crate::fsutil::read_text(path, crate::fsutil::MAX_NIX_FILE_BYTES)?;
        PackageFile::from_text(path, text)
    }

    /// Like [`load`](Self::load) with the text given; `path` names the file in errors and is
    /// where [`save`](Self::save) writes.
    pub fn from_text(path: &Path, text: String) -> Result<PackageFile, NixError> {
        let shape = analyse(path, &text)?;
        let mut file = PackageFile {
            path: path.to_path_buf(),
            original: text.clone(),
            text,
            shape,
            packages: Vec::new(),
            others: Vec::new(),
        };
        file.refresh_entries();
        Ok(file)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current text (with any edits not yet saved).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// True when edits changed the text since it was loaded.
    pub fn is_modified(&self) -> bool {
        self.text != self.original
    }

    /// The packages of the list, in file order.
    pub fn packages(&self) -> &[PackageEntry] {
        &self.packages
    }

    /// Entries that are expressions rather than attribute paths (read-only).
    pub fn other_entries(&self) -> &[OtherEntry] {
        &self.others
    }

    /// True when the list holds `attr` (a leading `pkgs.` in `attr` is ignored).
    pub fn contains(&self, attr: &AttrPath) -> bool {
        let attr = self.normalise(attr);
        self.packages.iter().any(|p| p.attr == attr)
    }

    /// The package most like `attr` (for "did you mean" when it is not there), if one is close.
    pub fn closest_package(&self, attr: &AttrPath) -> Option<&PackageEntry> {
        let want = self.normalise(attr).to_string();
        self.packages
            .iter()
            .map(|p| (strsim::jaro_winkler(&want, &p.attr.to_string()), p))
            .filter(|(score, _)| *score >= 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, p)| p)
    }

    /// Adds each attribute not yet in the list, at its end, in the style of its neighbours.
    /// Attributes already present are reported, not duplicated.
    pub fn add(&mut self, attrs: &[AttrPath]) -> Result<AddOutcome, NixError> {
        let mut outcome = AddOutcome::default();
        for attr in attrs {
            let attr = self.normalise(attr);
            if attr.needs_head() && self.shape.pkgs_name.is_none() {
                return Err(NixError::BadAttr {
                    attr: attr.to_string(),
                    reason: "a name that needs quotes must follow the package set's name \
                             (`pkgs.\"…\"`; alone it would be a string), and this file's function \
                             does not name its package set"
                        .into(),
                });
            }
            if self.contains(&attr) {
                if !outcome.already_present.contains(&attr) {
                    outcome.already_present.push(attr);
                }
                continue;
            }
            let (offset, insert) = self.insertion(&attr);
            let mut text = self.text.clone();
            text.insert_str(offset, &insert);
            self.replace_text(text)?;
            outcome.added.push(attr);
        }
        Ok(outcome)
    }

    /// Removes every occurrence of each attribute (with its own line when it stands alone on
    /// one, trailing comment included).
    pub fn remove(&mut self, attrs: &[AttrPath]) -> Result<RemoveOutcome, NixError> {
        let mut outcome = RemoveOutcome::default();
        for attr in attrs {
            let attr = self.normalise(attr);
            let mut found = false;
            while let Some(i) = self
                .shape
                .entries
                .iter()
                .position(|e| e.attr.as_ref() == Some(&attr))
            {
                let (start, end) = self.removal(i);
                let mut text = self.text.clone();
                text.replace_range(start..end, "");
                self.replace_text(text)?;
                found = true;
            }
            if found {
                outcome.removed.push(attr);
            } else if !outcome.not_found.contains(&attr) {
                outcome.not_found.push(attr);
            }
        }
        Ok(outcome)
    }

    /// Writes the edited text atomically (temp file in the same folder, fsync, rename; the file's
    /// mode is kept). Returns false, writing nothing, when nothing changed. If the file on disk
    /// is no longer the text it was loaded from (an edit outside the project's
    /// `config::EditLock`), nothing is written: [`NixError::ChangedOnDisk`].
    pub fn save(&mut self) -> Result<bool, NixError> {
        if !self.is_modified() {
            return Ok(false);
        }
        let now = crate::fsutil::read_text(&self.path, crate::fsutil::MAX_NIX_FILE_BYTES);
        if now.ok().as_deref() != Some(self.original.as_str()) {
            return Err(NixError::ChangedOnDisk {
                path: self.path.clone(),
            });
        }
        crate::fsutil::write_atomic(&self.path, self.text.as_bytes()).map_err(|source| {
            NixError::Io {
                path: self.path.clone(),
                source,
            }
        })?;
        self.original = self.text.clone();
        Ok(true)
    }

    /// Drops the file's `pkgs.` prefix from a user's attribute (`pkgs.jq` → `jq`).
    fn normalise(&self, attr: &AttrPath) -> AttrPath {
        let name = self.shape.pkgs_name.as_deref().unwrap_or("pkgs");
        attr.strip_prefix(name).unwrap_or_else(|| attr.clone())
    }

    /// Takes edited text only if it still parses to a file with a package list.
    fn replace_text(&mut self, text: String) -> Result<(), NixError> {
        let shape = analyse(&self.path, &text).map_err(|e| NixError::EditBroke {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        self.text = text;
        self.shape = shape;
        self.refresh_entries();
        Ok(())
    }

    fn refresh_entries(&mut self) {
        self.packages.clear();
        self.others.clear();
        for e in &self.shape.entries {
            let line = Location::from_offset(&self.path, &self.text, e.start).line;
            match &e.attr {
                Some(attr) => self.packages.push(PackageEntry {
                    attr: attr.clone(),
                    line,
                }),
                None => self.others.push(OtherEntry {
                    text: self.text[e.start..e.end]
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                    line,
                }),
            }
        }
    }

    fn eol(&self) -> &'static str {
        if self.text.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        }
    }

    /// How the new entry is written: with the prefix if the neighbours use one (or, in an empty
    /// list, if no `with pkgs;` scope makes names visible).
    fn render(&self, attr: &AttrPath) -> String {
        let prefixed = match self.shape.entries.iter().rev().find(|e| e.attr.is_some()) {
            Some(e) => e.prefixed,
            None => !self.shape.with_pkgs && self.shape.pkgs_name.is_some(),
        } || attr.needs_head();
        match (&self.shape.pkgs_name, prefixed) {
            (Some(name), true) => attr.with_prefix(name).to_string(),
            _ => attr.to_string(),
        }
    }

    /// Where to insert and what, for a new entry at the end of the list.
    fn insertion(&self, attr: &AttrPath) -> (usize, String) {
        let text = &self.text;
        let new = self.render(attr);
        let eol = self.eol();
        let Shape {
            open,
            close,
            entries,
            ..
        } = &self.shape;
        let multiline = text[*open..*close].contains('\n');
        if let Some(last) = entries.last() {
            if !multiline {
                // Inline: the separator the last two entries use, else one space.
                let sep = match entries.len() {
                    n if n >= 2 => {
                        let between = &text[entries[n - 2].end..last.start];
                        if !between.is_empty() && between.chars().all(|c| c == ' ' || c == '\t') {
                            between.to_string()
                        } else {
                            " ".to_string()
                        }
                    }
                    _ => " ".to_string(),
                };
                return (last.end, format!("{sep}{new}"));
            }
            let indent = self.entry_indent();
            let line_end = text[last.end..].find('\n').map(|i| last.end + i);
            match line_end {
                // `]` is on a later line: a line of its own after the last entry's line (which
                // may end with the entry's comment).
                Some(nl) if nl < *close => (nl + 1, format!("{indent}{new}{eol}")),
                // `]` follows the last entry on its line: break the line before it.
                _ => (last.end, format!("{eol}{indent}{new}")),
            }
        } else if multiline {
            let indent = format!("{}{}", line_indent(text, *open), self.indent_unit());
            let close_line = line_start(text, *close);
            if text[close_line..*close].trim().is_empty() {
                (close_line, format!("{indent}{new}{eol}"))
            } else {
                (*close, format!("{new} "))
            }
        } else if text[..*close].ends_with([' ', '\t']) {
            (*close, format!("{new} "))
        } else {
            (*close, format!(" {new} "))
        }
    }

    /// The indentation of entries that begin a line (the last such one), or the `[` line's
    /// indentation plus one unit.
    fn entry_indent(&self) -> String {
        let text = &self.text;
        for e in self.shape.entries.iter().rev() {
            let ls = line_start(text, e.start);
            if ls > self.shape.open && text[ls..e.start].trim().is_empty() {
                return text[ls..e.start].to_string();
            }
        }
        format!(
            "{}{}",
            line_indent(text, self.shape.open),
            self.indent_unit()
        )
    }

    /// A tab if the file indents with tabs, else two spaces.
    fn indent_unit(&self) -> &'static str {
        if self.text.lines().any(|l| l.starts_with('\t')) {
            "\t"
        } else {
            "  "
        }
    }

    /// The byte range to delete to remove entry `i`.
    fn removal(&self, i: usize) -> (usize, usize) {
        let text = &self.text;
        let e = &self.shape.entries[i];
        let ls = line_start(text, e.start);
        let (le, le_incl) = match text[e.end..].find('\n') {
            Some(n) => (e.end + n, e.end + n + 1),
            None => (text.len(), text.len()),
        };
        let before = &text[ls..e.start];
        let after = text[e.end..le].trim();
        let alone = ls > self.shape.open
            && le <= self.shape.close
            && before.trim().is_empty()
            && (after.is_empty() || after.starts_with('#'));
        if alone {
            return (ls, le_incl);
        }
        let is_blank = |s: &str| !s.is_empty() && s.chars().all(|c| c == ' ' || c == '\t');
        // Blanks right before the entry (not the line's indentation) and right after it.
        let prev_start = text[..e.start].trim_end_matches([' ', '\t']).len();
        let rest = &text[e.end..];
        let next_end = e.end + (rest.len() - rest.trim_start_matches([' ', '\t']).len());
        let prev = prev_start != ls && is_blank(&text[prev_start..e.start]);
        let next = is_blank(&text[e.end..next_end]);
        let after_open = prev_start == self.shape.open + 1;
        let before_close = next_end == self.shape.close;
        let pulled_back = text[..e.start].trim_end().len();
        let prev_line = &text[line_start(text, pulled_back)..pulled_back];
        if before_close
            && prev_start == ls
            && pulled_back > self.shape.open
            && !prev_line.contains('#')
        {
            (pulled_back, e.end) // `a\n  b ]` → `a ]`
        } else if prev && !after_open {
            (prev_start, e.end) // `[ a b ]` → `[ a ]`
        } else if next {
            (e.start, next_end) // `[ a b ]` → `[ b ]`, `[ a ]` → `[ ]`
        } else if prev {
            (prev_start, e.end) // `[ a\n` → `[\n`
        } else {
            (e.start, e.end)
        }
    }
}

/// Parses and finds the list, or says why there is none.
fn analyse(path: &Path, text: &str) -> Result<Shape, NixError> {
    let root = parse(path, text)?;
    let no_list = |node: &SyntaxNode, reason: String| NixError::NoPackageList {
        at: Location::from_offset(path, text, usize::from(node.text_range().start())),
        reason,
    };
    let mut node = root
        .children()
        .next()
        .ok_or_else(|| no_list(&root, "the file is empty".to_string()))?;
    let mut pkgs_name: Option<String> = None;
    let mut with_pkgs = false;
    loop {
        match node.kind() {
            SyntaxKind::NODE_LAMBDA => {
                if let Some(param) = node.children().next() {
                    pkgs_name = pkgs_name.or_else(|| package_set_name(&param));
                }
                node = last_child(&node)
                    .ok_or_else(|| no_list(&node, "a function without a body".into()))?;
            }
            SyntaxKind::NODE_WITH => {
                let mut kids = node.children();
                let scope = kids.next();
                let is_pkgs = scope.as_ref().is_some_and(|s| {
                    s.kind() == SyntaxKind::NODE_IDENT
                        && Some(s.text().to_string()) == pkgs_name.clone().or(Some("pkgs".into()))
                });
                with_pkgs |= is_pkgs;
                node = last_child(&node)
                    .ok_or_else(|| no_list(&node, "`with` without a body".into()))?;
            }
            SyntaxKind::NODE_LET_IN | SyntaxKind::NODE_PAREN | SyntaxKind::NODE_ASSERT => {
                node = last_child(&node)
                    .ok_or_else(|| no_list(&node, "an expression without a body".into()))?;
            }
            SyntaxKind::NODE_LIST => break,
            kind => return Err(no_list(&node, why_not_a_list(kind, &node))),
        }
    }
    let mut open = None;
    let mut close = None;
    let mut entries = Vec::new();
    for child in node.children_with_tokens() {
        match child {
            rnix::NodeOrToken::Token(t) => match t.kind() {
                SyntaxKind::TOKEN_L_BRACK => open = Some(usize::from(t.text_range().start())),
                SyntaxKind::TOKEN_R_BRACK => close = Some(usize::from(t.text_range().start())),
                _ => {}
            },
            rnix::NodeOrToken::Node(n) => {
                let range = n.text_range();
                let written = attr_of(&n);
                let (attr, prefixed) = match written {
                    Some(a) => {
                        let name = pkgs_name.as_deref().unwrap_or("pkgs");
                        match a.strip_prefix(name) {
                            Some(stripped) => (Some(stripped), true),
                            None => (Some(a), false),
                        }
                    }
                    None => (None, false),
                };
                entries.push(RawEntry {
                    start: range.start().into(),
                    end: range.end().into(),
                    attr,
                    prefixed,
                });
            }
        }
    }
    match (open, close) {
        (Some(open), Some(close)) => Ok(Shape {
            open,
            close,
            entries,
            pkgs_name,
            with_pkgs,
        }),
        _ => Err(no_list(&node, "the list is not closed".into())),
    }
}

fn last_child(node: &SyntaxNode) -> Option<SyntaxNode> {
    node.children().last()
}

/// `pkgs` for `pkgs:` and for `{ pkgs, ... }:` (or `{ pkgs ? … }:`).
fn package_set_name(param: &SyntaxNode) -> Option<String> {
    match param.kind() {
        SyntaxKind::NODE_IDENT_PARAM => Some(param.text().to_string().trim().to_string()),
        SyntaxKind::NODE_PATTERN => param
            .children()
            .filter(|c| c.kind() == SyntaxKind::NODE_PAT_ENTRY)
            .filter_map(|c| c.children().next())
            .map(|ident| ident.text().to_string())
            .find(|name| name == "pkgs"),
        _ => None,
    }
}

/// The attribute path an entry spells, if it is one (`jq`, `pkgs.jq`, `a."b+"`).
fn attr_of(node: &SyntaxNode) -> Option<AttrPath> {
    match node.kind() {
        SyntaxKind::NODE_IDENT => Some(AttrPath::from_segments(vec![node.text().to_string()])),
        SyntaxKind::NODE_SELECT => {
            let mut segments = Vec::new();
            let mut kids = node.children();
            let head = kids.next()?;
            if head.kind() != SyntaxKind::NODE_IDENT {
                return None;
            }
            segments.push(head.text().to_string());
            let path = kids.next()?;
            if path.kind() != SyntaxKind::NODE_ATTRPATH || kids.next().is_some() {
                return None; // `a.b or c` has a default: not a plain path.
            }
            for part in path.children() {
                match part.kind() {
                    SyntaxKind::NODE_IDENT => segments.push(part.text().to_string()),
                    SyntaxKind::NODE_STRING => {
                        let content: Vec<_> = part
                            .children_with_tokens()
                            .filter(|t| t.kind() == SyntaxKind::TOKEN_STRING_CONTENT)
                            .collect();
                        if part.children().next().is_some() || content.len() != 1 {
                            return None; // interpolated or empty
                        }
                        let s = content[0].as_token()?.text().to_string();
                        if s.contains('\\') {
                            return None;
                        }
                        segments.push(s);
                    }
                    _ => return None,
                }
            }
            Some(AttrPath::from_segments(segments))
        }
        _ => None,
    }
}

fn why_not_a_list(kind: SyntaxKind, node: &SyntaxNode) -> String {
    let shape = "a configuration file is a function returning one list, e.g. \
                 `{ pkgs }: with pkgs; [ hello ]`";
    match kind {
        SyntaxKind::NODE_ATTR_SET => {
            format!("the file's value is an attribute set `{{ … }}`, not a list; {shape}")
        }
        SyntaxKind::NODE_BIN_OP if is_concat(node) => format!(
            "the list is joined from several parts with `++`; put the packages in one list `[ … ]` \
             to edit them here ({shape})"
        ),
        SyntaxKind::NODE_APPLY => format!("the file returns a function call, not a list; {shape}"),
        SyntaxKind::NODE_IF_ELSE => format!("the list is chosen by `if … then … else`; {shape}"),
        _ => format!("expected a list `[ … ]` here; {shape}"),
    }
}

/// `a ++ b`.
fn is_concat(node: &SyntaxNode) -> bool {
    node.children_with_tokens()
        .any(|c| c.kind() == SyntaxKind::TOKEN_CONCAT)
}

/// Offset of the start of the line holding `offset`.
fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// The leading whitespace of the line holding `offset`.
fn line_indent(text: &str, offset: usize) -> &str {
    let ls = line_start(text, offset);
    let line = &text[ls..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

#[cfg(test)]
#[path = "package_file_tests.rs"]
mod tests;
