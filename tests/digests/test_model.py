"""Digest.to_dict: the digest as plain data for digest.json."""

from __future__ import annotations

import dataclasses
import json

from bot.digests.stats import compute_digest
from tests.digests.test_report import period_rows
from tests.digests.test_stats import rows


def asdict_plain(value: object) -> object:
    """What to_dict gave before: dataclasses.asdict, then tuples as lists and keys as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return asdict_plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(key): asdict_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [asdict_plain(item) for item in value]
    return value


def test_to_dict_is_asdict_with_lists_and_string_keys():
    for digest in (compute_digest(*period_rows()), compute_digest(rows(), None)):
        plain = digest.to_dict()
        assert plain == asdict_plain(digest)
        assert json.dumps(plain, indent=1) == json.dumps(asdict_plain(digest), indent=1)  # same order too
