"""The README's strategy example runs as written, on the bundled data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_strategy_example_backtests(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seeded_store_root: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "market").symlink_to(seeded_store_root)
    monkeypatch.setenv("ALPHATRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks()
    assert len(blocks) == 2
    strategy_code = blocks[0]
    assert len(strategy_code.strip().splitlines()) <= 20  # "a working strategy in ~15 lines"
    namespace: dict[str, object] = {}
    exec(strategy_code + "\n" + blocks[1], namespace)
    result = namespace["result"]
    assert result.trades  # type: ignore[attr-defined]
    assert result.strategies == ["ema_cross"]  # type: ignore[attr-defined]
