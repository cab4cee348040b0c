"""The policy corpus: 8+ policies, stable unique section ids, and malformed files refused."""

from __future__ import annotations

import re

import pytest

from state.errors import AssetError
from tools.policy.corpus import SECTION_ID, PolicyCorpus, section_id_of


def test_corpus_has_eight_policies_with_unique_well_formed_section_ids() -> None:
    corpus = PolicyCorpus.load()
    assert len(corpus.documents()) >= 8
    assert len(corpus.ids()) == len(corpus)
    for section_id in corpus.ids():
        assert re.fullmatch(r"POL-[A-Z]+(-\d+(\.\d+)*)?", section_id)
        is_leaf = not any(other.startswith(section_id + ".") for other in corpus.ids())
        if is_leaf and section_id.count("-") == 2:
            assert corpus.section(section_id).text, section_id


def test_each_policy_is_between_one_and_three_pages() -> None:
    corpus = PolicyCorpus.load()
    for path in sorted(corpus.directory.glob("*.md")):
        words = len(path.read_text(encoding="utf-8").split())
        assert 250 <= words <= 1500, (path.name, words)


def test_section_id_comes_from_the_innermost_heading() -> None:
    path = ("POL-SHARE Sharing", "POL-SHARE-2 Reports", "POL-SHARE-2.1 Channels for patient copies")
    assert section_id_of(path) == "POL-SHARE-2.1"
    assert section_id_of(("Intro",)) is None
    assert section_id_of(()) is None


def test_version_changes_when_a_policy_changes(tmp_path) -> None:
    (tmp_path / "a.md").write_text("# POL-A Title\n\n## POL-A-1 One\n\nText one.\n")
    before = PolicyCorpus.load(tmp_path).version
    (tmp_path / "a.md").write_text("# POL-A Title\n\n## POL-A-1 One\n\nText two.\n")
    assert PolicyCorpus.load(tmp_path).version != before


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("# POL-A Title\n\n## Scope\n\nText.\n", "heading without a section id"),
        ("## POL-A-1 One\n\nText.\n", "opens with"),
        ("# POL-A Title\n\n## POL-B-1 One\n\nText.\n", "is not under POL-A"),
    ],
)
def test_malformed_policy_files_are_refused(tmp_path, text: str, problem: str) -> None:
    (tmp_path / "bad.md").write_text(text)
    with pytest.raises(AssetError, match=problem):
        PolicyCorpus.load(tmp_path)


def test_duplicate_ids_across_files_are_refused(tmp_path) -> None:
    for name in ("a.md", "b.md"):
        (tmp_path / name).write_text("# POL-A Title\n\n## POL-A-1 One\n\nText.\n")
    with pytest.raises(AssetError, match="appears twice"):
        PolicyCorpus.load(tmp_path)


def test_empty_directory_is_an_asset_error(tmp_path) -> None:
    with pytest.raises(AssetError, match="no policy files"):
        PolicyCorpus.load(tmp_path)


def test_section_id_pattern_rejects_free_text() -> None:
    assert SECTION_ID.match("POL-PHI-3.2 Minimum necessary")
    assert not SECTION_ID.match("3.2 Minimum necessary")
