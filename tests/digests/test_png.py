"""The chart's PNG writer: what it writes decodes to the pixels it was given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.digests.png import SIGNATURE, write_png


@pytest.mark.parametrize("shape", [(400, 1000), (1, 1), (3, 7)])
def test_pixels_round_trip(tmp_path: Path, shape: tuple[int, int]):
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(*shape, 4), dtype=np.uint8)
    path = write_png(tmp_path / "random.png", pixels, dpi=100)
    assert path.read_bytes().startswith(SIGNATURE)
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGBA" and image.size == (shape[1], shape[0])
        assert np.array_equal(np.asarray(image), pixels)
        assert image.info["dpi"] == pytest.approx((100, 100), abs=0.01)


def test_only_rgba_is_written(tmp_path: Path):
    with pytest.raises(ValueError, match="RGBA"):
        write_png(tmp_path / "rgb.png", np.zeros((2, 2, 3), dtype=np.uint8), dpi=100)
