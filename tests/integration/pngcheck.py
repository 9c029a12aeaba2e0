# SPDX-License-Identifier: MIT
"""Checks pixels of a memlimit-plot chart (t_plot.sh), with no module beyond the
standard library.

usage: pngcheck.py CHART.png VERBOSE.txt CHECK...
VERBOSE.txt is what memlimit-plot -v printed: its "axes:" line maps seconds and MiB
to pixels. Each CHECK is one argument, words separated by spaces:
  has RRGGBB T MIB R [DX DY]  a pixel within R pixels of (T s, MIB), moved by DX, DY
                          pixels (right, down), is near that colour
  lacks RRGGBB T MIB R [DX DY]  none is
  fill RRGGBB T MIB       most of the 5x5 pixels around (T, MIB) are that colour
  has-region RRGGBB WHERE / lacks-region RRGGBB WHERE: a pixel of that colour is / is not
                          in WHERE: "below" (under the plot area: tic labels, x label),
                          "right" (right of it: the legend) or "above" (the title)
Prints each failed check and exits 1 if any failed."""
import re
import struct
import sys
import zlib


def read_png(path):
    d = open(path, "rb").read()
    assert d[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(d):
        (n,) = struct.unpack(">I", d[pos:pos + 4])
        typ, body = d[pos + 4:pos + 8], d[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        if f == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif f == 2:
            for x in range(stride):
                line[x] = (line[x] + prev[x]) & 255
        elif f == 3:
            for x in range(stride):
                line[x] = (line[x] + ((line[x - bpp] if x >= bpp else 0) + prev[x]) // 2) & 255
        elif f == 4:
            for x in range(stride):
                a, b = (line[x - bpp] if x >= bpp else 0), prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, lambda x, y: tuple(rows[y][x * bpp:x * bpp + 3])


def main():
    png, verbose, checks = sys.argv[1], sys.argv[2], sys.argv[3:]
    w, h, px = read_png(png)
    m = re.search(r"axes: x 0 to ([0-9.]+) s, y 0 to ([0-9.]+) MiB; plot area x (\d+) to (\d+), "
                  r"y (\d+) \(top\) to (\d+) \(bottom\)", open(verbose).read())
    assert m, "no axes line in " + verbose
    xmax, ymax = float(m.group(1)), float(m.group(2))
    x0, x1, y0, y1 = (int(m.group(k)) for k in range(3, 7))

    def at(t, mib):
        return (round(x0 + float(t) / xmax * (x1 - x0)), round(y1 - float(mib) / ymax * (y1 - y0)))

    def near(c, want, tol):
        return all(abs(c[k] - want[k]) <= tol for k in range(3))

    def window(cx, cy, r):
        return [px(x, y) for y in range(max(cy - r, 0), min(cy + r, h - 1) + 1)
                for x in range(max(cx - r, 0), min(cx + r, w - 1) + 1)]

    failed = 0
    for check in checks:
        words = check.split()
        kind, want = words[0], tuple(int(words[1][k:k + 2], 16) for k in (0, 2, 4))
        if kind in ("has", "lacks"):
            cx, cy = at(words[2], words[3])
            if len(words) > 5:
                cx, cy = cx + int(words[5]), cy + int(words[6])
            hit = any(near(c, want, 48) for c in window(cx, cy, int(words[4])))
            ok = hit if kind == "has" else not hit
            where = f"({words[2]} s, {words[3]} MiB) = pixel ({cx}, {cy}) within {words[4]}"
        elif kind == "fill":
            cx, cy = at(words[2], words[3])
            n = sum(near(c, want, 10) for c in window(cx, cy, 2))
            ok = n >= 13
            where = f"({words[2]} s, {words[3]} MiB) = pixel ({cx}, {cy}): {n} of 25"
        elif kind in ("has-region", "lacks-region"):
            if words[2] == "below":
                box = (0, w, y1 + 3, h)
            elif words[2] == "above":
                box = (0, w, 0, y0 - 3)
            else:
                box = (x1 + 3, w, 0, h)
            hit = any(near(px(x, y), want, 30) for y in range(box[2], box[3])
                      for x in range(box[0], box[1]))
            ok = hit if kind == "has-region" else not hit
            where = f"{words[2]} of the plot area, pixels x {box[0]}-{box[1]}, y {box[2]}-{box[3]}"
        else:
            raise SystemExit(f"pngcheck: unknown check {check}")
        if not ok:
            failed += 1
            print(f"pngcheck: {png}: failed: {kind} #{words[1]} at {where}")
    sys.exit(1 if failed else 0)


main()
