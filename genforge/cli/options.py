"""What the ``genforge`` commands share: import options, ``--force``, the estimator options in ``train
--help``, and errors that suggest this interface's flags.

A genforge error names the options it suggests in the Python API's terms (``GenforgeError.suggests``,
spelled ``on_error='skip'`` in its message). Under the CLI those words would point at nothing, so
``cli_message`` rewrites each one as the invoked command's own flag (``--on-error skip``); every such
option exists on every command that can raise it (tests/test_cli_hints.py checks).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable

import click

from genforge.errors import GenforgeError, ParameterError

# import_file options a command that reads data takes, as flags (the Python names with '-' for '_').
IMPORT_FLAGS = ("image_size", "channels", "on_error", "limit", "cache", "max_inflated_bytes", "max_ratio",
                "max_image_pixels", "max_frame_bytes", "label_column", "path_column", "delimiter", "images_key", "labels_key", "image_column")


def parse_size(text: str | None) -> int | tuple[int, int] | None:
    """``--image-size 28`` (square) or ``--image-size 28x32`` (height x width)."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX,]\s*(\d+))?\s*", text)
    if not match:
        raise ParameterError(f"--image-size got {text!r}; pass a size such as 28 or HEIGHTxWIDTH such as 28x32.")
    height, width = int(match.group(1)), match.group(2)
    return height if width is None else (height, int(width))


def import_options(command: Callable) -> Callable:
    """Add the import options (``--image-size``, ``--channels``, ``--on-error``, ``--limit``,
    ``--max-inflated-bytes``) to a command; it receives them as one ``import_opts`` dict."""
    flags = [
        click.option("--image-size", default=None, help="Resize images on import: 28 (square) or HEIGHTxWIDTH; "
                     "also the shape of flat CSV rows that are not square."),
        click.option("--channels", type=click.Choice(["1", "3"]), default=None, help="Convert to 1 (grey) or 3 (RGB)."),
        click.option("--on-error", type=click.Choice(["raise", "skip"]), default=None,
                     help="skip: leave out unreadable images and rows (and list them) [default: raise]."),
        click.option("--limit", type=click.IntRange(min=1), default=None, help="Import at most this many images."),
        click.option("--cache/--no-cache", default=None, help="Decode once into a memory-mapped cache and reuse it."),
        click.option("--max-inflated-bytes", type=click.IntRange(min=1), default=None,
                     help="zip sources: the most bytes the images may inflate to."),
        click.option("--max-ratio", type=float, default=None, help="zip sources: the largest compression ratio of a member."),
        click.option("--max-image-pixels", type=click.IntRange(min=1), default=None,
                     help="Refuse an image whose header claims more pixels than this (default 16.7 M)."),
        click.option("--max-frame-bytes", type=click.IntRange(min=1), default=None,
                     help="Refuse a dataset that decodes to more bytes than this (default 4 GiB)."),
        click.option("--label-column", default=None, help="CSV / Parquet sources: the column of labels."),
        click.option("--path-column", default=None, help="CSV sources: the column of image paths."),
        click.option("--delimiter", default=None, help="CSV sources: the field delimiter."),
        click.option("--images-key", default=None, help=".npz sources: the array of images."),
        click.option("--labels-key", default=None, help=".npz sources: the array of labels."),
        click.option("--image-column", default=None, help="Parquet sources: the column of image bytes."),
    ]

    @functools.wraps(command)  # keeps the options declared below this decorator (click's __click_params__)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        opts = {name: kwargs.pop(name) for name in IMPORT_FLAGS}
        opts["image_size"] = parse_size(opts["image_size"])
        opts["channels"] = int(opts["channels"]) if opts["channels"] else None
        return command(*args, import_opts={k: v for k, v in opts.items() if v is not None}, **kwargs)

    for flag in reversed(flags):
        wrapper = flag(wrapper)
    return wrapper


def force_option(command: Callable) -> Callable:
    return click.option("--force", is_flag=True, help="Replace output files that exist (default: refuse).")(command)


class RecordingGroup(click.Group):
    """Remembers the command it runs (in ``ctx.meta``), so that an error can be worded in its flags."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta["genforge.command"] = command
        return name, command, rest


# ------------------------------------------------------------------------------------- error hints
def cli_spelling(command: click.Command | None, name: str, value: Any) -> str | None:
    """How ``command`` spells the option ``name=value`` suggested by an error; None when it has none."""
    if command is None:
        return None
    for param in command.params:
        if isinstance(param, click.Option) and param.name == name:
            flag = max(param.opts, key=len)
            if param.is_flag:
                return flag if value is True else None
            if name == "image_size":
                return f"{flag} HEIGHTxWIDTH" if not isinstance(value, int) else f"{flag} {value}"
            return f"{flag} {value}"
    if getattr(command, "estimator_options", False) and _is_estimator_param(name):
        return f"--{name.replace('_', '-')} {str(value).lower() if isinstance(value, bool) else value}"
    return None


def cli_message(error: GenforgeError, command: click.Command | None) -> str:
    """The error's text with every option it suggests in ``command``'s own flags: those it names in
    ``suggests`` first, then any other ``name=value`` whose name is one of the command's options."""
    text = str(error)
    for name, value in error.suggests.items():
        spelled = cli_spelling(command, name, value)
        if spelled is None:
            continue
        for python in (f"{name}={value!r}", f"{name}={value}"):
            text = text.replace(python, spelled)
    return cli_text(text, command)


