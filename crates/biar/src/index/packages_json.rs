//! Stream parser for a channel's `packages.json` (`{"version": 2, "packages": {ATTR: {...}}}`)
//! and for `nix-env -qaP --json --meta` (`{ATTR: {...}}`): entries are taken one at a time from a
//! reader, so only the growing index and one package are in memory, never the whole document.
//! Every field may be missing; `meta.license` may be an object, a list or a string (it is not
//! kept); a field of an unexpected type is ignored rather than failing the whole file.

use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::store::Entry;

/// A string, or nothing when the value is absent, null or of another type.
#[derive(Default)]
struct Lenient(Option<String>);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lenient;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("anything")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Lenient, E> {
                Ok(Lenient(Some(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Lenient, E> {
                Ok(Lenient(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Lenient, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Lenient, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Meta {
    description: Lenient,
    // `license` (object, list or string) and everything else are skipped unread.
}

/// Meta that is not an object (null, a string) counts as none.
#[derive(Default)]
struct LenientMeta(Meta);

impl<'de> Deserialize<'de> for LenientMeta {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientMeta;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a meta object")
            }
            fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<LenientMeta, A::Error> {
                Meta::deserialize(de::value::MapAccessDeserializer::new(a)).map(LenientMeta)
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientMeta, E> {
                Ok(LenientMeta::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<LenientMeta, E> {
                Ok(LenientMeta::default())
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<LenientMeta, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientMeta::default())
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Package {
    pname: Lenient,
    version: Lenient,
    meta: LenientMeta,
}

/// Visits the `{ATTR: package}` map, handing each entry to `sink`.
struct PackagesSeed<'a, F>(&'a mut F);

impl<'de, F: FnMut(Entry)> DeserializeSeed<'de> for PackagesSeed<'_, F> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(Entry)> Visitor<'de> for PackagesSeed<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map from attribute paths to packages")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        while let Some(attr) = a.next_key::<String>()? {
            let p: Package = a.next_value()?;
            (self.0)(Entry {
                attr,
                pname: p.pname.0,
                version: p.version.0.filter(|v| !v.is_empty()),
                description: p.meta.0.description.0.map(|d| d.trim().to_string()),
            });
        }
        Ok(())
    }
}

/// The channel document: finds `packages` among the top-level keys.
struct ChannelSeed<'a, F>(&'a mut F);

impl<'de, F: FnMut(Entry)> Visitor<'de> for ChannelSeed<'_, F> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a packages.json object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = a.next_key::<String>()? {
            if key == "packages" {
                a.next_value_seed(PackagesSeed(self.0))?;
                found = true;
            } else {
                a.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Which of the two shapes a document has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"version": 2, "packages": {...}}`
    Channel,
    /// `{ATTR: {...}}` as `nix-env -qaP --json` prints it.
    NixEnv,
}

/// Parses a document from `reader`, calling `sink` once per package. Returns an error message
/// (with the line and column) for a document that is not valid JSON, is cut short, or (channel
/// shape) has no `packages` key.
pub fn parse(reader: impl Read, shape: Shape, mut sink: impl FnMut(Entry)) -> Result<(), String> {
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 16, reader));
    match shape {
        Shape::Channel => {
            let found = de
                .deserialize_map(ChannelSeed(&mut sink))
                .map_err(|e| e.to_string())?;
            if !found {
                return Err("no \"packages\" key".into());
            }
        }
        Shape::NixEnv => {
            PackagesSeed(&mut sink)
                .deserialize(&mut de)
                .map_err(|e| e.to_string())?;
        }
    }
    de.end().map_err(|e| e.to_string())
}

use serde::Deserializer as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(doc: &str, shape: Shape) -> Result<Vec<Entry>, String> {
        let mut v = Vec::new();
        parse(doc.as_bytes(), shape, |e| v.push(e))?;
        Ok(v)
    }

    #[test]
    fn channel_shape_with_missing_fields_and_both_licence_forms() {
        let doc = r#"{ "version": 2, "packages": {
          "hello": { "name": "hello-2.12.1", "pname": "hello", "version": "2.12.1",
                     "outputs": { "out": null },
                     "meta": { "description": " Program that produces a familiar, friendly greeting ",
                               "license": { "spdxId": "GPL-3.0-or-later", "free": true },
                               "platforms": ["x86_64-linux"] } },
          "multi": { "meta": { "license": [ {"spdxId": "MIT"}, {"spdxId": "Apache-2.0"} ],
                               "description": 42 } },
          "bare": {},
          "strlic": { "version": null, "meta": { "license": "unfree" } },
          "nometa": { "pname": "x", "meta": null }
        }, "extra": [1, 2, {"a": "b"}] }"#;
        let v = collect(doc, Shape::Channel).unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(v[0].attr, "hello");
        assert_eq!(v[0].version.as_deref(), Some("2.12.1"));
        assert_eq!(
            v[0].description.as_deref(),
            Some("Program that produces a familiar, friendly greeting")
        );
        assert_eq!(v[1].description, None);
        assert_eq!(
            v[2],
            Entry {
                attr: "bare".into(),
                ..Entry::default()
            }
        );
        assert_eq!(v[3].version, None);
        assert_eq!(v[4].pname.as_deref(), Some("x"));
    }

    #[test]
    fn nix_env_shape() {
        let doc = r#"{"hello": {"name": "hello-1.0", "pname": "hello", "version": "1.0",
                      "system": "x86_64-linux", "outputName": "out", "outputs": {"out": null},
                      "meta": {"description": "Says hello"}}}"#;
        let v = collect(doc, Shape::NixEnv).unwrap();
        assert_eq!(v[0].description.as_deref(), Some("Says hello"));
    }

    #[test]
    fn truncated_or_wrong_documents_are_errors() {
        let doc = r#"{"version": 2, "packages": {"a": {"version": "1"}, "b": {"meta": {"descr"#;
        let e = collect(doc, Shape::Channel).unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        assert!(collect(r#"{"version": 2}"#, Shape::Channel)
            .unwrap_err()
            .contains("packages"));
        assert!(collect("[1,2]", Shape::Channel).is_err());
        assert!(collect(r#"{"a": {}} trailing"#, Shape::NixEnv).is_err());
        assert!(collect("", Shape::NixEnv).is_err());
    }
}
