//! Whether a failure is the user's input at fault or the world's: the binary maps it to an exit
//! code (bad input 2, any other failure 1). Every module's error type has a `category()`.

/// Whether an error is the user's input at fault (fix it and retry) or the world (Docker, network, Nix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// A file, argument or name the user gave is wrong; nothing was changed.
    BadInput,
    /// Something outside the user's input failed.
    Failure,
}
