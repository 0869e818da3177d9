//! The start page at `/`: plain HTML (no script), every value escaped.

use std::time::SystemTime;

use super::builds::{JobState, Server};

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

pub fn render(server: &Server) -> String {
    let host = server.address.to_string();
    let tags: Vec<String> = server
        .settings
        .pins
        .iter()
        .map(|(t, p)| {
            format!(
                "<li><code>{}</code>: {}</li>",
                escape(t),
                escape(&format!("{p:?}"))
            )
        })
        .collect();
    let presets: Vec<String> = biar::presets::SHIPPED
        .iter()
        .map(|(n, _)| format!("<code>preset-{}</code>", escape(n)))
        .collect();
    let mut rows = String::new();
    for job in server.builds() {
        let state = job.state();
        let detail = match &state {
            JobState::Done(stored) => escape(&stored.manifest.digest),
            JobState::Failed(f) => escape(f.message.lines().next().unwrap_or("")),
            _ => String::new(),
        };
        let ago = SystemTime::now()
            .duration_since(job.started)
            .map(|d| format!("{}s ago", d.as_secs()))
            .unwrap_or_default();
        let took = job
            .took
            .lock()
            .unwrap()
            .map(|d| format!("{:.1}s", d.as_secs_f64()))
            .unwrap_or_default();
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&job.display),
            escape(&state.label()),
            escape(&ago),
            escape(&took),
            detail
        ));
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=\"5\">no builds since the server started</td></tr>\n");
    }
    let host = escape(&host);
    format!(
        "<!DOCTYPE html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>biar-tui serve</title></head>
<body>
<h1>Images by name</h1>
<p>Every path component of an image name is a package; the image is built on the first pull and
served from storage after that. The base configuration is always in; <code>shell</code> adds nothing
more; the shipped presets are {presets}.</p>
<pre>docker pull {host}/shell/hello
docker run --rm -it {host}/shell/git/jq sh</pre>
<p>The first pull of a new name waits for its build (up to the server's <code>--wait</code>, then it
says to retry). Tags name package sets:</p>
<ul>{tags}</ul>
<h2>Builds</h2>
<table>
<tr><th>image</th><th>state</th><th>started</th><th>took</th><th>result</th></tr>
{rows}</table>
</body></html>
",
        presets = presets.join(", "),
        tags = tags.join(""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x')</script>&\"\u{1b}[2J"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;[2J"
        );
    }
}
