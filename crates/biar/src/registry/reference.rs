//! `host[:port]/repository[:tag]`, checked against the distribution spec's grammar so a bad name
//! is explained before any request.

use std::fmt;

use super::RegistryError;

/// An image in a registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegistryRef {
    /// `host[:port]`.
    pub host: String,
    /// `path/components/name`.
    pub repository: String,
    pub tag: String,
}

impl RegistryRef {
    /// Parses `host[:port]/repo[:tag]`; the tag defaults to `latest`. The host part is required:
    /// biar-tui never guesses Docker Hub.
    pub fn parse(reference: &str) -> Result<RegistryRef, RegistryError> {
        let bad = |reason: &str| RegistryError::BadReference {
            reference: reference.to_string(),
            reason: reason.to_string(),
        };
        let (host, rest) = reference
            .split_once('/')
            .ok_or_else(|| bad("no registry host before the first `/`"))?;
        if host.is_empty() {
            return Err(bad("empty registry host"));
        }
        validate_host(host).map_err(|r| bad(&r))?;
        // A tag's `:` comes after the last `/`; a `:` earlier would belong to no component.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (repository, tag) = match rest[last_slash..].find(':') {
            Some(i) => (&rest[..last_slash + i], &rest[last_slash + i + 1..]),
            None => (rest, "latest"),
        };
        validate_repository(repository).map_err(|r| bad(&r))?;
        validate_tag(tag).map_err(|r| bad(&r))?;
        Ok(RegistryRef {
            host: host.to_string(),
            repository: repository.to_string(),
            tag: tag.to_string(),
        })
    }

    /// The image as `ImageRef` names it, placed under `host/namespace`.
    pub fn from_image(
        host: &str,
        namespace: &str,
        image: &crate::config::ImageRef,
    ) -> Result<RegistryRef, RegistryError> {
        Self::parse(&format!(
            "{}:{}",
            image.repository_in(host.trim_end_matches('/'), namespace),
            image.tag
        ))
    }

    /// `host/repository` (what Docker calls the image name).
    pub fn name(&self) -> String {
        format!("{}/{}", self.host, self.repository)
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.host, self.repository, self.tag)
    }
}

fn validate_host(host: &str) -> Result<(), String> {
    let (name, port) = match host.rsplit_once(':') {
        // `[::1]:5000` or `host:5000`; a bare IPv6 literal must be bracketed.
        Some((n, p)) if !n.is_empty() && !p.contains(']') => (n, Some(p)),
        _ => (host, None),
    };
    if let Some(p) = port {
        p.parse::<u16>()
            .map_err(|_| format!("the port `{p}` of `{host}` is not a number from 1 to 65535"))?;
    }
    let ok = if let Some(inner) = name.strip_prefix('[') {
        inner.ends_with(']')
    } else {
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    };
    if !ok {
        return Err(format!("`{host}` is not a host name"));
    }
    Ok(())
}

/// The distribution spec: components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`.
pub fn validate_repository(repository: &str) -> Result<(), String> {
    if repository.is_empty() {
        return Err("empty repository name".into());
    }
    if repository.len() > 255 {
        return Err(format!(
            "the repository name is {} characters long; registries accept at most 255",
            repository.len()
        ));
    }
    for component in repository.split('/') {
        if !valid_component(component) {
            return Err(format!(
                "`{component}` in `{repository}` is not a valid repository name component: use \
                 lower-case letters and digits, separated by `.`, `_`, `__` or `-`"
            ));
        }
    }
    Ok(())
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__`, or any number of `-`.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<(), String> {
    let b = tag.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    if b.is_empty() || b.len() > 128 {
        return Err(format!("the tag `{tag}` must be 1 to 128 characters"));
    }
    if !word(b[0]) || !b.iter().all(|&x| word(x) || x == b'.' || x == b'-') {
        return Err(format!(
            "the tag `{tag}` may hold only letters, digits, `_`, `.` and `-`, and not start with `.` or `-`"
        ));
    }
    Ok(())
}

/// True for hosts reached over loopback, where plain HTTP is allowed (as Docker does).
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map(|(n, _)| n).unwrap_or(host)
    };
    if name == "localhost" {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_repo_tag() {
        let r = RegistryRef::parse("127.0.0.1:5000/team/biar-abc:1f2e").unwrap();
        assert_eq!(r.host, "127.0.0.1:5000");
        assert_eq!(r.repository, "team/biar-abc");
        assert_eq!(r.tag, "1f2e");
        assert_eq!(r.to_string(), "127.0.0.1:5000/team/biar-abc:1f2e");
        assert_eq!(r.name(), "127.0.0.1:5000/team/biar-abc");
    }

    #[test]
    fn tag_defaults_to_latest() {
        let r = RegistryRef::parse("registry.example/x").unwrap();
        assert_eq!(r.tag, "latest");
        assert_eq!(r.repository, "x");
    }

    #[test]
    fn rejects_bad_names_with_reasons() {
        for (input, needle) in [
            ("noslash", "no registry host"),
            ("host/Upper", "`Upper`"),
            ("host/a..b", "`a..b`"),
            ("host/a/", "``"),
            ("host:99999/a", "port"),
            ("host/a:-x", "tag"),
            ("host/a:", "tag"),
        ] {
            let err = RegistryRef::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn separators_follow_the_spec() {
        for ok in ["a", "a.b", "a_b", "a__b", "a---b", "a1-2"] {
            assert!(valid_component(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a___b", "a._b", "A"] {
            assert!(!valid_component(bad), "{bad}");
        }
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("127.1.2.3"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("10.0.0.1:5000"));
        assert!(!is_loopback("registry.example"));
    }

    #[test]
    fn from_image_places_namespace() {
        let img = crate::config::ImageRef {
            name: "biar-abc".into(),
            tag: "def".into(),
        };
        let r = RegistryRef::from_image("localhost:5000", "team/envs", &img).unwrap();
        assert_eq!(r.to_string(), "localhost:5000/team/envs/biar-abc:def");
    }
}
