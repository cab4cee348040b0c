"""Importing the guarded model layer tries no network connection, even without NLTK data.

guardrails-ai calls `nltk.download("punkt")` at import when NLTK lacks that data; a fresh
interpreter with an empty NLTK data path and every socket connection recorded proves the
download is refused before it reaches the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, socket
attempts = []
def record(self, address):
    attempts.append(str(address))
    raise OSError("network refused by the test")
socket.socket.connect = record
def resolve(host, *args, **kwargs):
    attempts.append(f"resolve {host}")
    raise OSError("name resolution refused by the test")
socket.getaddrinfo = resolve
import agents.model_access  # imports tools.guards, then guardrails
import guardrails
import nltk
print(json.dumps({"attempts": attempts, "download": nltk.download.__name__}))
"""


def test_importing_the_model_layer_and_guardrails_opens_no_connection(tmp_path: Path):
    env = {**os.environ, "NLTK_DATA": str(tmp_path / "empty-nltk-data"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        timeout=300,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"attempts": [], "download": "_refuse_download"}
