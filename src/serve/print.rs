//! The server's one way to its output: a line per event, through the one sanitizer (image names,
//! Nix's messages and build logs are not ours).

use std::io::Write as _;

/// One line on stdout, control sequences removed (a closed pipe is not an error).
pub fn say(line: &str) {
    let clean = biar::progress::neutralise_text(line);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{clean}");
    let _ = out.flush();
}