def cli_text(text: str, command: click.Command | None) -> str:
    """``text`` (an error or a warning) with each ``name=value`` that is one of ``command``'s options
    written as that flag."""
    return _PYTHON_OPTION.sub(lambda m: _respell(command, m), text)


# ``name=value`` as the Python API's messages write it: a quoted string, a tuple, '...', or a bare word.
_PYTHON_OPTION = re.compile(r"\b([a-z][a-z0-9_]*)=('[^']*'|\"[^\"]*\"|\([^)]*\)|\.\.\.|[A-Za-z0-9_+-]+(?:\.\d+)?)")


def _respell(command: click.Command | None, match: re.Match) -> str:
    name, raw = match.group(1), match.group(2)
    value: Any = raw.strip("'\"")
    if raw in ("True", "False"):
        value = raw == "True"
    elif raw == "...":
        value = name.upper()
    if command is not None and value is False:
        for param in command.params:  # --cache/--no-cache
            if isinstance(param, click.Option) and param.name == name and param.secondary_opts:
                return param.secondary_opts[0]
    return cli_spelling(command, name, value) or match.group(0)


def _is_estimator_param(name: str) -> bool:
    import genforge.estimators  # noqa: F401  (registers the estimators)
    from genforge.estimators.registry import ESTIMATORS

    return any(name in cls.PARAMS for cls in ESTIMATORS.values())


# ------------------------------------------------------------------------------------- train --help
class EstimatorCommand(click.Command):
    """``genforge train``: after its own options, ``--help`` lists every estimator's parameters, which it
    takes as ``--name value``."""

    estimator_options = True

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        import genforge.estimators  # noqa: F401  (registers the estimators)
        from genforge.estimators.registry import ESTIMATORS

        formatter.write_paragraph()
        formatter.write_text("Estimator options, passed as --name value (the Python names; '-' may replace "
                             "'_'; a bare --flag means true):")
        common = None
        for algo, cls in sorted(ESTIMATORS.items()):
            names = [p.name for p in cls.PARAMS]
            common = names if common is None else [n for n in common if n in names]
        first = next(iter(sorted(ESTIMATORS.items())))[1]
        sections = [("all algorithms", [first.PARAMS[n] for n in common or []])]
        sections += [(f"--algo {algo}", [p for p in cls.PARAMS if p.name not in (common or [])])
                     for algo, cls in sorted(ESTIMATORS.items())]
        for title, params in sections:
            with formatter.section(title):
                formatter.write_dl([(f"--{p.name.replace('_', '-')} {_metavar(p)}", _describe(p)) for p in params])
        super().format_epilog(ctx, formatter)


def _metavar(param) -> str:
    if param.choices:
        return "[" + "|".join(map(str, param.choices)) + "]"
    return {bool: "BOOL", int: "INT", float: "FLOAT", str: "TEXT", dict: "JSON", list: "JSON"}.get(param.kind, "VALUE")


def _describe(param) -> str:
    aliases = f" Also --{', --'.join(a.replace('_', '-') for a in param.aliases)}." if param.aliases else ""
    return f"{param.help}{aliases} [default: {param.default}]"


def load_generator_and_frames(model_path: str, frame_source: str, training_frame: str | None, import_opts: dict,
                              resize: bool, verb: str) -> tuple[Any, Any, Any]:
    """What ``genforge evaluate`` and ``genforge report`` start from: the saved generator (refused, naming
    ``verb``, when it makes no images), the frame to compare with and the training frame (given, or the one
    that goes with a built-in split), resized to the model's images when ``resize``."""
    from genforge.artifacts import load_model
    from genforge.data import import_file
    from genforge.metrics import default_training_source

    model = load_model(model_path)
    if not model.generates:
        raise ParameterError(f"{model_path} is a {model.algo!r} model, which does not generate images; {verb} a "
                             "generator.")
    frame = import_file(frame_source, **import_opts)
    training_source = training_frame or default_training_source(frame_source)
    training = import_file(training_source, **import_opts) if training_source else None
    if resize:
        from genforge.estimators.inputs import conform_frame

        schema = model.frame_schema
        frame = conform_frame(frame, schema, resize=True)
        training = conform_frame(training, schema, resize=True) if training is not None else None
    return model, frame, training
