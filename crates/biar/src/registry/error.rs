use std::path::PathBuf;

use thiserror::Error;

use crate::category::Category;

#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("`{reference}` is not a valid image reference: {reason}\n  expected host[:port]/repository[:tag], e.g. 127.0.0.1:5000/biar-base:1a2b3c")]
    BadReference { reference: String, reason: String },

    #[error("cannot reach the registry at {url}: {reason}\n  is the registry running? check registry.host (or DOCKER_REGISTRY_HOST) in config.json")]
    Unreachable { url: String, reason: String },

    #[error("{path}: {reason}\n  fix or remove the file (see `docker login`)")]
    DockerConfig { path: PathBuf, reason: String },

    #[error("the registry {registry} needs credentials and {config} has none for it\n  run `docker login {registry}` (biar-tui reads `auths` from that file)")]
    AuthNeeded { registry: String, config: PathBuf },

    #[error("{config} keeps the credentials for {registry} in the credential helper `docker-credential-{helper}`; biar-tui does not run credential helpers\n  add an `auths.\"{registry}\".auth` entry (base64 of user:password) to that file, or use a registry without one")]
    CredentialHelper {
        registry: String,
        config: PathBuf,
        helper: String,
    },

    #[error("{config} holds an identity token (`identitytoken`) for {registry} (an OAuth refresh token some logins save instead of a password); biar-tui does not use identity tokens\n  log in with a user name and password or access token (`docker login {registry}`), so the file gets an `auths.\"{registry}\".auth` entry")]
    IdentityToken { registry: String, config: PathBuf },

    #[error("the registry {registry} did not answer in time: nothing came back for {seconds} s ({request})\n  it accepts connections but sends nothing: is it stopped or overloaded? re-run once it answers (a push skips the blobs already sent and tags nothing until the end)")]
    NoAnswer {
        registry: String,
        /// The path of the request left unanswered.
        request: String,
        seconds: u64,
    },

    #[error("the registry {registry} refused the credentials{user}: {detail}\n  check the user and password for {registry} in {config} (`docker login {registry}`)")]
    AuthRefused {
        registry: String,
        /// ` of user NAME`, or empty.
        user: String,
        config: PathBuf,
        detail: String,
    },

    #[error("the registry {registry} refused access to {repository} ({code}: {message})\n  the account in {config} may lack push/pull rights on it")]
    Denied {
        registry: String,
        repository: String,
        code: String,
        message: String,
        config: PathBuf,
    },

    #[error("the registry {registry} rejects the repository name `{repository}`: {message}\n  a name is lower-case letters and digits, separated by `.`, `_`, `__`, `-` or `/`; check image.namePrefix and registry.namespace in config.json")]
    NameInvalid {
        registry: String,
        repository: String,
        message: String,
    },

    #[error("the registry {registry} is out of storage ({message})\n  free space on the registry's disk, then re-run: blobs already stored are not sent again")]
    DiskFull { registry: String, message: String },

    #[error("{registry}/{repository}:{tag} does not exist in the registry\n  build and push it first: `biar-tui build --push`")]
    ManifestUnknown {
        registry: String,
        repository: String,
        tag: String,
    },

    #[error("reading layer {digest} to send it failed: {reason}\n  nothing was tagged; re-run to finish the push (blobs already sent are skipped)")]
    Source { digest: String, reason: String },

    #[error("layer {digest} changed while it was sent: its bytes hash to {actual}\n  the layer cache may be stale; rebuild the image")]
    DigestMismatch { digest: String, actual: String },

    #[error("sending {what} to {registry} failed: {reason}\n  nothing was tagged; re-run to finish the push (blobs already sent are skipped)")]
    Interrupted {
        registry: String,
        what: String,
        reason: String,
    },

    #[error("the registry {registry} answered {method} {path} with {status}{detail}")]
    Api {
        registry: String,
        method: String,
        path: String,
        status: u16,
        /// `: CODE: message` from the registry's error body, or empty.
        detail: String,
    },

    #[error("pulling {reference} into Docker failed: {reason}")]
    Pull { reference: String, reason: String },
}

impl RegistryError {
    pub fn category(&self) -> Category {
        match self {
            RegistryError::BadReference { .. }
            | RegistryError::DockerConfig { .. }
            | RegistryError::NameInvalid { .. } => Category::BadInput,
            _ => Category::Failure,
        }
    }
}
