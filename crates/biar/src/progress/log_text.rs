//! Build log lines come from arbitrary programs: before one reaches a terminal (the CLI prints it,
//! the TUI styles it) every control sequence that could move the cursor, clear the screen, set a
//! title, write the clipboard or change modes is removed. SGR colours (`ESC [ … m`) stay.

/// Removes every control sequence and control character from `line` except plain SGR colours
/// and tabs. OSC/DCS/APC/PM/SOS strings, other CSI sequences (cursor moves, clears, modes,
/// private-parameter SGR), two-byte escapes and C0/C1 controls (carriage returns included) are
/// dropped, terminated or not.
pub fn neutralise_log(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => csi(&mut chars, &mut out),
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                // ESC, intermediates (0x20-0x2F), one final byte: charset selection, save cursor, reset…
                Some(c) if ('\x20'..='\x2f').contains(&c) => {
                    while chars.next_if(|c| ('\x20'..='\x2f').contains(c)).is_some() {}
                    chars.next();
                }
                _ => {}
            },
            // 8-bit CSI: even an SGR is dropped, since terminals disagree on C1.
            '\u{9b}' => csi(&mut chars, &mut String::new()),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// A CSI sequence after `ESC [`: kept in `out` only when it is a plain SGR.
fn csi(chars: &mut Chars<'_>, out: &mut String) {
    let mut body = String::new();
    for c in chars.by_ref() {
        if ('\x40'..='\x7e').contains(&c) {
            if c == 'm'
                && body
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ';' || c == ':')
            {
                out.push_str("\x1b[");
                out.push_str(&body);
                out.push('m');
            }
            return;
        }
        if !('\x20'..='\x3f').contains(&c) {
            // Not a valid CSI byte: the sequence is broken; drop what we saw.
            return;
        }
        body.push(c);
    }
}

/// Skips a control string up to BEL or ST (`ESC \`, or the C1 ST).
fn skip_string(chars: &mut Chars<'_>) {
    while let Some(c) = chars.next() {
        match c {
            '\x07' | '\u{9c}' => return,
            '\x1b' => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::neutralise_log;

    #[test]
    fn logs_keep_colours_but_lose_other_control_sequences() {
        assert_eq!(
            neutralise_log("\u{1b}[31mred\u{1b}[0m\u{1b}[2J\rx\u{7}"),
            "\u{1b}[31mred\u{1b}[0mx"
        );
    }

    #[test]
    fn strings_lose_their_payload_and_tabs_stay() {
        assert_eq!(neutralise_log("a\x1b]0;title\x07b"), "ab");
        assert_eq!(neutralise_log("a\u{9b}2Jb"), "ab");
        assert_eq!(neutralise_log("a\tb"), "a\tb");
    }
}
