#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Parse each reStructuredText file given with docutils and print every
# warning or error it reports (a malformed table, a broken reference, bad
# indentation). Exit status 1 if there was any. The kernel's Sphinx roles
# and directives are not used in these files, so plain docutils suffices.
import io
import sys

import docutils.core
import docutils.utils

bad = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        src = f.read()
    err = io.StringIO()
    docutils.core.publish_doctree(
        src, source_path=path,
        settings_overrides={"warning_stream": err, "report_level": 2,
                            "halt_level": 5})
    if err.getvalue():
        sys.stdout.write(err.getvalue())
        bad = 1
    else:
        print(f"{path}: ok")
sys.exit(bad)
