"""Server-drawn SVG charts: no script, no external library, a text alternative always.

The SVG is decorative for assistive technology (`aria-hidden`); the same figures are in
the table beside it, and `role="img"` with a label summarises it where it stands alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape


def bar_chart(
    points: Sequence[tuple[str, float | None, str]],
    *,
    label: str,
    target: float | None = None,
    width: int = 640,
    height: int = 220,
) -> Markup:
    """Vertical bars: (x label, value or None, value text). A dashed line at the target."""
    values = [v for _, v, _ in points if v is not None]
    top = max([*values, target or 0.0, 1.0]) * 1.15
    left, bottom, right, head = 8, 34, 8, 18
    plot_w, plot_h = width - left - right, height - bottom - head
    slot = plot_w / max(len(points), 1)
    bar_w = slot * 0.62
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(label)}</title>",
        f'<line x1="{left}" y1="{head + plot_h}" x2="{width - right}" y2="{head + plot_h}" class="chart-axis"/>',
    ]
    for i, (x_label, value, text) in enumerate(points):
        x = left + i * slot + (slot - bar_w) / 2
        if value is not None:
            h = plot_h * value / top
            y = head + plot_h - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{max(h, 0.5):.1f}" '
                f'class="chart-bar"><title>{escape(x_label)}: {escape(text)}</title></rect>'
            )
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" class="chart-value">{escape(text)}</text>'
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{height - 12}" class="chart-label">{escape(x_label)}</text>'
        )
    if target is not None:
        y = head + plot_h - plot_h * target / top
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" class="chart-target"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
