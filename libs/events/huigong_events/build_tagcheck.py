"""Compile the record-tag check (`_tagcheck.c`) next to this module: `python -m
huigong_events.build_tagcheck`. bin/setup runs it after installing the Python environment and
the Dockerfile in its build stage; it needs a C compiler and OpenSSL's headers (Debian's gcc and
libssl-dev). It rebuilds only when the source changed, so bin/setup stays quick.

Without the compiled module every consumer still checks every tag, in Python, two to three times
slower (`bench/bench_authenticity.py` prints both): `authenticity.compiled_check()` says which
one runs, and the test suite fails when the module is missing, so that no one measures or ships
the slow path by accident.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "_tagcheck.c"
TARGET = HERE / f"_tagcheck{sysconfig.get_config_var('EXT_SUFFIX')}"
STAMP = HERE / "_tagcheck.stamp"  # the source's hash the built module was made from


def main() -> int:
    digest = hashlib.sha256(SOURCE.read_bytes() + sys.version.encode()).hexdigest()
    if TARGET.exists() and STAMP.exists() and STAMP.read_text().strip() == digest:
        print(f"{TARGET.name} up to date")
        return 0
    compiler = os.environ.get("CC", "cc")
    command = [
        *shlex.split(compiler),
        "-O2",
        "-shared",
        "-fPIC",
        "-Wall",
        "-Werror",
        f"-I{sysconfig.get_paths()['include']}",
        str(SOURCE),
        "-lcrypto",
        "-o",
        str(TARGET),
    ]
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        print(
            f"could not compile {SOURCE.name} ({shlex.join(command)}): install a C compiler and "
            "OpenSSL's headers (Debian: gcc libssl-dev)",
            file=sys.stderr,
        )
        return result.returncode
    STAMP.write_text(digest + "\n")
    print(f"{TARGET.name} built")
    return 0


if __name__ == "__main__":
    sys.exit(main())
