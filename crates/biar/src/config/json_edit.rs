//! Replacing one top-level value of a JSON document by editing its text, so every other byte
//! (keys, order, spacing, inline objects) stays as the user wrote it.

/// The byte range of the value of top-level key `key` in `text`, if the text is a JSON object
/// that has it. `text` must be valid JSON (callers parse it first).
pub fn top_level_value_span(text: &str, key: &str) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(b, i);
        match b.get(i)? {
            b'}' => return None,
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = skip_string(b, i)?;
        let name: String = serde_json::from_str(&text[i..key_end]).ok()?;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, i + 1);
        let end = skip_value(b, start)?;
        if name == key {
            return Some((start, end));
        }
        i = end;
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// `b[i]` is `"`; returns the offset after the closing quote.
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Returns the offset after the value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            Some(j)
        }
    }
}

/// A JSON array of strings written like `old` (the array text it replaces): on one line as
/// `["a", "b"]` if `old` was on one line, else one element per line with `old`'s element
/// indentation (or the key line's plus `unit`), the closing bracket at the key line's indentation.
pub fn string_array_like(items: &[String], old: &str, key_line_indent: &str, eol: &str) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| serde_json::to_string(s).expect("a string serialises"))
        .collect();
    if !old.contains('\n') || items.is_empty() {
        let inner_pad = if old.starts_with("[ ") { " " } else { "" };
        if items.is_empty() {
            return "[]".to_string();
        }
        return format!("[{inner_pad}{}{inner_pad}]", quoted.join(", "));
    }
    // Indentation of the first element line in the old array.
    let element_indent = old
        .lines()
        .skip(1)
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with(']'))
        .map(|l| l[..l.len() - l.trim_start().len()].to_string())
        .unwrap_or_else(|| format!("{key_line_indent}  "));
    let mut out = String::from("[");
    for (i, q) in quoted.iter().enumerate() {
        out.push_str(eol);
        out.push_str(&element_indent);
        out.push_str(q);
        if i + 1 < quoted.len() {
            out.push(',');
        }
    }
    out.push_str(eol);
    out.push_str(key_line_indent);
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_top_level_values_only() {
        let t = r#"{ "a": {"userConfig": 1}, "s": "x\"}", "userConfig" : [ "u" ], "z": 2 }"#;
        let (s, e) = top_level_value_span(t, "userConfig").unwrap();
        assert_eq!(&t[s..e], r#"[ "u" ]"#);
        let (s, e) = top_level_value_span(t, "z").unwrap();
        assert_eq!(&t[s..e], "2");
        assert!(top_level_value_span(t, "nope").is_none());
        assert!(top_level_value_span("[1]", "a").is_none());
    }

    #[test]
    fn arrays_keep_their_layout() {
        let items = vec!["a.nix".to_string(), "b.nix".to_string()];
        assert_eq!(
            string_array_like(&items, "[\"x\"]", "", "\n"),
            "[\"a.nix\", \"b.nix\"]"
        );
        assert_eq!(
            string_array_like(&items, "[ \"x\" ]", "", "\n"),
            "[ \"a.nix\", \"b.nix\" ]"
        );
        assert_eq!(
            string_array_like(&items, "[\n\t\t\"x\"\n\t]", "\t", "\n"),
            "[\n\t\t\"a.nix\",\n\t\t\"b.nix\"\n\t]"
        );
        assert_eq!(string_array_like(&[], "[\n  \"x\"\n]", "", "\n"), "[]");
    }
}
