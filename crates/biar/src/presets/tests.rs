use std::path::Path;

use rnix::SyntaxKind;

use super::*;
use crate::nixexpr::{parse, PackageFile};

/// Names nixpkgs has that the channel's packages.json lists under another attribute (it keeps one
/// attribute per package). Each is a well-known alias in nixpkgs 24.11 and 25.05.
/// Every attribute path a preset names: list entries relative to `pkgs`, and the packages of a
/// `PY.withPackages (ps: …)` as `PYPackages.NAME`.
fn attributes(text: &str) -> Vec<String> {
    let root = parse(Path::new("preset.nix"), text).unwrap();
    let file = PackageFile::from_text(Path::new("preset.nix"), text.to_string()).unwrap();
    let mut out: Vec<String> = file.packages().iter().map(|p| p.attr.to_string()).collect();
    for apply in root
        .descendants()
        .filter(|n| n.kind() == SyntaxKind::NODE_APPLY)
    {
        let Some(func) = apply.children().next() else {
            continue;
        };
        let f = func.text().to_string();
        let Some(py) = f.strip_suffix(".withPackages") else {
            continue;
        };
        out.push(py.to_string());
        let list = apply
            .descendants()
            .find(|n| n.kind() == SyntaxKind::NODE_LIST)
            .expect("withPackages holds a list");
        for entry in list.children() {
            let name = entry.text().to_string();
            let name = name.strip_prefix("ps.").unwrap_or(&name);
            out.push(format!("{py}Packages.{name}"));
        }
    }
    assert!(
        file.other_entries()
            .iter()
            .all(|o| o.text.contains(".withPackages")),
        "only withPackages expressions are allowed beside plain attributes"
    );
    out
}

#[test]
fn every_shipped_preset_parses_describes_itself_and_names_real_packages() {
    let index = crate::index::bundled().expect("the bundled index");
    let mut missing = Vec::new();
    for (name, text) in SHIPPED {
        assert!(
            !description_of(text).is_empty(),
            "{name} has no description"
        );
        let attrs = attributes(text);
        assert!(!attrs.is_empty(), "{name} is empty");
        for a in attrs {
            // Exact entries: nixpkgs' second names (`python312`, `jdk21`) come from the alias
            // table shipped with the index, not from exceptions here.
            if !index.contains(&a) {
                missing.push(format!("{name}: {a}"));
            }
        }
    }
    assert!(missing.is_empty(), "not in nixpkgs: {missing:?}");
}

#[test]
fn the_shipped_list_is_the_presets_folder() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../presets");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nix"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let shipped: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
    assert_eq!(on_disk, shipped);
    for required in [
        "shell",
        "python",
        "node",
        "rust",
        "go",
        "cpp",
        "java",
        "data-science",
    ] {
        assert!(shipped.contains(&required), "{required}");
    }
}

