//! Build logs come from arbitrary programs: before a line reaches the screen every terminal
//! control sequence is removed, except SGR colours, which are turned into ratatui styles (so even
//! those never reach the terminal as bytes).

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// Longest line kept (in chars); a runaway line must not cost a frame.
const MAX_CHARS: usize = 4096;
const TAB_WIDTH: usize = 8;

/// Removes every control sequence and control character from `line` except SGR (`ESC [ … m`),
/// through the filter the CLI uses too ([`biar::progress::neutralise_log`]), then lays the line out
/// for a cell grid.
///
/// Carriage returns are progress-bar redraws: only the last non-empty segment is kept. Tabs become
/// spaces. A runaway line is cut at [`MAX_CHARS`] columns.
pub fn sanitize(line: &str) -> String {
    let line = line
        .trim_end_matches(['\r', '\n'])
        .split('\r')
        .rev()
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let neutral = biar::progress::neutralise_log(line);
    let mut out = String::with_capacity(neutral.len());
    let mut chars = neutral.chars();
    let mut column = 0usize;
    while let Some(c) = chars.next() {
        if column >= MAX_CHARS {
            break;
        }
        match c {
            // Only plain SGR is left: copied through, it takes no column.
            '\x1b' => {
                out.push(c);
                for c in chars.by_ref() {
                    out.push(c);
                    if c == 'm' {
                        break;
                    }
                }
            }
            '\t' => {
                let n = TAB_WIDTH - column % TAB_WIDTH;
                out.extend(std::iter::repeat_n(' ', n));
                column += n;
            }
            c => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

/// A sanitized line (see [`sanitize`]) as styled spans.
pub fn to_line(sanitized: &str) -> Line<'static> {
    let mut spans = Vec::new();
    let mut style = Style::default();
    let mut rest = sanitized;
    while let Some(start) = rest.find("\x1b[") {
        if start > 0 {
            spans.push(Span::styled(rest[..start].to_string(), style));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find('m') else {
            rest = "";
            break;
        };
        style = apply_sgr(style, &after[..end]);
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        spans.push(Span::styled(rest.to_string(), style));
    }
    Line::from(spans)
}

/// A raw log line, neutralised and styled: what the build view stores.
pub fn log_line(raw: &str) -> Line<'static> {
    to_line(&sanitize(raw))
}

fn apply_sgr(mut style: Style, params: &str) -> Style {
    let codes: Vec<u16> = params
        .split([';', ':'])
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    let mut i = 0;
    while i < codes.len() {
        let code = codes[i];
        match code {
            0 => style = Style::default(),
            1 => style = style.add_modifier(Modifier::BOLD),
            2 => style = style.add_modifier(Modifier::DIM),
            3 => style = style.add_modifier(Modifier::ITALIC),
            4 => style = style.add_modifier(Modifier::UNDERLINED),
            7 => style = style.add_modifier(Modifier::REVERSED),
            9 => style = style.add_modifier(Modifier::CROSSED_OUT),
            22 => style = style.remove_modifier(Modifier::BOLD | Modifier::DIM),
            23 => style = style.remove_modifier(Modifier::ITALIC),
            24 => style = style.remove_modifier(Modifier::UNDERLINED),
            27 => style = style.remove_modifier(Modifier::REVERSED),
            29 => style = style.remove_modifier(Modifier::CROSSED_OUT),
            30..=37 => style = style.fg(Color::Indexed((code - 30) as u8)),
            39 => style.fg = None,
            40..=47 => style = style.bg(Color::Indexed((code - 40) as u8)),
            49 => style.bg = None,
            90..=97 => style = style.fg(Color::Indexed((code - 90 + 8) as u8)),
            100..=107 => style = style.bg(Color::Indexed((code - 100 + 8) as u8)),
            38 | 48 => {
                let color = match codes.get(i + 1) {
                    Some(5) => {
                        let c = codes.get(i + 2).map(|&n| Color::Indexed(n.min(255) as u8));
                        i += 2;
                        c
                    }
                    Some(2) => {
                        let rgb: Vec<u8> = (0..3)
                            .map(|k| codes.get(i + 2 + k).copied().unwrap_or(0).min(255) as u8)
                            .collect();
                        i += 4;
                        Some(Color::Rgb(rgb[0], rgb[1], rgb[2]))
                    }
                    _ => None,
                };
                if let Some(color) = color {
                    style = if code == 38 {
                        style.fg(color)
                    } else {
                        style.bg(color)
                    };
                }
            }
            _ => {}
        }
        i += 1;
    }
    style
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes() {
        assert_eq!(sanitize("make: all done"), "make: all done");
    }

    #[test]
    fn sgr_colours_are_kept() {
        assert_eq!(
            sanitize("\x1b[1;31merror\x1b[0m: x"),
            "\x1b[1;31merror\x1b[0m: x"
        );
        assert_eq!(sanitize("\x1b[38;5;208mo\x1b[m"), "\x1b[38;5;208mo\x1b[m");
    }

    #[test]
    fn cursor_moves_and_clears_are_removed() {
        for seq in [
            "\x1b[2J",
            "\x1b[H",
            "\x1b[10;20H",
            "\x1b[K",
            "\x1b[1A",
            "\x1b[?1049h",
            "\x1b[?25l",
            "\x1b[?1000h",
            "\x1b[6n",
            "\x1b[>c",
            "\x1b[3 q",
            "\x1b[r",
        ] {
            assert_eq!(sanitize(&format!("a{seq}b")), "ab", "{seq:?}");
        }
    }

    #[test]
    fn private_or_odd_sgr_lookalikes_are_removed() {
        // `ESC [ > 4 ; 2 m` sets a keyboard mode in xterm: not a colour.
        assert_eq!(sanitize("a\x1b[>4;2mb"), "ab");
        assert_eq!(sanitize("a\x1b[?1mb"), "ab");
    }

    #[test]
    fn osc_dcs_apc_strings_are_removed() {
        assert_eq!(sanitize("a\x1b]0;title\x07b"), "ab");
        assert_eq!(
            sanitize("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b"),
            "alinkb"
        );
        assert_eq!(sanitize("a\x1b]52;c;Zm9v\x07b"), "ab", "clipboard write");
        assert_eq!(sanitize("a\x1bPq#0;2;0;0;0\x1b\\b"), "ab");
        assert_eq!(sanitize("a\x1b_Gf=100;AAAA\x1b\\b"), "ab");
        assert_eq!(sanitize("a\x1b^pm\x1b\\b"), "ab");
        assert_eq!(sanitize("a\x1b]0;never ends"), "a");
    }

    #[test]
    fn two_byte_escapes_and_charsets_are_removed() {
        assert_eq!(sanitize("a\x1bcb"), "ab", "full reset");
        assert_eq!(sanitize("a\x1b7b\x1b8c"), "abc");
        assert_eq!(sanitize("a\x1b(0b"), "ab", "line drawing charset");
        assert_eq!(sanitize("a\x1b#8b"), "ab");
        assert_eq!(sanitize("trailing\x1b"), "trailing");
    }

    #[test]
    fn c0_and_c1_controls_are_removed() {
        assert_eq!(sanitize("a\x07b\x08c\x00d\x7fe\x0ef"), "abcdef");
        assert_eq!(sanitize("a\u{9b}2Jb"), "ab", "8-bit CSI");
        assert_eq!(sanitize("a\u{9d}0;t\u{9c}b"), "ab", "8-bit OSC");
        assert_eq!(sanitize("a\u{85}b"), "ab");
    }

    #[test]
    fn carriage_returns_keep_the_last_redraw() {
        assert_eq!(sanitize("10%\r50%\r100%"), "100%");
        assert_eq!(sanitize("done\r\n"), "done");
        assert_eq!(sanitize("\r"), "");
    }

    #[test]
    fn tabs_become_spaces() {
        assert_eq!(sanitize("a\tb"), "a       b");
        assert_eq!(sanitize("\tx"), "        x");
    }

    #[test]
    fn long_lines_are_cut() {
        assert_eq!(sanitize(&"x".repeat(10_000)).len(), MAX_CHARS);
    }

    #[test]
    fn unicode_survives() {
        assert_eq!(sanitize("größe ✓ 日本"), "größe ✓ 日本");
    }

    #[test]
    fn styles_follow_sgr() {
        let line = log_line("\x1b[31merr\x1b[0m ok \x1b[1;38;2;1;2;3mrgb");
        assert_eq!(line.spans.len(), 3);
        assert_eq!(line.spans[0].content, "err");
        assert_eq!(line.spans[0].style.fg, Some(Color::Indexed(1)));
        assert_eq!(line.spans[1].content, " ok ");
        assert_eq!(line.spans[1].style, Style::default());
        assert_eq!(line.spans[2].style.fg, Some(Color::Rgb(1, 2, 3)));
        assert!(line.spans[2].style.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn no_escape_byte_survives_to_the_screen() {
        let nasty = "\x1b[2J\x1b]0;x\x07\x1b[31mred\x1b[0m\x1b[?1049l\u{9b}H";
        let line = log_line(nasty);
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "red");
        assert!(!text.chars().any(|c| c.is_control()));
    }
}
