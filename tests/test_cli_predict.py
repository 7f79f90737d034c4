"""The CLI for VAE and CNN models: genforge train --algo vae|cnn, genforge generate, genforge predict."""

from __future__ import annotations

import csv

import numpy as np
from PIL import Image

import genforge as gf
from genforge.cli.main import main

from .conftest import make_frame

TINY = ["--epochs", "2", "--batch-size", "8", "--width", "4", "--seed", "1", "--verbose", "false"]


def _train(runner, npz, tmp_path, algo: str, *extra: str):
    models = tmp_path / f"models-{algo}"
    result = runner.invoke(main, ["train", "--algo", algo, "--frame", str(npz), "--out", str(models), *TINY, *extra])
    assert result.exit_code == 0, result.output
    (saved,) = list(models.iterdir())
    return saved


def test_cnn_train_then_predict(runner, npz, tmp_path):
    saved = _train(runner, npz, tmp_path, "cnn", "--dense", "8", "--architecture", "deep")
    out = tmp_path / "predictions.csv"
    result = runner.invoke(main, ["predict", str(saved), "--frame", str(npz), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "accuracy: " in result.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 16 and list(rows[0])[:3] == ["predict", "label_index", "p_0"]
    # Images of another size: a clear error, or --resize.
    big = tmp_path / "big.npz"
    np.savez(big, images=make_frame(n=4, size=16).images)
    result = runner.invoke(main, ["predict", str(saved), "--frame", str(big), "-o", str(out), "--force"])
    assert result.exit_code == 2 and "--resize" in result.output and "Traceback" not in result.output
    # predictions.csv exists by now: replacing it takes --force (issue 16), and the CLI says so.
    result = runner.invoke(main, ["predict", str(saved), "--frame", str(big), "-o", str(out), "--resize"])
    assert result.exit_code == 2 and "already exists" in result.output and "--force" in result.output
    result = runner.invoke(main, ["predict", str(saved), "--frame", str(big), "-o", str(out), "--resize", "--force"])
    assert result.exit_code == 0, result.output
    assert "accuracy" not in result.output and len(list(csv.DictReader(out.open()))) == 4
    assert f"note: replaced {out}" in result.output
    result = runner.invoke(main, ["generate", str(saved)])
    assert result.exit_code == 2 and "does not generate" in result.output


def test_vae_train_generate_and_predict(runner, npz, tmp_path):
    saved = _train(runner, npz, tmp_path, "vae", "--latent-dim", "4", "--conditional", "true")
    assert isinstance(gf.load_model(saved), gf.VAEEstimator)
    grid = tmp_path / "samples.png"
    result = runner.invoke(main, ["generate", str(saved), "-n", "4", "--seed", "1", "--label", "2", "-o", str(grid)])
    assert result.exit_code == 0, result.output
    assert Image.open(grid).size == (2 * 10 + 2, 2 * 10 + 2)
    recon = tmp_path / "recon.png"
    result = runner.invoke(main, ["predict", str(saved), "--frame", str(npz), "-o", str(recon), "-n", "4"])
    assert result.exit_code == 0, result.output
    assert "elbo" in result.output and Image.open(recon).size == (22, 22)
    latents = tmp_path / "latents.csv"
    result = runner.invoke(main, ["predict", str(saved), "--frame", str(npz), "-o", str(latents)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(latents.open()))
    assert len(rows) == 16 and list(rows[0]) == ["z0", "z1", "z2", "z3"]


def test_predict_rejects_gan_models(runner, npz, tmp_path):
    saved = _train(runner, npz, tmp_path, "gan", "--latent-dim", "4")
    result = runner.invoke(main, ["predict", str(saved), "--frame", str(npz)])
    assert result.exit_code == 2 and "genforge generate" in result.output