fn project(user_config: &str) -> (tempfile::TempDir, Project) {
    let d = tempfile::tempdir().unwrap();
    let w = |rel: &str, text: &str| {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w(
        "config.json",
        &format!("{{\n  \"baseConfig\": \"base.nix\",\n  \"userConfig\": {user_config},\n  \"extra\": true\n}}\n"),
    );
    w("base.nix", "{ pkgs }: with pkgs; [ coreutils ]\n");
    w("user.nix", "{ pkgs }: with pkgs; [ ]\n");
    w(
        "presets/go.nix",
        "# My own Go\n{ pkgs }: with pkgs; [ go ]\n",
    );
    w("presets/mine.nix", "# Mine\n{ pkgs }: with pkgs; [ jq ]\n");
    let p = Project::load(d.path()).unwrap();
    (d, p)
}

#[test]
fn lists_shipped_and_project_presets_with_state() {
    let (_d, p) = project(r#"["presets/go.nix", "user.nix"]"#);
    let presets = list(&p).unwrap();
    let go = presets.iter().find(|p| p.name == "go").unwrap();
    assert!(go.enabled && go.shipped && go.in_project);
    assert_eq!(go.description, "My own Go", "the project's copy wins");
    let mine = presets.iter().find(|p| p.name == "mine").unwrap();
    assert!(!mine.enabled && !mine.shipped && mine.in_project);
    let python = presets.iter().find(|p| p.name == "python").unwrap();
    assert!(!python.enabled && python.shipped && !python.in_project);
    assert!(python.description.starts_with("Python 3.12"));
    assert_eq!(python.file, "presets/python.nix");
    let names: Vec<&str> = presets.iter().map(|p| p.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn toggling_a_shipped_preset_on_writes_it_and_off_removes_the_entry() {
    let (d, p) = project(r#"["presets/go.nix", "user.nix"]"#);
    assert!(toggle(&p, "python").unwrap());
    let written = std::fs::read_to_string(d.path().join("presets/python.nix")).unwrap();
    assert_eq!(written, shipped("python").unwrap());
    let p = p.reload().unwrap();
    assert_eq!(
        p.config.user_config,
        ["presets/go.nix", "presets/python.nix", "user.nix"]
    );
    let config = std::fs::read_to_string(d.path().join("config.json")).unwrap();
    assert!(config.contains("\"extra\": true"), "{config}");

    assert!(!toggle(&p, "presets/python.nix").unwrap());
    let p = p.reload().unwrap();
    assert_eq!(p.config.user_config, ["presets/go.nix", "user.nix"]);
    assert!(
        d.path().join("presets/python.nix").is_file(),
        "the file stays"
    );

    assert!(!toggle(&p, "go").unwrap());
    let p = p.reload().unwrap();
    assert_eq!(p.config.user_config, ["user.nix"]);
    // With no preset left, a new one goes first.
    assert!(toggle(&p, "mine").unwrap());
    assert_eq!(
        p.reload().unwrap().config.user_config,
        ["presets/mine.nix", "user.nix"]
    );
}

#[test]
fn an_unknown_preset_suggests_the_closest_and_changes_nothing() {
    let (d, p) = project(r#"["user.nix"]"#);
    let before = std::fs::read(d.path().join("config.json")).unwrap();
    let e = toggle(&p, "pyhton").unwrap_err();
    assert_eq!(e.category(), crate::Category::BadInput);
    let msg = e.to_string();
    assert!(msg.contains("did you mean `python`?"), "{msg}");
    let e = toggle(&p, "datascience").unwrap_err().to_string();
    assert!(e.contains("`data-science`"), "{e}");
    let e = toggle(&p, "zzzzzz").unwrap_err().to_string();
    assert!(!e.contains("did you mean"), "{e}");
    assert_eq!(std::fs::read(d.path().join("config.json")).unwrap(), before);
    assert!(!d.path().join("presets/python.nix").exists());
}

#[test]
fn the_presets_folder_is_made_when_missing() {
    let (d, p) = project(r#"["user.nix"]"#);
    std::fs::remove_dir_all(d.path().join("presets")).unwrap();
    assert!(toggle(&p, "node").unwrap());
    assert_eq!(
        std::fs::read_to_string(d.path().join("presets/node.nix")).unwrap(),
        shipped("node").unwrap()
    );
}

#[test]
fn a_project_preset_that_does_not_parse_is_not_turned_on() {
    let (d, p) = project(r#"["user.nix"]"#);
    std::fs::write(d.path().join("presets/mine.nix"), "{ pkgs }: [ jq\n").unwrap();
    let before = std::fs::read(d.path().join("config.json")).unwrap();
    let e = toggle(&p, "mine").unwrap_err();
    assert_eq!(e.category(), crate::Category::BadInput);
    assert!(e.to_string().contains("mine.nix:2:1"), "{e}");
    assert_eq!(std::fs::read(d.path().join("config.json")).unwrap(), before);
}

#[test]
fn parallel_toggles_all_take_effect() {
    let (_d, p) = project(r#"["user.nix"]"#);
    let names = ["go", "rust", "node", "java"];
    let threads: Vec<_> = names
        .iter()
        .map(|n| {
            let p = p.clone();
            let n = n.to_string();
            std::thread::spawn(move || toggle(&p, &n).unwrap())
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap());
    }
    let entries = p.reload().unwrap().config.user_config;
    for n in names {
        assert!(entries.contains(&entry_for(n)), "{n} lost: {entries:?}");
    }
}
