//! The files a workspace platform consumes for an image: a Coder Docker template (`main.tf`) and
//! a `.devcontainer/devcontainer.json`. Pure text from the image reference and `image` settings;
//! the CLI writes them (never over an existing file).

use crate::config::ImageSettings;

/// What the exported files name.
#[derive(Debug, Clone)]
pub struct ExportInput<'a> {
    /// `name:tag` of the image.
    pub reference: &'a str,
    pub settings: &'a ImageSettings,
}

impl ExportInput<'_> {
    fn home(&self) -> String {
        format!("/home/{}", self.settings.user)
    }
}

/// An HCL quoted string: quotes and backslashes escaped, and `${` / `%{` so that no value of
/// ours starts an interpolation or a template directive.
pub fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Coder template for the Docker provider, shaped like Coder's own `docker` example: the
/// agent's init script as the entrypoint (`sh -c`), reaching the Coder server through the host,
/// the image's user and uid, and a volume for the home directory so it survives a restart.
pub fn coder_main_tf(input: &ExportInput<'_>) -> String {
    let s = input.settings;
    let q = hcl_string;
    format!(
        r#"# A Coder template (Docker provider) for the biar-tui image {reference}.
# Written by `biar-tui export coder`; see docs/workspaces.md.
terraform {{
  required_providers {{
    coder = {{
      source = "coder/coder"
    }}
    docker = {{
      source = "kreuzwerker/docker"
    }}
  }}
}}

provider "docker" {{}}
provider "coder" {{}}

data "coder_provisioner" "me" {{}}
data "coder_workspace" "me" {{}}
data "coder_workspace_owner" "me" {{}}

resource "coder_agent" "main" {{
  arch = data.coder_provisioner.me.arch
  os   = "linux"
  dir  = {workdir}
}}

# The home directory outlives the container: a workspace restart keeps the user's files.
resource "docker_volume" "home" {{
  name = "coder-${{data.coder_workspace.me.id}}-home"
  lifecycle {{
    ignore_changes = all
  }}
}}

resource "docker_container" "workspace" {{
  count    = data.coder_workspace.me.start_count
  image    = {image}
  name     = "coder-${{data.coder_workspace_owner.me.name}}-${{lower(data.coder_workspace.me.name)}}"
  hostname = data.coder_workspace.me.name
  # The image's user ({user}); the agent runs as it.
  user = {ids}
  # Coder's bootstrap: the init script downloads the agent (curl or wget) and starts it.
  entrypoint = ["sh", "-c", replace(coder_agent.main.init_script, "/localhost|127\\.0\\.0\\.1/", "host.docker.internal")]
  env        = ["CODER_AGENT_TOKEN=${{coder_agent.main.token}}"]
  host {{
    host = "host.docker.internal"
    ip   = "host-gateway"
  }}
  volumes {{
    container_path = {home}
    volume_name    = docker_volume.home.name
    read_only      = false
  }}
}}
"#,
        reference = input.reference,
        workdir = q(&s.workdir),
        image = q(input.reference),
        user = s.user,
        ids = q(&format!("{}:{}", s.uid, s.gid)),
        home = q(&input.home()),
    )
}

/// A `devcontainer.json` for the image: its user as `remoteUser` with `updateRemoteUserUID` (the
/// tooling gives it the host user's uid), the workspace mounted at `image.workdir`.
pub fn devcontainer_json(input: &ExportInput<'_>) -> String {
    let s = input.settings;
    let v = serde_json::json!({
        "name": input.reference,
        "image": input.reference,
        "remoteUser": s.user,
        "containerUser": s.user,
        "updateRemoteUserUID": true,
        "workspaceFolder": s.workdir,
        "workspaceMount": format!(
            "source=${{localWorkspaceFolder}},target={},type=bind",
            s.workdir
        ),
        "containerEnv": {
            "HOME": input.home(),
            "USER": s.user,
            "LANG": crate::profile::WORKSPACE_LANG,
        },
    });
    let mut text = serde_json::to_string_pretty(&v).expect("json");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_strings_cannot_interpolate() {
        assert_eq!(hcl_string(r#"a"b\c${x}%{y}$z"#), r#""a\"b\\c$${x}%%{y}$z""#);
    }

    #[test]
    fn the_template_names_the_image_user_and_init_script() {
        let settings = ImageSettings {
            user: "coder".into(),
            workdir: "/home/coder/project".into(),
            uid: 4242,
            ..Default::default()
        };
        let tf = coder_main_tf(&ExportInput {
            reference: "biar-abc:def",
            settings: &settings,
        });
        assert!(tf.contains("image    = \"biar-abc:def\""), "{tf}");
        assert!(tf.contains("user = \"4242:1000\""), "{tf}");
        assert!(tf.contains("coder_agent.main.init_script"), "{tf}");
        assert!(tf.contains("container_path = \"/home/coder\""), "{tf}");
        assert!(
            tf.contains("coder-${data.coder_workspace.me.id}-home"),
            "{tf}"
        );
        let json: serde_json::Value = serde_json::from_str(&devcontainer_json(&ExportInput {
            reference: "biar-abc:def",
            settings: &settings,
        }))
        .unwrap();
        assert_eq!(json["remoteUser"], "coder");
        assert_eq!(json["updateRemoteUserUID"], true);
    }
}
