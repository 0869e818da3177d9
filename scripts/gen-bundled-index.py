#!/usr/bin/env python3
"""Regenerates the bundled offline package index from a plain list of attribute paths.

    scripts/gen-bundled-index.py [/work/shared/data/nixpkgs-attrs-2025-02.txt]

Writes crates/biar/data/nixpkgs-attrs.fc.xz: the names sorted by bytes, front-coded (one byte:
length of the prefix shared with the previous name, then the rest of the name, then a newline)
and xz-compressed (the crate decodes it with xz2). Front coding shrinks 3.0 MB to 1.0 MB before
compression and lets xz reach ~390 kB. Also writes nixpkgs-attrs.sha256: the SHA-256 of the
sorted names joined by newlines (each followed by one), which a unit test checks the decoder
against, and the count.
"""
import hashlib
import lzma
import pathlib
import sys

src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/nixpkgs-attrs-2025-02.txt")
out_dir = pathlib.Path(__file__).resolve().parent.parent / "crates" / "biar" / "data"

names = sorted({line.strip() for line in src.read_text(encoding="utf-8").splitlines() if line.strip()},
               key=lambda s: s.encode())
coded = bytearray()
prev = b""
for name in names:
    b = name.encode()
    if b"\n" in b:
        sys.exit(f"{src}: a name holds a newline: {name!r}")
    k = 0
    limit = min(len(b), len(prev), 255)
    while k < limit and b[k] == prev[k]:
        k += 1
    coded.append(k)
    coded += b[k:]
    coded.append(10)
    prev = b

(out_dir / "nixpkgs-attrs.fc.xz").write_bytes(lzma.compress(bytes(coded), preset=9 | lzma.PRESET_EXTREME))
digest = hashlib.sha256("".join(n + "\n" for n in names).encode()).hexdigest()
(out_dir / "nixpkgs-attrs.sha256").write_text(f"{digest} {len(names)} {src.name}\n")
print(f"{len(names)} names from {src} -> {out_dir}/nixpkgs-attrs.fc.xz")
