//! Text that is not ours (build logs, Nix's and the engine's messages, project files) comes from
//! arbitrary programs and people: before any of it reaches a terminal (the CLI prints it, the TUI
//! styles it) every control sequence that could move the cursor, clear the screen, set a title,
//! write the clipboard or change modes is removed. This file is the one place that knows how;
//! every front end goes through it. SGR colours (`ESC [ … m`) may stay, closed at the line's end.

/// Removes every control sequence and control character from `line` except plain SGR colours
/// and tabs. OSC/DCS/APC/PM/SOS strings, other CSI sequences (cursor moves, clears, modes,
/// private-parameter SGR), two-byte escapes, C0/C1 controls (carriage returns and newlines
/// included) and the invisible characters that reorder text (bidi overrides) are dropped,
/// terminated or not. A line left with a colour on ends with a reset, so the colour cannot
/// leak into what follows.
pub fn neutralise_log(line: &str) -> String {
    neutralise(line, true)
}

/// [`neutralise_log`] without the colours: nothing but printable text and tabs (for text that is
/// searched or compared, such as Nix's error messages).
pub fn plain_text(line: &str) -> String {
    neutralise(line, false)
}

/// [`neutralise_log`] for text of several lines: each line alone, newlines kept.
pub fn neutralise_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&neutralise_log(line));
    }
    out
}

fn neutralise(line: &str, keep_colours: bool) -> String {
    let mut out = String::with_capacity(line.len());
    let mut colour_on = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => {
                    if let Some(sgr) = csi(&mut chars) {
                        if keep_colours {
                            colour_on = !sgr.split([';', ':']).all(|p| p.is_empty() || p == "0");
                            out.push_str("\x1b[");
                            out.push_str(&sgr);
                            out.push('m');
                        }
                    }
                }
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                // ESC, intermediates (0x20-0x2F), one final byte: charset selection, save cursor, reset…
                Some(c) if ('\x20'..='\x2f').contains(&c) => {
                    while chars.next_if(|c| ('\x20'..='\x2f').contains(c)).is_some() {}
                    chars.next();
                }
                _ => {}
            },
            // 8-bit CSI: even an SGR is dropped, since terminals disagree on C1.
            '\u{9b}' => {
                csi(&mut chars);
            }
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\t' => out.push('\t'),
            c if c.is_control() || reorders_text(c) => {}
            c => out.push(c),
        }
    }
    if colour_on {
        out.push_str("\x1b[0m");
    }
    out
}

/// Bidirectional embeddings, overrides and isolates: invisible, they make a line show other than
/// it reads ("Trojan Source").
fn reorders_text(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// A CSI sequence after `ESC [`: its parameters when it is a plain SGR, else `None` (consumed).
fn csi(chars: &mut Chars<'_>) -> Option<String> {
    let mut body = String::new();
    for c in chars.by_ref() {
        if ('\x40'..='\x7e').contains(&c) {
            let plain_sgr = c == 'm'
                && body
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ';' || c == ':');
            return plain_sgr.then_some(body);
        }
        if !('\x20'..='\x3f').contains(&c) {
            // Not a valid CSI byte: the sequence is broken; drop what we saw.
            return None;
        }
        body.push(c);
    }
    None
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
    use super::*;

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

    #[test]
    fn clipboard_title_and_c1_strings_go_whole() {
        // OSC 52 (clipboard), terminated by ST, by BEL, or not at all.
        assert_eq!(neutralise_log("a\x1b]52;c;ZXZpbA==\x1b\\b"), "ab");
        assert_eq!(neutralise_log("a\x1b]52;c;ZXZpbA==\x07b"), "ab");
        assert_eq!(neutralise_log("a\x1b]52;c;ZXZpbA=="), "a");
        // 8-bit OSC, DCS and a lone C1 control.
        assert_eq!(
            neutralise_log("a\u{9d}0;t\u{9c}b\u{90}x\u{9c}c\u{85}d"),
            "abcd"
        );
        // Other escapes: keypad mode, charset, full reset.
        assert_eq!(neutralise_log("a\x1b=b\x1b(0c\x1bcd"), "abcd");
    }

    #[test]
    fn a_colour_left_on_is_closed_and_reordering_marks_go() {
        assert_eq!(neutralise_log("\x1b[8mhidden"), "\x1b[8mhidden\x1b[0m");
        assert_eq!(neutralise_log("\x1b[1;31mx\x1b[m"), "\x1b[1;31mx\x1b[m");
        assert_eq!(neutralise_log("abc\u{202e}fed"), "abcfed");
    }

    #[test]
    fn plain_text_drops_colours_too() {
        assert_eq!(
            plain_text("\x1b[31;1merror:\x1b[0m builder for '\x1b[35;1m/nix/store/x.drv\x1b[0m'"),
            "error: builder for '/nix/store/x.drv'"
        );
    }

    #[test]
    fn text_keeps_its_lines() {
        assert_eq!(
            neutralise_text("one\x1b]0;t\x07\n\x1b[2Jtwo\r\n"),
            "one\ntwo\n"
        );
    }
}
