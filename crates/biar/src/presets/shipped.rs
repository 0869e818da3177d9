//! The presets compiled into the binary, from the repository's `presets/*.nix`.

/// `(name, file text)`, sorted by name. Adding a preset: put `presets/NAME.nix` in the
/// repository (first line `# description`) and list it here.
pub const SHIPPED: &[(&str, &str)] = &[
    ("cpp", include_str!("../../../../presets/cpp.nix")),
    (
        "data-science",
        include_str!("../../../../presets/data-science.nix"),
    ),
    ("devops", include_str!("../../../../presets/devops.nix")),
    ("go", include_str!("../../../../presets/go.nix")),
    ("java", include_str!("../../../../presets/java.nix")),
    ("node", include_str!("../../../../presets/node.nix")),
    ("python", include_str!("../../../../presets/python.nix")),
    ("ruby", include_str!("../../../../presets/ruby.nix")),
    ("rust", include_str!("../../../../presets/rust.nix")),
    ("shell", include_str!("../../../../presets/shell.nix")),
];

/// The shipped text of preset `name`.
pub fn shipped(name: &str) -> Option<&'static str> {
    SHIPPED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
