"""Modules on the answer and feedback path stay light: the digest code (numpy, matplotlib) loads only where digests
are made, so a process that answers and takes ratings does not carry it for saying it deletes data."""

import subprocess
import sys


def test_the_feedback_views_do_not_load_the_digest_code():
    probe = (
        "import sys, bot.feedback.views, bot.digests.deletion\n"
        "print(sorted(m for m in ('matplotlib', 'numpy', 'bot.digests.service') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
