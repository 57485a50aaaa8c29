"""Shared fixtures: the seed configuration with its files written to disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SEED = Path(__file__).parent / "data" / "seed_joint.lyric"


@pytest.fixture(scope="session")
def seed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``seed_joint.lyric`` and mock files for every path it names.

    Session-scoped: rendering the mock compiles the profile code once. Tests
    must not modify the folder.
    """
    from galfits_nb.data.mock import write_seed_files

    folder = tmp_path_factory.mktemp("seed")
    shutil.copy(SEED, folder / "seed_joint.lyric")
    write_seed_files(folder, seed=1)
    return folder
