//! Files, the ground floor: project files read as hostile input (regular files only, size limits,
//! symlinks only inside the project) and files written whole (atomic replacement).

mod atomic;
mod project_file;

pub use atomic::write_atomic;
pub use project_file::{
    check_regular, open_regular, read_text, resolve_inside, FileError, MAX_CONFIG_JSON_BYTES,
    MAX_NIX_FILE_BYTES,
};
