"""Never overwrite without being asked (issue 16 item 4): every write to a user's path refuses an existing
target unless force / --force is given, and then says what it replaced."""

from __future__ import annotations

import pytest

import genforge as gf
from genforge.cli.main import main
from genforge.errors import OverwriteError
from genforge.files import ReplacedWarning

from tests.conftest import make_frame

TINY = {"epochs": 1, "batch_size": 8, "seed": 1, "verbose": False, "width": 8, "latent_dim": 8}


def test_to_png_refuses_an_existing_file(tmp_path):
    frame = make_frame(n=4, size=8)
    path = tmp_path / "grid.png"
    path.write_bytes(b"precious")
    with pytest.raises(OverwriteError, match="already exists; pass force=True"):
        frame.to_png(path)
    assert path.read_bytes() == b"precious"
    with pytest.warns(ReplacedWarning, match=f"replaced {path}"):
        frame.to_png(path, force=True)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_export_onnx_refuses_an_existing_file(tmp_path):
    pytest.importorskip("onnx")
    gan = gf.GANEstimator(**TINY).train(training_frame=make_frame(n=8, size=8))
    path = gf.export_onnx(gan, tmp_path / "g.onnx")
    size = path.stat().st_size
    path.write_bytes(b"x")
    with pytest.raises(OverwriteError):
        gf.export_onnx(gan, path)
    assert path.read_bytes() == b"x"
    with pytest.warns(ReplacedWarning):
        gf.export_onnx(gan, path, force=True)
    assert path.stat().st_size == size


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    gan = gf.GANEstimator(**TINY).train(training_frame=make_frame(n=8, size=8))
    return gf.save_model(gan, tmp_path_factory.mktemp("models"))


@pytest.mark.parametrize("command", [
    ["generate", "{model}", "-n", "4", "-o", "{out}"],
    ["preview", "digits", "-n", "4", "-o", "{out}"],
    ["export", "{model}", "-o", "{out}"],
])
def test_cli_writes_refuse_existing_files_without_force(runner, saved, tmp_path, command):
    if command[0] == "export":
        pytest.importorskip("onnx")
    out = tmp_path / ("out.onnx" if command[0] == "export" else "out.png")
    out.write_bytes(b"precious")
    args = [a.format(model=saved, out=out) for a in command]
    result = runner.invoke(main, args)
    assert result.exit_code == 2 and "already exists; pass --force" in result.output
    assert "force=True" not in result.output and out.read_bytes() == b"precious"
    result = runner.invoke(main, args + ["--force"])
    assert result.exit_code == 0, result.output
    assert f"note: replaced {out}" in result.output and out.read_bytes() != b"precious"


def test_evaluate_refuses_an_existing_scores_file(runner, saved, tmp_path):
    out = tmp_path / "scores.json"
    out.write_text("{}")
    result = runner.invoke(main, ["evaluate", str(saved), "--frame", "digits", "-o", str(out)])
    assert result.exit_code == 2 and "--force" in result.output and out.read_text() == "{}"


def test_evaluator_train_refuses_an_existing_folder(runner, tmp_path):
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "record.json").write_text("{}")
    result = runner.invoke(main, ["evaluator", "train", "--frame", "digits", "--out", str(tmp_path / "ev")])
    assert result.exit_code == 2 and "already exists; pass --force" in result.output
    assert (tmp_path / "ev" / "record.json").read_text() == "{}"


def test_cli_train_into_a_used_run_dir_suggests_the_cli_flag(runner, npz, tmp_path):
    base = ["train", "--algo", "gan", "--frame", str(npz), "--epochs", "1", "--width", "8", "--verbose", "false",
            "--out", str(tmp_path / "m"), "--run-dir", str(tmp_path / "run")]
    assert runner.invoke(main, base).exit_code == 0
    result = runner.invoke(main, base)
    assert result.exit_code == 2 and "Pass --overwrite true to replace" in result.output
    assert f"--checkpoint {tmp_path / 'run' / 'checkpoint'} to continue" in result.output
    assert "overwrite=True" not in result.output and "checkpoint=" not in result.output
    result = runner.invoke(main, base + ["--overwrite"])  # a bare boolean flag means true
    assert result.exit_code == 0, result.output
    assert "note: replaced" in result.output
