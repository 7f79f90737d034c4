"""Every option an error suggests exists under that name in the interface that raised it (issue 16
item 6): errors name their suggestions structurally (``GenforgeError.suggests``), the CLI rewrites them
as its own flags, and each flag exists on each command that can raise it. Also: ``train --help`` lists
the estimator options, and a built-in name that is also a local path is ambiguous."""

from __future__ import annotations

import ast
import re
import zipfile
from pathlib import Path

import pytest

import genforge as gf
from genforge.cli.main import main
from genforge.cli.options import cli_spelling
from tests.data.helpers import pixels, png_bytes, write_csv, write_png

ROOT = Path(__file__).resolve().parents[1]
IMPORTING = ("preview", "train", "predict", "evaluate")
WRITING = ("preview", "generate", "predict", "evaluate", "export")
# Which commands can raise each suggestion (an import option where data is read, force where a file is
# written, estimator parameters in train). A new suggestion must be added here, with CLI flags to match.
RAISED_BY = {
    "on_error": IMPORTING, "image_size": IMPORTING, "max_inflated_bytes": IMPORTING,
    "force": WRITING, "resize": ("predict", "evaluate"), "overwrite": ("train",), "checkpoint": ("train",),
}
SAMPLE_VALUES = {"on_error": "skip", "image_size": "(height, width)", "max_inflated_bytes": 10, "force": True,
                 "resize": True, "overwrite": True, "checkpoint": "run/checkpoint"}


def _suggested_names() -> set[str]:
    """Every key of a ``suggests={...}`` literal in the package's source."""
    names = set()
    for path in (ROOT / "genforge").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "suggests" and isinstance(node.value, ast.Dict):
                names.update(k.value for k in node.value.keys if isinstance(k, ast.Constant))
    return names


# Options the Python API's messages suggest in free text (``pass label_column=...``), by where they are
# raised. Names the CLI cannot reach are listed with why.
PYTHON_ONLY = {
    "x": "train()'s argument", "y": "train()'s argument", "training_frame": "train()'s argument",
    "extractor": "metrics functions' argument (the CLI's evaluate has --extractor)",
    "threshold": "gf.metrics.memorization's argument", "source": "Frame(source=...)",
    "image_shape": "a shape shown, not suggested",
}


