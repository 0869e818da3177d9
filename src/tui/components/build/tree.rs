//! The build view's tree of derivations and its pinned failure, drawn from the library's
//! [`BuildTree`] (pure: the tree carries its own `now`).

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use biar::progress::{duration, BuildTree, NodeState};

use crate::tui::components::truncate;
use crate::tui::theme::Theme;

/// Log lines of a failed derivation pinned above the tree, at most.
pub const PINNED_LINES: usize = 6;

fn state_style(state: NodeState, t: &Theme) -> Style {
    match state {
        NodeState::Waiting => t.dim(),
        NodeState::Building | NodeState::Substituting => Style::default().fg(t.progress_fg),
        NodeState::Done => Style::default().fg(t.ok_fg),
        NodeState::Failed => Style::default()
            .fg(t.failed_fg)
            .add_modifier(Modifier::BOLD),
    }
}

/// At most `height` rows of the tree, `width` columns each: indent, state symbol, name, then
/// state, elapsed time, phase, bytes and rate. When the tree is taller, failed and running nodes
/// are kept first and the last row says how many were left out.
pub fn tree_lines(tree: &BuildTree, height: usize, width: usize, t: &Theme) -> Vec<Line<'static>> {
    if height == 0 || tree.is_empty() {
        return Vec::new();
    }
    let (rows, left_out) = match tree.rows_within(height) {
        (rows, 0) => (rows, 0),
        _ => tree.rows_within(height - 1),
    };
    let mut lines: Vec<Line<'static>> = rows
        .iter()
        .map(|r| {
            let node = tree.node(r.node);
            let text = tree.line(r.node, r.depth);
            let indent = "  ".repeat(r.depth);
            let symbol = node.state.symbol();
            let rest = &text[indent.len() + symbol.len()..];
            // The name reads plain; what follows it is the detail.
            let (name, detail) = rest.split_at(rest.find("  ").unwrap_or(rest.len()));
            let name_width = width.saturating_sub(indent.len() + 2);
            let name = truncate(name, name_width);
            let detail = truncate(detail, name_width.saturating_sub(name.chars().count()));
            Line::from(vec![
                Span::raw(indent),
                Span::styled(symbol.to_string(), state_style(node.state, t)),
                Span::raw(name),
                Span::styled(detail, t.dim()),
            ])
        })
        .collect();
    if left_out > 0 {
        lines.push(Line::from(Span::styled(
            truncate(
                &format!(
                    "  … {left_out} more ({} done, {} waiting)",
                    tree.count(NodeState::Done),
                    tree.count(NodeState::Waiting)
                ),
                width,
            ),
            t.dim(),
        )));
    }
    lines
}

/// The first failed derivation: a line naming it and the keys, then the last lines of its own
/// log (already sanitized by the tree), `height` rows in all. Empty when nothing failed.
pub fn failure_lines(
    tree: &BuildTree,
    height: usize,
    width: usize,
    t: &Theme,
) -> Vec<Line<'static>> {
    let Some(i) = tree.failed() else {
        return Vec::new();
    };
    if height == 0 {
        return Vec::new();
    }
    let node = tree.node(i);
    let took = node
        .elapsed(tree.now())
        .map(|d| format!(" after {}", duration(d)))
        .unwrap_or_default();
    let header = format!(
        "✗ {} failed{took} · its last lines (w save the log · y copy it)",
        node.name
    );
    let mut lines = vec![Line::from(Span::styled(
        truncate(&header, width),
        state_style(NodeState::Failed, t),
    ))];
    let tail = node.log.tail((height - 1).min(PINNED_LINES));
    if tail.is_empty() && height > 1 {
        lines.push(Line::from(Span::styled("  (it printed nothing)", t.dim())));
    }
    lines.extend(
        tail.iter()
            .map(|l| Line::from(truncate(&format!("  {l}"), width))),
    );
    lines
}

/// Rows [`failure_lines`] wants.
pub fn failure_height(tree: &BuildTree) -> usize {
    tree.failed()
        .map_or(0, |i| 1 + tree.node(i).log.len().clamp(1, PINNED_LINES))
}
