//! The Docker Engine through bollard: connection, builder image, store volume, exec with
//! streamed output, cleanup. Knows nothing of the TUI.
//!
//! # API for the other modules
//! - [`connect`] → [`Engine`]: the engine the docker CLI would reach ([`endpoint`]: `DOCKER_HOST`
//!   unix/tcp+TLS/ssh, contexts, the local or Podman socket), or a clear
//!   [`DockerError::Unreachable`] / [`DockerError::BadEndpoint`] naming the address and how it
//!   was chosen.
//! - [`builder::create`] / [`builder::status`] / [`builder::ensure_exists`]: the builder image and
//!   the store volume (`builder create [--offline]`, `builder status`).
//! - [`BuilderContainer::start`]: a running container of the builder image with the store volume
//!   at `/nix`; removed when dropped (or [`BuilderContainer::remove`]), and by the engine even if
//!   this process dies. In it: [`BuilderContainer::upload_tar`], [`BuilderContainer::exec`]
//!   (stdout/stderr chunks, then the exit code), [`BuilderContainer::exec_checked`], and
//!   [`BuilderContainer::exec_stream_stdout`] / [`exec_stream_stdout`] — a binary-safe stream of a
//!   command's stdout, e.g. `nix-store --dump /nix/store/…` for the image layers.
//! - [`Engine`]'s methods for the modules above, typed with our own types (no bollard type leaves
//!   this folder): [`Engine::image_exists`], the images biar-tui loaded, loading an archive,
//!   pulling and tagging, and the calls of a container attached to the terminal (the `run` module).
//! - [`Engine::image_config`] and [`ImageFiles`]: an image's config and files read without running
//!   it (the doctor).
//! - [`owner`]: every container we create is labelled with its owner process and removed when
//!   that process dies, even by SIGKILL (a watcher process, and a sweep at the next start).

mod attached;
pub mod builder;
mod connection;
mod container;
pub mod endpoint;
mod error;
mod image_files;
mod images;
mod offline;
pub mod owner;
pub mod tar_stream;
mod transport;
pub mod warm;

pub use attached::{Attached, AttachedSpec, ContainerState};
pub use builder::{BuilderPlan, BuilderSource, BuilderStatus, CreateReport};
pub use connection::{address, connect, connect_to, resolve, Engine, Transport};
pub use container::{
    exec, exec_stream_stdout, remove_container, tail, BuilderContainer, Exec, ExecOutput,
    ExecResult, BUILDER_LABEL,
};
pub use error::DockerError;
pub use image_files::{ImageConfig, ImageFiles, PathStat};
pub use images::{EngineImageLayers, LabelledImage, PullLine, RegistryLogin};
pub use offline::debs_cache_dir;
