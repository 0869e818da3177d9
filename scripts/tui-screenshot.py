#!/usr/bin/env python3
"""Renders a terminal capture (`tmux capture-pane -e -p`, SGR colours included) to a PNG.

usage: tui-screenshot.py CAPTURE.txt OUT.png [COLUMNS ROWS]
Needs Pillow (PyPI) and DejaVu Sans Mono (Debian's fonts-dejavu-core).
"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
SIZE = 15
BG = (24, 26, 33)
FG = (214, 219, 229)
# xterm's 16 colours, tuned a little for a dark background.
BASE16 = [
    (40, 42, 54), (224, 88, 88), (120, 200, 110), (230, 196, 90),
    (98, 150, 230), (200, 120, 220), (90, 200, 210), (200, 204, 212),
    (110, 114, 128), (255, 120, 120), (150, 230, 140), (255, 220, 120),
    (130, 180, 255), (230, 150, 250), (120, 230, 240), (255, 255, 255),
]


def palette(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


def sgr(params, state):
    codes = [int(p) if p.isdigit() else 0 for p in re.split("[;:]", params)] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            state.update(fg=None, bg=None, bold=False, reverse=False, dim=False)
        elif c == 1:
            state["bold"] = True
        elif c == 2:
            state["dim"] = True
        elif c == 7:
            state["reverse"] = True
        elif c == 22:
            state["bold"] = state["dim"] = False
        elif c == 27:
            state["reverse"] = False
        elif 30 <= c <= 37:
            state["fg"] = palette(c - 30)
        elif c == 39:
            state["fg"] = None
        elif 40 <= c <= 47:
            state["bg"] = palette(c - 40)
        elif c == 49:
            state["bg"] = None
        elif 90 <= c <= 97:
            state["fg"] = palette(c - 90 + 8)
        elif 100 <= c <= 107:
            state["bg"] = palette(c - 100 + 8)
        elif c in (38, 48) and i + 1 < len(codes):
            key = "fg" if c == 38 else "bg"
            if codes[i + 1] == 5 and i + 2 < len(codes):
                state[key] = palette(codes[i + 2])
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                state[key] = tuple(codes[i + 2:i + 5])
                i += 4
        i += 1


def cells(text):
    """Yields rows of (char, state) cells."""
    state = dict(fg=None, bg=None, bold=False, reverse=False, dim=False)
    for line in text.split("\n"):
        row = []
        i = 0
        while i < len(line):
            ch = line[i]
            if ch == "\x1b":
                m = re.match(r"\x1b\[([0-9;:]*)m", line[i:])
                if m:
                    sgr(m.group(1), state)
                    i += len(m.group(0))
                    continue
                m = re.match(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07|.)", line[i:])
                i += len(m.group(0)) if m else 1
                continue
            row.append((ch, dict(state)))
            i += 1
        yield row


def main():
    src, out = sys.argv[1], sys.argv[2]
    text = open(src, encoding="utf-8").read().rstrip("\n")
    rows = list(cells(text))
    cols = int(sys.argv[3]) if len(sys.argv) > 3 else max(len(r) for r in rows)
    nrows = int(sys.argv[4]) if len(sys.argv) > 4 else len(rows)
    regular = ImageFont.truetype(FONT_DIR + "DejaVuSansMono.ttf", SIZE)
    bold = ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Bold.ttf", SIZE)
    left, top, right, bottom = regular.getbbox("M")
    cw = round(regular.getlength("M"))
    ch = round(SIZE * 1.25)
    pad = 12
    img = Image.new("RGB", (cols * cw + 2 * pad, nrows * ch + 2 * pad), BG)
    draw = ImageDraw.Draw(img)
    for y, row in enumerate(rows[:nrows]):
        for x, (c, st) in enumerate(row[:cols]):
            fg = st["fg"] or FG
            bg = st["bg"] or BG
            if st["reverse"]:
                fg, bg = bg, fg
            if st["dim"]:
                fg = tuple((a + b) // 2 for a, b in zip(fg, bg))
            px, py = pad + x * cw, pad + y * ch
            if bg != BG:
                draw.rectangle([px, py, px + cw - 1, py + ch - 1], fill=bg)
            if c == "█":
                draw.rectangle([px, py, px + cw - 1, py + ch - 1], fill=fg)
            elif c != " ":
                draw_box_or_text(draw, c, px, py, cw, ch, fg, bold if st["bold"] else regular)
    img.save(out)


def draw_box_or_text(draw, c, px, py, cw, ch, fg, font):
    """Box-drawing characters are drawn as lines so borders join up between cells."""
    heavy = c in "━┃┏┓┗┛"
    width = 2 if heavy else 1
    mx, my = px + cw // 2, py + ch // 2
    segs = {
        "─": "lr", "━": "lr", "│": "ud", "┃": "ud",
        "┌": "rd", "┏": "rd", "╭": "rd", "┐": "ld", "┓": "ld", "╮": "ld",
        "└": "ru", "┗": "ru", "╰": "ru", "┘": "lu", "┛": "lu", "╯": "lu",
        "├": "udr", "┤": "udl", "┬": "lrd", "┴": "lru", "┼": "lrud",
    }.get(c)
    if segs is None:
        draw.text((px, py + 1), c, font=font, fill=fg)
        return
    lo, hi = width // 2, (width - 1) // 2
    rects = {
        "l": (px, my - lo, mx + hi, my + hi),
        "r": (mx - lo, my - lo, px + cw - 1, my + hi),
        "u": (mx - lo, py, mx + hi, my + hi),
        "d": (mx - lo, my - lo, mx + hi, py + ch - 1),
    }
    for s in segs:
        draw.rectangle(rects[s], fill=fg)


if __name__ == "__main__":
    main()
