"""The registry: versions side by side, promote, roll back, challenger, atomic pointer files, and its CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.cli import main
from models.errors import RegistryError
from models.registry import Registry


@pytest.fixture
def root(bundle_dir: Path, tmp_path: Path) -> Path:
    """A registry folder holding three copies of the session bundle: v1, v2, v3."""
    for v in ("v1", "v2", "v3"):
        shutil.copytree(bundle_dir, tmp_path / v)
    return tmp_path


def test_promote_and_rollback_walk_the_history(root: Path) -> None:
    reg = Registry(root)
    assert (reg.current, reg.challenger, reg.history()) == (None, None, [])
    reg.promote("v1")
    reg.promote("v2")
    reg.promote("v3")
    assert reg.current == "v3"
    assert reg.current_path() == root / "v3"
    assert reg.history() == ["v1", "v2"]
    assert (root / "CURRENT").read_text() == "v3\n"
    assert reg.rollback() == "v2"
    assert reg.rollback() == "v1"
    assert reg.current == "v1"
    with pytest.raises(RegistryError) as info:
        reg.rollback()
    assert "nothing to roll back to" in str(info.value)
    assert reg.current == "v1"
    assert not [p.name for p in root.iterdir() if ".tmp-" in p.name]


def test_promoting_the_current_version_changes_nothing(root: Path) -> None:
    reg = Registry(root)
    reg.promote("v1")
    reg.promote("v1")
    assert reg.history() == []


def test_list_marks_the_roles(root: Path) -> None:
    (root / "not-a-bundle").mkdir()
    reg = Registry(root)
    reg.promote("v2")
    reg.set_challenger("v3")
    assert [(i.version, i.current, i.challenger) for i in reg.list()] == [
        ("v1", False, False),
        ("v2", True, False),
        ("v3", False, True),
    ]


def test_challenger_is_set_cleared_and_cleared_by_its_promotion(root: Path) -> None:
    reg = Registry(root)
    reg.promote("v1")
    with pytest.raises(RegistryError) as info:
        reg.set_challenger("v1")
    assert str(info.value) == "v1 is the champion; a challenger must be another version"
    reg.set_challenger("v2")
    assert reg.challenger_path() == root / "v2"
    reg.promote("v2")
    assert reg.challenger is None
    reg.set_challenger("v3")
    assert reg.set_challenger(None) is None
    assert reg.challenger is None


def test_unknown_and_broken_versions_are_refused(root: Path) -> None:
    reg = Registry(root)
    with pytest.raises(RegistryError) as info:
        reg.promote("v9")
    assert str(info.value) == f"no bundle 'v9' in {root} (versions: v1, v2, v3)"
    with pytest.raises(RegistryError):
        reg.promote("../v1")
    (root / "v2" / "model.txt").write_text("tampered")
    with pytest.raises(RegistryError) as info:
        reg.promote("v2")
    assert str(info.value).startswith("v2 cannot be served: model.txt in ")
    assert reg.current is None


def test_cli(root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FRAUDGATE_MODEL_DIR", str(root))
    assert main(["models", "promote", "v1"]) == 0
    assert main(["models", "promote", "v2"]) == 0
    assert main(["models", "challenger", "v3"]) == 0
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    assert capsys.readouterr().out == "  v1\n* v2  current\n+ v3  challenger\n"
    assert main(["models", "rollback"]) == 0
    assert capsys.readouterr().out == "CURRENT = v1 (rolled back)\n"
    assert main(["models", "challenger", "--clear"]) == 0
    assert Registry(root).challenger is None
    assert main(["models", "promote", "nope"]) == 1
    assert capsys.readouterr().err.startswith("fraudgate models: no bundle 'nope'")
    assert main(["models", "challenger"]) == 2
