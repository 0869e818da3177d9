//! The engine calls of a container attached to a terminal (the `run` module): create it with a
//! typed spec, wait for its exit, attach, start, resize, kill, read its state, remove it.

use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, InspectContainerOptions,
    KillContainerOptions, RemoveContainerOptionsBuilder, RemoveVolumeOptions,
    ResizeContainerTTYOptionsBuilder, StartContainerOptions, UploadToContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWrite;
use tokio::sync::oneshot;

use super::{owner, DockerError, Engine, ExecOutput};

/// A container to run attached.
#[derive(Debug, Clone, Default)]
pub struct AttachedSpec {
    pub image: String,
    /// `None` runs the image's default command.
    pub cmd: Option<Vec<String>>,
    /// `KEY=value` pairs added to the image's environment.
    pub env: Vec<String>,
    pub tty: bool,
    /// A host folder bind-mounted at a path, which is also the working directory.
    pub bind: Option<(String, String)>,
    /// Or a named volume of the engine mounted at a path (the working directory): the copy of
    /// `workdir/` on an engine that does not see this machine's files.
    pub volume: Option<(String, String)>,
    /// The terminal's size, `(rows, columns)`, for a TTY.
    pub console_size: Option<(u16, u16)>,
    /// `uid:gid` to run as instead of the image's user.
    pub user: Option<String>,
    /// Paths of the engine's host bind-mounted read-only, `(source, target)`: the closure's
    /// store paths of a run made without an image.
    pub read_only_binds: Vec<(String, String)>,
}

/// An attached container's output and its stdin.
pub struct Attached {
    pub output: BoxStream<'static, Result<ExecOutput, DockerError>>,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

/// A container's state: running, or exited with a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Running,
    Exited(i64),
}

