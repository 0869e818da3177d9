//! The exec API other modules build on: a builder container with the store, binary-safe stdout
//! streaming, exit codes, and removal.

mod common;

use biar::config::BuilderSettings;
use biar::docker::{connect, BuilderContainer, DockerError};
use futures::StreamExt;

#[tokio::test]
async fn exec_streams_binary_stdout_and_the_container_goes_away() {
    if !common::docker_available() {
        return;
    }
    let engine = connect().await.unwrap();
    let settings = BuilderSettings::default();
    let container = BuilderContainer::start(&engine, &settings, "test-exec")
        .await
        .unwrap();
    let id = container.id().to_string();

    // The offline builder's busybox is Debian's busybox-static, the same file as this host's.
    let mut streamed = Vec::new();
    let mut stream = Box::pin(container.exec_stream_stdout(&["cat", "/bin/busybox"]));
    while let Some(chunk) = stream.next().await {
        streamed.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(streamed, std::fs::read("/bin/busybox").unwrap());

    let result = container
        .exec_output(&["sh", "-c", "echo out; echo err >&2; exit 3"])
        .await
        .unwrap();
    assert_eq!(result.exit_code, 3);
    assert_eq!(result.stdout, b"out\n");
    assert_eq!(result.stderr, b"err\n");

    let mut failing =
        Box::pin(container.exec_stream_stdout(&["sh", "-c", "echo boom >&2; exit 2"]));
    let mut last = None;
    while let Some(item) = failing.next().await {
        last = Some(item);
    }
    match last {
        Some(Err(DockerError::ExecFailed {
            code, stderr_tail, ..
        })) => {
            assert_eq!(code, 2);
            assert_eq!(stderr_tail, "boom");
        }
        other => panic!("expected ExecFailed, got {other:?}"),
    }

    container.remove().await;
    let inspect = std::process::Command::new("docker")
        .args(["container", "inspect", &id])
        .output()
        .unwrap();
    assert!(!inspect.status.success(), "container {id} still exists");
}
