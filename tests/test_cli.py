"""The genforge command: version, datasets, preview, train and generate, and their error messages."""

from __future__ import annotations

import pytest
from PIL import Image

import genforge as gf
from genforge.cli.main import main


def test_version_and_datasets(runner):
    assert runner.invoke(main, ["--version"]).output.strip() == f"genforge, version {gf.__version__}"
    result = runner.invoke(main, ["datasets"])
    assert result.exit_code == 0 and "digits" in result.output and "available" in result.output


def test_preview_writes_a_grid(runner, tmp_path):
    out = tmp_path / "p.png"
    result = runner.invoke(main, ["preview", "digits", "-n", "16", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (4 * 10 + 2, 4 * 10 + 2)  # 4x4 grid of 8x8 with 2px padding


def test_train_then_generate(runner, npz, tmp_path):
    models = tmp_path / "models"
    result = runner.invoke(main, ["train", "--algo", "gan", "--frame", str(npz), "--out", str(models),
                                  "--epochs", "2", "--batch-size", "8", "--width=8", "--seed", "1",
                                  "--verbose", "false", "--conditional", "true"])
    assert result.exit_code == 0, result.output
    (saved,) = list(models.iterdir())
    assert gf.load_model(saved).get_params()["epochs"] == 2
    grid = tmp_path / "grid.png"
    result = runner.invoke(main, ["generate", str(saved), "-n", "4", "--seed", "1", "--label", "2", "-o", str(grid)])
    assert result.exit_code == 0, result.output
    assert Image.open(grid).size == (2 * 10 + 2, 2 * 10 + 2)


@pytest.mark.parametrize("args,message", [
    (["--epochs", "three"], "epochs"),
    (["--epocs", "3"], "Did you mean 'epochs'"),
    (["--loss", "l1"], "allowed values"),
    (["--epochs"], "needs a value"),
    (["stray"], "Unexpected argument"),
])
def test_train_rejects_bad_parameters(runner, npz, args, message):
    result = runner.invoke(main, ["train", "--algo", "gan", "--frame", str(npz), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_train_rejects_unknown_algorithms_and_frames(runner, npz, tmp_path):
    result = runner.invoke(main, ["train", "--algo", "flow-matching", "--frame", str(npz)])
    assert result.exit_code == 2 and "Unknown algorithm 'flow-matching'" in result.output
    result = runner.invoke(main, ["train", "--algo", "gan", "--frame", str(tmp_path / "missing.npz")])
    assert result.exit_code == 2 and "missing.npz" in result.output


def test_generate_rejects_bad_models_and_counts(runner, tmp_path, npz):
    result = runner.invoke(main, ["generate", str(tmp_path)])
    assert result.exit_code == 2 and "not a saved genforge model" in result.output
    models = tmp_path / "m"
    runner.invoke(main, ["train", "--algo", "gan", "--frame", str(npz), "--out", str(models), "--epochs", "1",
                         "--width", "8", "--verbose", "false"])
    (saved,) = list(models.iterdir())
    result = runner.invoke(main, ["generate", str(saved), "-n", "0"])
    assert result.exit_code == 2 and "-n must be at least 1" in result.output
    result = runner.invoke(main, ["generate", str(saved), "--label", "3"])
    assert result.exit_code == 2 and "not conditional" in result.output
