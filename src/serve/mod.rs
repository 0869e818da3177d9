//! `biar-tui serve`: images by name, built on demand (after Nixery). An OCI registry front end
//! (the read side of the distribution API) over the operations layer: a name such as
//! `shell/git/jq` becomes a generated project (the server's base, the named packages and
//! presets), built by `operations::build_into_store` into a content-addressed storage folder
//! (or a backing registry), then served from there. See docs/serve.md.

mod builds;
mod http;
mod names;
mod page;
mod print;
mod storage;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use biar::init::NixpkgsChoice;

use crate::exit::BadInput;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address and port to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:5050")]
    pub listen: SocketAddr,
    /// The package set of the tag `latest`: a local folder, a tarball `URL#sha256=HASH`, or
    /// `channel:NAME`; default: the same pinned nixpkgs tarball as `biar-tui init`.
    #[arg(long, value_name = "PATH|URL")]
    pub nixpkgs: Option<String>,
    /// Another tag and its package set (repeatable): `--pin 24.11=channel:nixos-24.11`.
    #[arg(long = "pin", value_name = "NAME=PATH|URL")]
    pub pins: Vec<String>,
    /// The base configuration every image has (a Nix file); default: the shipped base.
    #[arg(long, value_name = "FILE")]
    pub base: Option<PathBuf>,
    /// Where layers and manifests are kept; default: `biar/serve` in the user cache.
    #[arg(long, value_name = "DIR")]
    pub storage: Option<PathBuf>,
    /// Keep layers and manifests in this registry instead (`HOST[/NAMESPACE]`), answering blob
    /// requests with a redirect there; it must allow anonymous reads.
    #[arg(long, value_name = "HOST[/NS]")]
    pub registry: Option<String>,
    /// Build with no binary cache (e.g. for a local package set).
    #[arg(long)]
    pub offline: bool,
    /// Images built at once.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_builds: u32,
    /// The time limit of one build (`90s`, `30m`, `2h`).
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub build_timeout: Duration,
    /// How long a manifest request waits for its build before it is told to retry.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub wait: Duration,
}

/// `90s`, `30m`, `2h` or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 30m or 2h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text:?}: the unit is s, m or h")),
    };
    Ok(Duration::from_secs(seconds))
}

/// A package set as `--nixpkgs`/`--pin` give it.
fn parse_pin(flag: &str, text: &str) -> Result<NixpkgsChoice, BadInput> {
    if let Some(channel) = text.strip_prefix("channel:") {
        if channel.is_empty() {
            return Err(BadInput(format!(
                "{flag} {text}: the channel name is missing"
            )));
        }
        return Ok(NixpkgsChoice::Channel(channel.to_string()));
    }
    if text.contains("://") {
        let Some((url, sha256)) = text.split_once("#sha256=") else {
            return Err(BadInput(format!(
                "{flag} {text}: a tarball needs its Nix hash too: URL#sha256=HASH (as \
                 `nix-prefetch-url --unpack URL` prints it)"
            )));
        };
        return Ok(NixpkgsChoice::Tarball {
            url: url.to_string(),
            sha256: sha256.to_string(),
        });
    }
    let path = std::path::Path::new(text);
    let real = path
        .canonicalize()
        .map_err(|e| BadInput(format!("{flag} {text}: not a package set folder: {e}")))?;
    if !real.join("default.nix").is_file() {
        return Err(BadInput(format!(
            "{flag} {text}: {} has no default.nix: not a package set",
            real.display()
        )));
    }
    // A path pin is uploaded whole into the shared builder: the same trust rule as a project's.
    biar::config::check_path_pin(&real.join("\0never"), text, &real)
        .map_err(|m| BadInput(format!("{flag}: {m}")))?;
    Ok(NixpkgsChoice::Path(real.display().to_string()))
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut pins = vec![(
        "latest".to_string(),
        match &args.nixpkgs {
            Some(text) => parse_pin("--nixpkgs", text)?,
            None => NixpkgsChoice::Default,
        },
    )];
    for pin in &args.pins {
        let Some((name, value)) = pin.split_once('=') else {
            return Err(BadInput(format!("--pin {pin}: expected NAME=PATH|URL")).into());
        };
        biar::registry::validate_tag(name)
            .map_err(|m| BadInput(format!("--pin {pin}: {name:?} is not a tag: {m}")))?;
        if pins.iter().any(|(n, _)| n == name) {
            return Err(BadInput(format!(
                "--pin {pin}: the tag {name} is already given (latest is --nixpkgs)"
            ))
            .into());
        }
        pins.push((name.to_string(), parse_pin("--pin", value)?));
    }
    let base = match &args.base {
        Some(file) => {
            let parsed = biar::nixexpr::PackageFile::load(file)
                .map_err(|e| BadInput(format!("--base: {e}")))?;
            parsed.text().to_string()
        }
        None => biar::init::BASE_NIX.to_string(),
    };
    let storage = match &args.storage {
        Some(dir) => dir.clone(),
        None => dirs::cache_dir()
            .map(|d| d.join("biar").join("serve"))
            .ok_or_else(|| BadInput("no user cache folder: give --storage DIR".into()))?,
    };
    let storage = storage::Storage::open(&storage)
        .map_err(|e| BadInput(format!("--storage {}: {e}", storage.display())))?;
    match storage.sweep_projects() {
        Ok(0) => {}
        Ok(n) => print::say(&format!(
            "removed {n} project folder(s) of builds that did not finish"
        )),
        Err(e) => print::say(&format!("cleaning the storage's projects: {e}")),
    }
    let registry = match &args.registry {
        Some(text) if text.trim().is_empty() => {
            return Err(BadInput("--registry: empty; give HOST[/NAMESPACE]".into()).into())
        }
        Some(text) => Some(biar::registry::RegistryTarget::parse(text, "", false)),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("listening on {}: {e}", args.listen))?;
    let address = listener.local_addr()?;
    let settings = builds::Settings {
        pins,
        base,
        offline: args.offline,
        registry,
        max_builds: args.max_builds as usize,
        build_timeout: args.build_timeout,
        wait: args.wait,
    };
    let state = Arc::new(builds::Server::new(settings, storage, address));
    print::say(&format!(
        "serving images by name on http://{address}/ (storage {}): docker pull {address}/shell/hello",
        state.storage.root().display()
    ));
    http::serve(listener, state).await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn tarball_pins_need_a_hash() {
        assert!(parse_pin("--nixpkgs", "https://x/y.tar.gz").is_err());
        assert_eq!(
            parse_pin("--nixpkgs", "https://x/y.tar.gz#sha256=abc").unwrap(),
            NixpkgsChoice::Tarball {
                url: "https://x/y.tar.gz".into(),
                sha256: "abc".into()
            }
        );
        assert!(parse_pin("--nixpkgs", "/definitely/not/here").is_err());
    }
}
