"""The pytorch-fid Inception-v3 runs the whole pipeline on random weights (no file is ever downloaded), and
a weights file that does not fit gets a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genforge as gf
from genforge import metrics as M
from genforge.nets.inception import FIDInceptionV3, load_inception


@pytest.fixture(scope="module")
def random_inception():
    torch.manual_seed(0)
    # The smallest input it takes and pytorch-fid's 64-d first block keep the test fast; the full net is
    # exercised below on two images.
    return M.InceptionExtractor(None, input_size=75, dims=64)


def test_pipeline_on_random_weights(digits_splits, random_inception):
    train, valid, test = digits_splits
    scores = M.evaluate(test[:80], valid[:80], extractor=random_inception, training=train[:100])
    assert scores["extractor"] == "inception-v3:random:64" and scores["feature_dim"] == 64
    for key in ("fid", "kid", "precision", "recall", "density", "coverage", "memorization"):
        assert np.isfinite(scores[key]), key
    assert "class_coverage" not in scores and "inception_score" not in scores  # no logits from block 0


def test_full_network_gives_2048_features_and_imagenet_probabilities(digits_splits):
    torch.manual_seed(0)
    full = M.InceptionExtractor(None, input_size=75)
    features, probabilities = full.extract(digits_splits[2][:2])
    assert features.shape == (2, 2048) and probabilities.shape == (2, 1008)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)
    assert M.inception_score(digits_splits[2][:4], extractor=full)["inception_score"] > 0


def test_state_dict_names_match_pytorch_fid():
    keys = FIDInceptionV3().state_dict().keys()
    assert {"Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch_pool.bn.running_var", "Mixed_7c.branch3x3dbl_3b.conv.weight",
            "fc.weight", "fc.bias"} <= set(keys)
    assert FIDInceptionV3().fc.out_features == 1008


def test_weights_round_trip(tmp_path):
    torch.manual_seed(1)
    net = FIDInceptionV3(75).eval()
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "inception.pth")
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "inception.safetensors"))
    x = torch.rand(2, 3, 20, 20)
    for name in ("inception.pth", "inception.safetensors"):
        loaded = load_inception(tmp_path / name, input_size=75)
        with torch.no_grad():
            assert torch.allclose(loaded(x, 192)[0], net(x, 192)[0], atol=1e-5)


def test_weights_that_do_not_fit(tmp_path):
    with pytest.raises(gf.DataError, match="never downloads"):
        load_inception(tmp_path / "missing.pth")
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(gf.ModelFormatError, match="does not fit pytorch-fid's Inception-v3"):
        load_inception(wrong)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(gf.ModelFormatError, match="Cannot read Inception weights"):
        load_inception(garbage)
    pickled = tmp_path / "pickled.pth"
    torch.save({"fc.weight": torch.zeros(1), "extra": object.__new__(Exotic)}, pickled)
    with pytest.raises(gf.ModelFormatError):  # weights_only=True refuses to unpickle arbitrary objects
        load_inception(pickled)
    with pytest.raises(gf.DataError, match="at least 75"):
        FIDInceptionV3(32)
    with pytest.raises(gf.DataError, match="never downloads"):
        M.get_extractor(str(tmp_path / "missing.safetensors"))


class Exotic:
    pass
