//! Seeing inside an environment (issue 16): the closure explorer's model (every path's own,
//! closure and added size, why a path is there, which layer it lands in, a Graphviz picture),
//! the generations of a project (every build or push, in the user's state folder) and what
//! changes between two of them.
//!
//! Pure data over what `nixbuild` and `image` produce; the use cases that run a build for it are
//! in `operations` (`inspect_closure`).

pub mod closure;
pub mod diff;
mod error;
pub mod history;

pub use closure::{human_bytes, sort_rows, store_name, ClosureModel, LayerRow, PathRow, SortKey};
pub use diff::{diff, Diff, Snapshot};
pub use error::InspectError;
pub use history::{Delivery, Generation, History};
