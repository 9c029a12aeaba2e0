# SPDX-License-Identifier: MIT
"""A PEP 517 build backend with no dependencies: it packs src/memlimit into a pure
Python wheel (and an sdist), so that `pip install ./bindings/python` needs nothing
from an index. Metadata comes from pyproject.toml's [project] table (the few keys
used there), read with a minimal parser because tomllib is Python 3.11+."""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(HERE, "src")


def _project():
    """name, version, description, requires-python and readme from [project]."""
    out, section = {}, None
    with open(os.path.join(HERE, "pyproject.toml"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            m = re.match(r"^\[(.*)\]$", line)
            if m:
                section = m.group(1)
                continue
            m = re.match(r'^([A-Za-z-]+)\s*=\s*"([^"]*)"$', line)
            if section == "project" and m:
                out[m.group(1)] = m.group(2)
    return out


def _metadata():
    p = _project()
    lines = ["Metadata-Version: 2.1", "Name: " + p["name"], "Version: " + p["version"],
             "Summary: " + p.get("description", ""),
             "Requires-Python: " + p.get("requires-python", ">=3"),
             "Classifier: Operating System :: POSIX :: Linux"]
    readme = p.get("readme")
    body = ""
    if readme and os.path.exists(os.path.join(HERE, readme)):
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(HERE, readme), encoding="utf-8") as f:
            body = "\n" + f.read()
    return p, "\n".join(lines) + "\n" + body


def _files():
    for root, dirs, files in os.walk(os.path.join(SRC, "memlimit")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in sorted(files):
            if name.endswith((".py", ".typed")):
                full = os.path.join(root, name)
                yield full, os.path.relpath(full, SRC).replace(os.sep, "/")


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (path, digest, len(data))


def _wheel(directory, editable):
    p, metadata = _metadata()
    dist = "%s-%s" % (p["name"], p["version"])
    info = dist + ".dist-info"
    name = dist + "-py3-none-any.whl"
    entries = []
    if editable:
        entries.append((p["name"] + ".pth", (SRC + "\n").encode()))
    else:
        for full, rel in _files():
            with open(full, "rb") as f:
                entries.append((rel, f.read()))
    entries.append((info + "/METADATA", metadata.encode("utf-8")))
    entries.append((info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: memlimit_build\n"
                    b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    record = [_record_line(path, data) for path, data in entries] + [info + "/RECORD,,"]
    entries.append((info + "/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(os.path.join(directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in entries:
            z.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), data,
                       zipfile.ZIP_DEFLATED)
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, editable=False)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, editable=True)


def build_sdist(sdist_directory, config_settings=None):
    p, metadata = _metadata()
    base = "%s-%s" % (p["name"], p["version"])
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for root, dirs, files in os.walk(HERE):
            dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".git", "build", "dist"))
            for f in sorted(files):
                full = os.path.join(root, f)
                t.add(full, arcname=base + "/" + os.path.relpath(full, HERE))
        data = metadata.encode("utf-8")
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    return name
