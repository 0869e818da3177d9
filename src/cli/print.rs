//! The CLI's one way to the terminal. Most of what it prints names things that are not ours
//! (build logs, Nix's and the engine's messages, preset descriptions, attribute names, config.json
//! strings in errors), so every line of results, progress and errors goes through the one
//! sanitizer, [`biar::progress::neutralise_text`], here. Print with [`outln!`] and [`errln!`], never
//! `println!`/`eprintln!` (a test below keeps it so). The run of the environment itself writes
//! the container's output raw: that terminal is the user's shell.

use std::io::Write as _;

/// `text` as it may reach a terminal: no control sequence but colours, newlines kept.
pub fn clean(text: &str) -> String {
    biar::progress::neutralise_text(text)
}

/// One line (or several) on stdout. A closed pipe (`| head`) is not an error.
pub fn out(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{}", clean(text));
}

/// One line (or several) on stderr.
pub fn err(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", clean(text));
}

/// `println!` through the sanitizer.
macro_rules! outln {
    () => { $crate::cli::print::out("") };
    ($($arg:tt)*) => { $crate::cli::print::out(&format!($($arg)*)) };
}

/// `eprintln!` through the sanitizer.
macro_rules! errln {
    () => { $crate::cli::print::err("") };
    ($($arg:tt)*) => { $crate::cli::print::err(&format!($($arg)*)) };
}

pub(crate) use {errln, outln};

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every `.rs` file under `dir`.
    fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The front ends print only through this module (the TUI draws through ratatui's buffer and
    /// prints nothing), so nothing reaches the terminal around the sanitizer.
    #[test]
    fn nothing_prints_around_the_sanitizer() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&root.join("cli"), &mut files);
        sources(&root.join("tui"), &mut files);
        sources(&root.join("serve"), &mut files);
        files.push(root.join("main.rs"));
        let forbidden = [
            "println!",
            "print!(",
            "eprint!(",
            "dbg!(",
            "io::stdout().lock()",
            "io::stderr().lock()",
            // `writeln!(std::io::stderr(), …)` and `write_all(&mut std::io::stderr(), …)`
            // (the TUI's crossterm commands to stdout are ours, not text).
            "io::stderr(),",
            "&mut std::io::stdout()",
            "&mut std::io::stderr()",
        ];
        let mut found = Vec::new();
        for file in files {
            if file.ends_with("cli/print.rs") || file.ends_with("serve/print.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for f in forbidden {
                    if line.contains(f) {
                        found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "print with outln!/errln! (cli::print) so the text is sanitized:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn printed_text_loses_control_sequences_but_keeps_its_lines() {
        assert_eq!(
            super::clean("a\x1b]52;c;eA==\x07\nb\x1b[2J\u{9b}1;1H"),
            "a\nb"
        );
    }
}
