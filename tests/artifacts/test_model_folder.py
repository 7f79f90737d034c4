"""The saved-model folder: names inside model.json never lead the reader outside the folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from conftest import make_frame  # noqa: E402

import genforge as gf  # noqa: E402
from genforge.model_folder import read_meta  # noqa: E402

TINY = {"epochs": 1, "batch_size": 8, "seed": 1, "verbose": False, "width": 8, "latent_dim": 4}


@pytest.fixture
def saved(tmp_path) -> Path:
    gan = gf.GANEstimator(**TINY).train(training_frame=make_frame(n=16, size=8))
    return gf.save_model(gan, tmp_path / "models")


@pytest.mark.parametrize("name", ["../outside.safetensors", "/tmp/outside.safetensors", "sub/weights.safetensors",
                                  "..\\outside.safetensors", ".hidden.safetensors", "weights.pt", "", None, 7])
def test_a_weights_name_that_leaves_the_folder_is_refused_before_any_read(saved, name):
    # A file of that name outside the folder exists: it must not be opened, hashed or even looked at.
    outside = saved.parent / "outside.safetensors"
    outside.write_bytes(b"not safetensors")
    meta = json.loads((saved / "model.json").read_text())
    meta["weights"]["file"] = name
    (saved / "model.json").write_text(json.dumps(meta))
    with pytest.raises(gf.ModelFormatError, match="plain file name inside the model folder"):
        gf.load_model(saved)
    with pytest.raises(gf.ModelFormatError, match="plain file name"):
        read_meta(saved)
    with pytest.raises(gf.ModelFormatError, match="plain file name"):
        gf.GANEstimator(**{**TINY, "epochs": 2, "checkpoint": str(saved)}).train(training_frame=make_frame(n=16, size=8))


def test_a_plain_other_name_inside_the_folder_still_loads(saved):
    meta = json.loads((saved / "model.json").read_text())
    (saved / "weights.safetensors").rename(saved / "renamed.safetensors")
    meta["weights"]["file"] = "renamed.safetensors"
    (saved / "model.json").write_text(json.dumps(meta))
    assert gf.load_model(saved).predict(2, seed=0).images.shape == (2, 8, 8, 1)
