//! What a registry can make the client do. Credentials go only to the registry's own origin: an
//! upload session or a redirect naming another host or port gets none (a tiny loopback server
//! stands for the hostile registry, a second one for the other origin, recording what arrives).
//! A registry that accepts connections but never answers (the real `docker-registry`, frozen) is
//! reported as not answering, naming it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use biar::registry::{
    push_image, ByteStream, Client, ClientOptions, Credentials, Descriptor, PushImage, PushOptions,
    RegistryError, OCI_LAYER_TAR,
};
use bytes::Bytes;
use common::registry::Registry;
use common::testimage;
use sha2::Digest as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request as a test server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    authorization: Option<String>,
}

/// An answer: status, extra header lines (each ending in `\r\n`), body.
type Answer = (u16, String, String);

/// A loopback HTTP/1.1 server answering each request with `answer(request, own host)`, one
/// request per connection; every request is recorded.
struct Server {
    host: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    async fn start(answer: impl Fn(&Seen, &str) -> Answer + Send + Sync + 'static) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let (log, me) = (seen.clone(), host.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (log, answer, me) = (log.clone(), answer.clone(), me.clone());
                tokio::spawn(async move {
                    let _ = serve_one(sock, &log, &*answer, &me).await;
                });
            }
        });
        Server { host, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve_one(
    mut sock: tokio::net::TcpStream,
    log: &Mutex<Vec<Seen>>,
    answer: &(dyn Fn(&Seen, &str) -> Answer + Send + Sync),
    me: &str,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let mut first = head.lines().next().unwrap_or("").split(' ');
    let request = Seen {
        method: first.next().unwrap_or("").to_string(),
        path: first.next().unwrap_or("").to_string(),
        authorization: header("authorization"),
    };
    // Read (and drop) the body, so the client is not cut off mid-upload.
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut got = buf.len() - head_end;
    while got < length {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        got += n;
    }
    log.lock().unwrap().push(request.clone());
    let (status, headers, body) = answer(&request, me);
    let reply = format!(
        "HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if request.method == "HEAD" { "" } else { &body }
    );
    sock.write_all(reply.as_bytes()).await
}

const USER: &str = "alice";
const PASSWORD: &str = "s3cret-pw";

fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    )
}

fn client(host: &str) -> Client {
    Client::new(
        host,
        ClientOptions {
            credentials: Some(Credentials {
                username: USER.into(),
                password: PASSWORD.into(),
            }),
            docker_config: Some("/nonexistent/config.json".into()),
            ..Default::default()
        },
    )
    .unwrap()
}

/// How the hostile registry wants to be authenticated.
#[derive(Clone, Copy, Debug)]
enum Scheme {
    Basic,
    Bearer,
}

/// A registry that wants credentials and answers like one, except that it places upload
/// sessions at `elsewhere` and redirects `/v2/r/blobs/…` and the manifest `away` there (and the
/// manifest `here` to another path of its own).
fn hostile(scheme: Scheme, elsewhere: String) -> impl Fn(&Seen, &str) -> Answer {
    move |r: &Seen, me: &str| {
        let authorized = match scheme {
            Scheme::Basic => r.authorization.as_deref() == Some(basic().as_str()),
            Scheme::Bearer => r.authorization.as_deref() == Some("Bearer tok-for-alice"),
        };
        if r.path.starts_with("/token") {
            return if r.authorization.as_deref() == Some(basic().as_str()) {
                (200, String::new(), r#"{"token":"tok-for-alice"}"#.into())
            } else {
                (401, String::new(), String::new())
            };
        }
        if !authorized {
            let challenge = match scheme {
                Scheme::Basic => "Basic realm=\"hostile\"".to_string(),
                Scheme::Bearer => format!("Bearer realm=\"http://{me}/token\",service=\"hostile\""),
            };
            return (
                401,
                format!("WWW-Authenticate: {challenge}\r\n"),
                String::new(),
            );
        }
        let to = |path: &str| format!("Location: http://{elsewhere}{path}\r\n");
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/v2/") => (200, String::new(), "{}".into()),
            ("POST", p) if p.starts_with("/v2/r/blobs/uploads/") => {
                (202, to("/upload/1"), "".into())
            }
            ("HEAD", p) if p.starts_with("/v2/r/blobs/sha256:") && p.ends_with("aa") => {
                (307, to("/blob"), String::new())
            }
            ("HEAD", p) if p.starts_with("/v2/r/blobs/") => (404, String::new(), String::new()),
            ("GET", "/v2/r/manifests/away") => (302, to("/manifest"), String::new()),
            ("GET", "/v2/r/manifests/here") => (
                302,
                format!("Location: http://{me}/v2/r/manifests/moved\r\n"),
                String::new(),
            ),
            ("GET", "/v2/r/manifests/moved") => (200, String::new(), "{}".into()),
            ("HEAD", p) if p.starts_with("/v2/r/manifests/") => (404, String::new(), String::new()),
            ("PUT", p) if p.starts_with("/v2/r/manifests/") => (201, String::new(), String::new()),
            _ => (404, String::new(), String::new()),
        }
    }
}

/// The other origin: takes uploads, serves a blob and a manifest.
async fn other_origin() -> Server {
    Server::start(|r: &Seen, _: &str| match r.method.as_str() {
        "PUT" => (201, String::new(), String::new()),
        _ => (
            200,
            "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n".into(),
            "{}".into(),
        ),
    })
    .await
}

