"""Guardrails for every model call: input and output guards built on guardrails-ai validators.

Importing this package refuses NLTK downloads before guardrails-ai is imported: guardrails calls
`nltk.download("punkt")` at import time when NLTK is installed without that data (NLTK is here
for the radiology METEOR metric), and MedGraph never downloads anything at run time.
"""

from __future__ import annotations

import logging

import nltk

_log = logging.getLogger(__name__)


def _refuse_download(info_or_id: object = None, *args: object, **kwargs: object) -> bool:
    """Stand-in for `nltk.download`: log and report failure, never touch the network."""
    _log.info("nltk_download_refused resource=%s", info_or_id)
    return False


nltk.download = _refuse_download
