"""Shared fixtures: the seed configuration with its files written to disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SEED = Path(__file__).parent / "data" / "seed_joint.lyric"


@pytest.fixture
def seed_folder(tmp_path: Path) -> Path:
    """A folder holding ``seed_joint.lyric`` and mock files for every path it names."""
    from galfits_nb.data.mock import write_seed_files

    shutil.copy(SEED, tmp_path / "seed_joint.lyric")
    write_seed_files(tmp_path, seed=1)
    return tmp_path
