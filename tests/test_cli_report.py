"""``genforge report MODEL --frame ... -o report.html``: the page and its JSON, the time per section, and
clear errors (exit code 2, one line) for broken input."""

from __future__ import annotations

import json

import numpy as np
import pytest

import genforge as gf
from genforge.cli.main import main
from tests.conftest import make_frame


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    gan = gf.GANEstimator(epochs=1, batch_size=64, width=8, latent_dim=8, seed=1, verbose=False,
                          run_dir=str(tmp_path_factory.mktemp("run"))).train(training_frame=gf.import_file("digits"))
    return gf.save_model(gan, tmp_path_factory.mktemp("models"))


def test_report_writes_html_and_json(runner, saved, tmp_path):
    digits = gf.import_file("digits")
    train, test = digits.split_frame([0.7], seed=0)
    paths = {}
    for name, frame in (("train", train), ("test", test)):
        paths[name] = tmp_path / f"{name}.npz"
        np.savez(paths[name], images=frame.images, labels=frame.labels, class_names=np.asarray(frame.class_names))
    out = tmp_path / "out" / "report.html"
    result = runner.invoke(main, ["report", str(saved), "--frame", str(paths["test"]), "--training-frame",
                                  str(paths["train"]), "-n", "80", "-o", str(out), "--k", "2"])
    assert result.exit_code == 0, result.output
    for section in ("setup", "samples", "copies", "bias", "health", "directions"):
        assert section in result.output
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["report"]["samples"] == 80 and len(data["directions"]["main"]) == 2
    assert data["copies"]["n_training"] == len(train)
    assert 'id="bias"' in out.read_text()

    again = runner.invoke(main, ["report", str(saved), "--frame", str(paths["test"]), "-n", "80", "-o", str(out)])
    assert again.exit_code == 2 and "already exists; pass --force" in again.output
    forced = runner.invoke(main, ["report", str(saved), "--frame", str(paths["test"]), "-n", "80", "-o", str(out),
                                  "--force", "--sections", "bias"])
    assert forced.exit_code == 0, forced.output
    assert "note: replaced" in forced.output and list(json.loads(out.with_suffix(".json").read_text())["report"]["sections"]) == ["bias"]


def test_report_refuses_broken_input(runner, saved, tmp_path):
    big = tmp_path / "big.npz"
    frame = make_frame(n=16, size=16)
    np.savez(big, images=frame.images)
    out = str(tmp_path / "r.html")
    for args, words in [
        (["--frame", str(big)], "16x16x1 but this model makes 8x8x1"),
        (["--frame", "digits", "-n", "5"], "samples must be from 50"),
        (["--frame", "digits", "-n", "99999999"], "samples must be from 50"),
        (["--frame", "digits", "--sections", "samples,gossip"], "gossip"),
        (["--frame", "digits", "--k", "99"], "k must be"),
        (["--frame", "digits", "-o", str(tmp_path / "r.txt")], "end in .html"),
        (["--frame", "no-such-dataset"], "no-such-dataset"),
    ]:
        result = runner.invoke(main, ["report", str(saved), "-o", out, *args] if "-o" not in args
                               else ["report", str(saved), *args])
        assert result.exit_code == 2 and words in result.output, (args, result.output)
        assert "Traceback" not in result.output
    missing = runner.invoke(main, ["report", str(tmp_path / "nope"), "--frame", "digits", "-o", out])
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    assert not (tmp_path / "r.html").exists()


def test_generate_takes_the_trade_off_knobs(runner, saved, tmp_path):
    grid = tmp_path / "t.png"
    result = runner.invoke(main, ["generate", str(saved), "-n", "4", "--seed", "1", "--truncation", "0.5", "-o", str(grid)])
    assert result.exit_code == 0 and grid.is_file(), result.output
    bad = runner.invoke(main, ["generate", str(saved), "-n", "4", "--truncation", "-1", "-o", str(tmp_path / "b.png")])
    assert bad.exit_code == 2 and "truncation" in bad.output
    wrong = runner.invoke(main, ["generate", str(saved), "-n", "4", "--temperature", "0.5", "-o", str(tmp_path / "w.png")])
    assert wrong.exit_code == 2 and "temperature" in wrong.output  # a GAN has no temperature: refused by name