impl Engine {
    /// Creates the container `name` (labelled and watched by [`owner`]) and returns its id.
    pub async fn create_attachable(
        &self,
        name: &str,
        spec: &AttachedSpec,
    ) -> Result<String, DockerError> {
        let mut mounts: Vec<Mount> = spec
            .read_only_binds
            .iter()
            .map(|(source, target)| Mount {
                typ: Some(MountType::BIND),
                source: Some(source.clone()),
                target: Some(target.clone()),
                read_only: Some(true),
                ..Default::default()
            })
            .collect();
        let mut working_dir = None;
        if let Some((host, target)) = &spec.bind {
            // A typed mount, not a `host:container` bind string: a `:` or `,` in either path is
            // then just a character.
            mounts.push(Mount {
                typ: Some(MountType::BIND),
                source: Some(host.clone()),
                target: Some(target.clone()),
                read_only: Some(false),
                ..Default::default()
            });
            working_dir = Some(target.clone());
        }
        if let Some((volume, target)) = &spec.volume {
            mounts.push(Mount {
                typ: Some(MountType::VOLUME),
                source: Some(volume.clone()),
                target: Some(target.clone()),
                read_only: Some(false),
                ..Default::default()
            });
            working_dir = Some(target.clone());
        }
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: spec.cmd.clone(),
            env: (!spec.env.is_empty()).then(|| spec.env.clone()),
            tty: Some(spec.tty),
            open_stdin: Some(true),
            // The container's stdin closes when we close ours (piped input reaching EOF).
            stdin_once: Some(true),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            working_dir,
            user: spec.user.clone(),
            labels: Some(owner::labels()),
            host_config: Some(HostConfig {
                mounts: (!mounts.is_empty()).then_some(mounts),
                console_size: spec
                    .console_size
                    .map(|(rows, cols)| vec![rows as usize, cols as usize]),
                ..Default::default()
            }),
            ..Default::default()
        };
        // Watched before it exists, and removed even if this future is dropped midway.
        let created = owner::create_container(self, name, body)
            .await
            .map_err(DockerError::api("create the container"))?;
        Ok(created.id)
    }

    /// Extracts a small tar (a few files, in memory) into the created container at `dest`,
    /// before it starts: files supplied for one run, gone with the container. The entries'
    /// owners are kept.
    pub async fn put_files(&self, id: &str, dest: &str, tar: Vec<u8>) -> Result<(), DockerError> {
        let options = UploadToContainerOptionsBuilder::default()
            .path(dest)
            .build();
        self.docker
            .upload_to_container(id, Some(options), bollard::body_full(tar.into()))
            .await
            .map_err(DockerError::api(format!("putting files into {id}:{dest}")))
    }

    /// Starts waiting for the container's next exit, in the background: the receiver gets its
    /// code (`None` if the wait failed).
    pub fn wait_exit(&self, id: &str) -> oneshot::Receiver<Option<i64>> {
        let (exit_tx, exit_rx) = oneshot::channel();
        let docker = self.docker.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            let options = WaitContainerOptionsBuilder::default()
                .condition("next-exit")
                .build();
            let mut wait = docker.wait_container(&id, Some(options));
            let code = match wait.next().await {
                Some(Ok(r)) => Some(r.status_code),
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => {
                    Some(code)
                }
                _ => None,
            };
            let _ = exit_tx.send(code);
        });
        exit_rx
    }

    /// Attaches to the container's stdin, stdout and stderr; `detach_keys` detach.
    pub async fn attach(&self, id: &str, detach_keys: &str) -> Result<Attached, DockerError> {
        let options = AttachContainerOptionsBuilder::default()
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .detach_keys(detach_keys)
            .build();
        let attached = self
            .docker
            .attach_container(id, Some(options))
            .await
            .map_err(DockerError::api("attach to the container"))?;
        let output = attached
            .output
            .filter_map(|item| async move {
                match item {
                    Ok(LogOutput::StdErr { message }) => Some(Ok(ExecOutput::Stderr(message))),
                    Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                        Some(Ok(ExecOutput::Stdout(message)))
                    }
                    Ok(LogOutput::StdIn { .. }) => None,
                    Err(e) => Some(Err(DockerError::api("read the container's output")(e))),
                }
            })
            .boxed();
        Ok(Attached {
            output,
            input: attached.input,
        })
    }

    pub async fn start_container(&self, id: &str) -> Result<(), DockerError> {
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(DockerError::api("start the container"))
    }

    /// Kills the container; an error (it is gone already) is ignored.
    pub async fn kill_container(&self, id: &str) {
        let _ = self
            .docker
            .kill_container(id, None::<KillContainerOptions>)
            .await;
    }

    /// The container's state; `None` when the engine does not say.
    pub async fn container_state(&self, id: &str) -> Result<Option<ContainerState>, DockerError> {
        let info = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(DockerError::api("inspect the container"))?;
        Ok(info.state.map(|state| {
            if state.running == Some(true) {
                ContainerState::Running
            } else {
                ContainerState::Exited(state.exit_code.unwrap_or(0))
            }
        }))
    }

    /// Sets the container's TTY size; false when the engine refused (no TTY yet).
    pub async fn resize_tty(&self, id: &str, cols: u16, rows: u16) -> bool {
        let options = ResizeContainerTTYOptionsBuilder::default()
            .h(rows as i32)
            .w(cols as i32)
            .build();
        self.docker.resize_container_tty(id, options).await.is_ok()
    }

    /// Removes the container and its anonymous volumes, running or not; errors are ignored.
    pub async fn remove_with_volumes(&self, name: &str) {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let _ = self.docker.remove_container(name, Some(options)).await;
    }

    /// Creates the named volume `name` (labelled `biar=LABEL` and with this process as its owner:
    /// if the process dies before [`Engine::remove_volume`], the watcher or the next sweep
    /// removes it, see [`owner`]).
    pub async fn create_volume(&self, name: &str, label: &str) -> Result<(), DockerError> {
        let labels = std::collections::HashMap::from([("biar".to_string(), label.to_string())]);
        owner::create_volume(self, name, labels)
            .await
            .map_err(DockerError::api(format!("create the volume {name}")))
    }

    /// Keeps the volume `name` after this process ends (its contents are the only copy): a
    /// marker volume, whose name is returned, tells the sweep to leave it.
    pub async fn keep_volume(&self, name: &str) -> Result<String, DockerError> {
        owner::keep_volume(self, name)
            .await
            .map_err(DockerError::api(format!("keep the volume {name}")))
    }

    /// Where the volume `name` lies on the engine's host (`docker volume inspect`'s
    /// `Mountpoint`), `None` when the engine has no such volume or does not say. The engine
    /// resolves bind mounts on its own host, so paths under it can be mounted on any engine
    /// that stores volumes as folders (a remote one too).
    pub async fn volume_mountpoint(&self, name: &str) -> Result<Option<String>, DockerError> {
        match self.docker.inspect_volume(name).await {
            Ok(v) => Ok(Some(v.mountpoint).filter(|m| m.starts_with('/'))),
            Err(e) if DockerError::is_not_found(&e) => Ok(None),
            Err(e) => Err(DockerError::api(format!("inspect the volume {name}"))(e)),
        }
    }

    /// Removes the named volume (the watcher forgets it); a volume already gone is no error.
    pub async fn remove_volume(&self, name: &str) -> Result<(), DockerError> {
        match self
            .docker
            .remove_volume(name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => {}
            Err(e) if DockerError::is_not_found(&e) => {}
            Err(e) => return Err(DockerError::api(format!("remove the volume {name}"))(e)),
        }
        owner::unwatch_volume(name);
        Ok(())
    }

    /// The numeric `(uid, gid)` the image runs as (its `User` is `UID[:GID]`), `None` when it
    /// names a user by name or none.
    pub async fn image_user(&self, image: &str) -> Result<Option<(u32, u32)>, DockerError> {
        let info = self
            .docker
            .inspect_image(image)
            .await
            .map_err(DockerError::api(format!("inspect the image {image}")))?;
        let user = info.config.and_then(|c| c.user).unwrap_or_default();
        let (uid, gid) = user.split_once(':').unwrap_or((&user, "0"));
        Ok(uid.parse().ok().zip(gid.parse().ok()))
    }

    /// Extracts the tar stream into the container (created or stopped, its volumes included) at
    /// `path`; files keep the owners the archive gives them. (Not the API's `copyUIDGID`:
    /// Docker 20.10 then looks a numeric `User` up by name and fails.)
    pub async fn upload_archive<S>(&self, id: &str, path: &str, tar: S) -> Result<(), DockerError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let options = UploadToContainerOptionsBuilder::default()
            .path(path)
            .build();
        self.docker
            .upload_to_container(id, Some(options), bollard::body_try_stream(tar))
            .await
            .map_err(DockerError::api(format!(
                "copy files into the container at {path}"
            )))
    }

    /// The container's `path` (a folder: its entries are under the folder's own name) as a tar
    /// stream, through the archive API.
    pub fn download_archive(
        &self,
        id: &str,
        path: &str,
    ) -> impl Stream<Item = Result<Bytes, DockerError>> + Send + 'static {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let what = format!("copy {path} out of the container");
        self.docker
            .download_from_container(id, Some(options))
            .map(move |r| r.map_err(|e| DockerError::api(what.clone())(e)))
    }
}
