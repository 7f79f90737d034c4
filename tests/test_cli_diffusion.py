"""genforge train --algo diffusion and genforge generate with the sampling options."""

from __future__ import annotations

import pytest
from PIL import Image

from genforge.cli.main import main

pytest.importorskip("diffusers")


def test_train_and_generate_a_diffusion_model(runner, npz, tmp_path):
    models = tmp_path / "models"
    result = runner.invoke(main, ["train", "--algo", "diffusion", "--frame", str(npz), "--out", str(models),
                                  "--epochs", "1", "--batch-size", "8", "--width", "8", "--channel-mults", "[1, 2]",
                                  "--conditional", "true", "--seed", "1", "--verbose", "false"])
    assert result.exit_code == 0, result.output
    (folder,) = list(models.iterdir())
    out = tmp_path / "s.png"
    result = runner.invoke(main, ["generate", str(folder), "-n", "4", "--seed", "0", "--steps", "3", "--sampler",
                                  "dpm++", "--label", "1", "--guidance-scale", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (2 * 10 + 2, 2 * 10 + 2)
    bad = runner.invoke(main, ["generate", str(folder), "--sampler", "euler"])
    assert bad.exit_code == 2 and "unknown sampler 'euler'" in bad.output
    bad = runner.invoke(main, ["generate", str(folder), "--steps", "0"])
    assert bad.exit_code == 2 and "steps must be from 1" in bad.output


def test_sampling_options_are_refused_by_a_gan(runner, npz, tmp_path):
    models = tmp_path / "models"
    result = runner.invoke(main, ["train", "--algo", "gan", "--frame", str(npz), "--out", str(models),
                                  "--epochs", "1", "--batch-size", "8", "--width=8", "--verbose", "false"])
    assert result.exit_code == 0, result.output
    (folder,) = list(models.iterdir())
    bad = runner.invoke(main, ["generate", str(folder), "--steps", "3", "-o", str(tmp_path / "x.png")])
    assert bad.exit_code == 2 and "unknown option" in bad.output and "steps" in bad.output