def _text_suggestions() -> dict[str, set[str]]:
    """``name`` of every ``name=`` in a string of the package, per top-level area (data, estimators, ...)."""
    found: dict[str, set[str]] = {}
    pattern = re.compile(r"(?:[Pp]ass|[Uu]se|[Ss]et|[Oo]r|try(?: another loss or)?) ([a-z][a-z0-9_]*)=")
    for path in (ROOT / "genforge").rglob("*.py"):
        area = path.relative_to(ROOT / "genforge").parts[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for name in pattern.findall(node.value):
                    found.setdefault(name, set()).add(area)
    return found


def test_every_suggestion_in_the_source_is_covered_here():
    names = _suggested_names()
    assert {"on_error", "force", "overwrite", "resize", "image_size", "max_inflated_bytes"} <= names
    assert names <= set(RAISED_BY), f"add {sorted(names - set(RAISED_BY))} to RAISED_BY (and the CLI flags)"


def test_every_option_named_in_a_message_is_a_flag_where_the_cli_can_raise_it():
    import genforge.estimators  # noqa: F401
    from genforge.estimators.registry import ESTIMATORS

    estimator_params = {p.name for cls in ESTIMATORS.values() for p in cls.PARAMS}
    found = _text_suggestions()
    assert {"label_column", "image_size", "device", "force"} <= set(found)
    for name, areas in sorted(found.items()):
        if name in PYTHON_ONLY:
            continue
        if "data" in areas or name in ("image_size", "limit", "cache"):
            commands = IMPORTING
        elif name == "force":
            commands = WRITING
        elif name == "resize":
            commands = RAISED_BY["resize"]
        else:
            assert name in estimator_params, f"{name!r} ({areas}): not an estimator parameter; add it to the CLI"
            commands = ("train",)
        for command_name in commands:
            command = main.get_command(None, command_name)
            spelled = cli_spelling(command, name, "VALUE") or cli_spelling(command, name, True)  # True: a flag
            assert spelled, f"genforge {command_name} has no flag for {name!r}, which a message suggests"


@pytest.mark.parametrize("name", sorted(RAISED_BY))
def test_each_suggested_option_is_a_flag_of_each_command_that_raises_it(name):
    for command_name in RAISED_BY[name]:
        command = main.get_command(None, command_name)
        spelled = cli_spelling(command, name, SAMPLE_VALUES[name])
        assert spelled and spelled.startswith("--"), (command_name, name)
        flag = spelled.split()[0]
        flags = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert flag in flags or command_name == "train", (command_name, flag)


def test_a_bad_row_suggests_the_on_error_flag_that_then_works(runner, tmp_path):
    csv = write_csv(tmp_path / "d.csv", ["label", "p0", "p1", "p2", "p3"], [[0, 1, 2, 3, 4], [1, 5, 6], [1, 0, 0, 0, 0]])
    out = tmp_path / "p.png"
    result = runner.invoke(main, ["preview", str(csv), "-o", str(out)])
    assert result.exit_code == 2 and "Or pass --on-error skip to leave it out" in result.output
    assert "on_error=" not in result.output
    result = runner.invoke(main, ["preview", str(csv), "-o", str(out), "--on-error", "skip"])
    assert result.exit_code == 0, result.output
    assert "2 images" in result.output and "warning: " in result.output and "(--on-error skip)" in result.output


def test_a_non_square_csv_suggests_the_image_size_flag_that_then_works(runner, tmp_path):
    csv = write_csv(tmp_path / "d.csv", ["label"] + [f"p{i}" for i in range(6)], [[0] + [9] * 6, [1] + [200] * 6])
    result = runner.invoke(main, ["preview", str(csv), "-o", str(tmp_path / "a.png")])
    assert result.exit_code == 2 and "pass --image-size HEIGHTxWIDTH" in result.output.lower().replace("heightxwidth", "HEIGHTxWIDTH")
    result = runner.invoke(main, ["preview", str(csv), "-o", str(tmp_path / "a.png"), "--image-size", "2x3"])
    assert result.exit_code == 0 and "2x3x1" in result.output, result.output


def test_a_zip_past_the_limit_suggests_the_flag_that_then_works(runner, tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i, image in enumerate(pixels(3, 8, 8)):
            z.writestr(f"{i}.png", png_bytes(image))
    result = runner.invoke(main, ["preview", str(archive), "-o", str(tmp_path / "a.png"), "--max-inflated-bytes", "10"])
    match = re.search(r"pass --max-inflated-bytes (\d+) or more", result.output)
    assert result.exit_code == 2 and match, result.output
    result = runner.invoke(main, ["preview", str(archive), "-o", str(tmp_path / "a.png"),
                                  "--max-inflated-bytes", match.group(1)])
    assert result.exit_code == 0, result.output


def test_python_keeps_the_python_spelling(tmp_path):
    csv = write_csv(tmp_path / "d.csv", ["label", "p0", "p1", "p2", "p3"], [[0, 1, 2, 3, 4], [1, 5, 6]])
    with pytest.raises(gf.DataError, match="on_error='skip'") as caught:
        gf.import_file(csv)
    assert caught.value.suggests == {"on_error": "skip"}


def test_train_help_lists_the_estimator_options(runner):
    result = runner.invoke(main, ["train", "--help"])
    assert result.exit_code == 0
    for flag in ("--epochs", "--batch-size", "--overwrite", "--run-dir", "--loss", "--loss-function", "--latent-dim",
                 "--beta", "--dense", "--on-error"):
        assert flag in result.output, flag
    assert "--algo gan" in result.output and "--algo vae" in result.output and "--algo cnn" in result.output


def test_a_builtin_name_that_is_also_a_local_path_is_ambiguous(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_png(tmp_path / "digits" / "a.png", pixels(1, 8, 8)[0])
    with pytest.raises(gf.DataError, match=r"both the built-in dataset 'digits' and the local path") as caught:
        gf.import_file("digits")
    assert "'./digits'" in str(caught.value) and "'builtin:digits'" in str(caught.value)
    assert len(gf.import_file("./digits")) == 1
    assert len(gf.import_file("builtin:digits")) == 1797
    assert len(gf.Frame(source="builtin:digits")) == 1797
    result = runner.invoke(main, ["preview", "digits", "-o", "x.png"])
    assert result.exit_code == 2 and "builtin:digits" in result.output
    result = runner.invoke(main, ["preview", "builtin:digits", "-o", "x.png"])
    assert result.exit_code == 0 and "1797 images" in result.output


def test_a_data_dir_entry_named_like_a_builtin_is_ambiguous(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_png(tmp_path / "data" / "digits" / "a.png", pixels(1, 8, 8)[0])
    monkeypatch.setenv("GENFORGE_DATA", str(tmp_path / "data"))
    with pytest.raises(gf.DataError, match="builtin:digits"):
        gf.import_file("digits")