fn no_credentials_reached(other: &Server) {
    let seen = other.seen();
    assert!(!seen.is_empty(), "the other origin was never asked");
    for r in &seen {
        assert!(
            r.authorization.is_none(),
            "the other origin got the registry's credentials: {r:?}"
        );
    }
}

async fn upload_location_elsewhere_gets_no_credentials(scheme: Scheme) {
    let other = other_origin().await;
    // Another port of the same host: a different origin.
    let registry = Server::start(hostile(scheme, other.host.clone())).await;
    let img = testimage::make("hostile");
    let open = |d: &Descriptor| {
        let r = img.open(d);
        Box::pin(async move { r }) as _
    };
    let c = client(&registry.host);
    push_image(
        &c,
        "r",
        "t",
        &img.image,
        &open,
        &PushOptions::default(),
        &|_| {},
    )
    .await
    .unwrap();
    let uploads: Vec<_> = other
        .seen()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(uploads.len(), 3, "two layers and the config: {uploads:?}");
    no_credentials_reached(&other);
    // The registry itself still got them (the manifest PUT is authorized).
    assert!(registry
        .seen()
        .iter()
        .any(|r| r.method == "PUT" && r.authorization.is_some()));
}

#[tokio::test]
async fn upload_session_on_another_origin_gets_no_basic_credentials() {
    upload_location_elsewhere_gets_no_credentials(Scheme::Basic).await;
}

#[tokio::test]
async fn upload_session_on_another_origin_gets_no_bearer_token() {
    upload_location_elsewhere_gets_no_credentials(Scheme::Bearer).await;
}

#[tokio::test]
async fn redirects_to_another_origin_get_no_credentials_and_same_origin_ones_keep_them() {
    for scheme in [Scheme::Basic, Scheme::Bearer] {
        let other = other_origin().await;
        let registry = Server::start(hostile(scheme, other.host.clone())).await;
        let c = client(&registry.host);
        c.ping().await.unwrap();
        // A blob HEAD (push and pull ask these) and a manifest GET redirected away.
        let blob = format!("sha256:{}aa", "0".repeat(62));
        assert!(c.blob_exists("r", &blob).await.unwrap().is_some());
        c.get_manifest("r", "away").await.unwrap();
        no_credentials_reached(&other);
        // A redirect within the registry keeps them.
        c.get_manifest("r", "here").await.unwrap();
        let moved = registry
            .seen()
            .into_iter()
            .find(|r| r.path == "/v2/r/manifests/moved")
            .expect("the same-origin redirect was followed");
        assert!(moved.authorization.is_some(), "{scheme:?}: {moved:?}");
    }
}

/// A `size`-byte layer of zeros, streamed in 64 KiB chunks, and its descriptor.
fn zeros(size: usize) -> (Descriptor, impl Fn() -> ByteStream) {
    let digest = format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(vec![0u8; size]))
    );
    let d = Descriptor {
        media_type: OCI_LAYER_TAR.into(),
        digest,
        size: size as u64,
    };
    let open = move || -> ByteStream {
        let chunks = (0..size / 65536).map(|_| Ok(Bytes::from(vec![0u8; 65536])));
        Box::pin(futures::stream::iter(chunks))
    };
    (d, open)
}

fn impatient_client(reg: &Registry) -> Client {
    Client::new(
        &reg.host(),
        ClientOptions {
            docker_config: Some(reg.dir.path().join("no-docker-config.json")),
            answer_timeout: Some(Duration::from_secs(2)),
            ..Default::default()
        },
    )
    .unwrap()
}

fn assert_no_answer(err: RegistryError, reg: &Registry) {
    let text = err.to_string();
    assert!(matches!(err, RegistryError::NoAnswer { .. }), "{text}");
    assert!(
        text.contains(&format!(
            "the registry {} did not answer in time",
            reg.host()
        )) && !text.contains("reading layer"),
        "{text}"
    );
}

/// Frozen while a large layer streams up: the registry stops taking bytes; the push says the
/// registry did not answer (not that reading the layer failed), within seconds, not never.
#[tokio::test]
async fn registry_frozen_during_an_upload_is_said_to_not_answer() {
    let Some(reg) = Registry::start() else { return };
    let c = impatient_client(&reg);
    // Far more than the socket buffers hold.
    let (layer, bytes) = zeros(64 << 20);
    let image = PushImage {
        config: Bytes::from_static(b"{}"),
        layers: vec![layer],
    };
    let options = PushOptions::default();
    let frozen = &reg;
    let open = |_: &Descriptor| {
        // Called when the upload starts: the registry hangs from now on.
        frozen.freeze();
        let s = bytes();
        Box::pin(async move { Ok(s) }) as _
    };
    let push = push_image(
        &c,
        "biar-test/frozen",
        "t",
        &image,
        &open,
        &options,
        &|_| {},
    );
    let result = tokio::time::timeout(Duration::from_secs(60), push).await;
    reg.thaw();
    let err = result
        .expect("the push gave up on the frozen registry")
        .unwrap_err();
    assert_no_answer(err, &reg);
}

#[tokio::test]
async fn registry_frozen_before_a_request_is_said_to_not_answer() {
    let Some(reg) = Registry::start() else { return };
    let c = impatient_client(&reg);
    reg.freeze();
    let result = tokio::time::timeout(Duration::from_secs(60), c.ping()).await;
    reg.thaw();
    let err = result
        .expect("the ping gave up on the frozen registry")
        .unwrap_err();
    assert_no_answer(err, &reg);
    // Thawed, the same client goes on: nothing was left in a bad state.
    c.ping().await.unwrap();
}
