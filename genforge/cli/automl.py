"""``genforge automl``: an AutoML search from the shell, and ``genforge automl worker`` to join one.

    genforge automl --frame fashion-mnist --max-runtime-secs 1800 --out models/ --json leaderboard.json
    genforge automl worker --study NAME --storage postgresql+psycopg://host/db     # on more machines

Progress is one line per scored candidate (stderr); the leaderboard is printed at the end and, with
``--json`` / ``--csv``, written to files.
"""

from __future__ import annotations

from pathlib import Path

import click

from genforge.cli.options import RecordingGroup, force_option, import_options
from genforge.errors import ParameterError
from genforge.files import claim_path


@click.group(cls=RecordingGroup, invoke_without_command=True)
@click.option("--frame", "frame_source", default=None, help="Training data: a built-in name or a path.")
@click.option("--validation-frame", default=None, help="Validation data (also the scoring data unless "
              "--leaderboard-frame is given).")
@click.option("--leaderboard-frame", default=None, help="Data the candidates are scored on (default: the "
              "validation frame, else a held-out tenth of the training frame).")
@import_options
@click.option("--max-runtime-secs", type=float, default=None, help="Seconds of work the search may spend "
              "(default 3600 unless --max-models is given).")
@click.option("--max-models", type=int, default=None, help="Candidates to try.")
@click.option("--include-algos", default=None, help="Comma-separated algorithms to search (gan, vae, diffusion).")
@click.option("--exclude-algos", default=None, help="Comma-separated algorithms to leave out.")
@click.option("--sort-metric", default="fid", show_default=True, help="Leaderboard score to rank by.")
@click.option("--seed", type=int, default=None, help="Seed of the search (same seed, same candidates).")
@click.option("--project-name", default=None, help="The study's name; the same name resumes the search.")
@click.option("--storage", default=None, help="SQLAlchemy URL of the study's database (default: a SQLite "
              "file in --out).")
@click.option("--out", default=None, help="Folder for the models (default: automl/<project name>).")
@click.option("--memorization-threshold", type=float, default=0.1, show_default=True,
              help="A model copying more than this share of its samples from the training images cannot lead.")
@click.option("--min-epochs", type=int, default=None, help="Epochs of the first rung (default: about 300 steps).")
@click.option("--reduction-factor", type=int, default=3, show_default=True, help="Successive halving's eta.")
@click.option("--rungs", type=int, default=3, show_default=True, help="Rungs of successive halving.")
@click.option("--score-samples", type=int, default=1000, show_default=True, help="Generated images per score.")
@click.option("--evaluator", default=None, help="Feature extractor of the scores (default: the built-in "
              "evaluator that fits the frame).")
@click.option("--fixed", "fixed", multiple=True, metavar="NAME=VALUE",
              help="An estimator parameter every candidate takes, e.g. --fixed device=cpu (repeatable).")
@click.option("--json", "json_path", default=None, help="Write the leaderboard as JSON to this file.")
@click.option("--csv", "csv_path", default=None, help="Write the leaderboard as CSV to this file.")
@click.option("--create-only", is_flag=True, help="Create the study and stop: workers run it.")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@force_option
@click.pass_context
def automl(ctx: click.Context, frame_source: str | None, validation_frame: str | None, leaderboard_frame: str | None,
           import_opts: dict, max_runtime_secs: float | None, max_models: int | None, include_algos: str | None,
           exclude_algos: str | None, sort_metric: str, seed: int | None, project_name: str | None,
           storage: str | None, out: str | None, memorization_threshold: float, min_epochs: int | None,
           reduction_factor: int, rungs: int, score_samples: int, evaluator: str | None, fixed: tuple[str, ...],
           json_path: str | None, csv_path: str | None, create_only: bool, quiet: bool, force: bool) -> None:
    """Search generators for a frame within a budget and print the leaderboard:
    genforge automl --frame fashion-mnist --max-runtime-secs 1800 --out models/."""
    if ctx.invoked_subcommand is not None:
        return
    if frame_source is None:
        raise click.UsageError("--frame is required (or run genforge automl worker --study NAME --storage URL).")
    from genforge.selection import AutoML

    for path in (json_path, csv_path):
        if path:
            claim_path(path, force)  # before the search, not after
    include = _algos(include_algos)
    exclude = _algos(exclude_algos)
    aml = AutoML(max_runtime_secs=max_runtime_secs, max_models=max_models, include_algos=include,
                 exclude_algos=exclude, sort_metric=sort_metric, seed=seed, project_name=project_name,
                 storage=storage, out=out, memorization_threshold=memorization_threshold, min_epochs=min_epochs,
                 reduction_factor=reduction_factor, rungs=rungs, score_samples=score_samples, evaluator=evaluator,
                 fixed_params=_fixed(fixed, include, exclude), verbose=not quiet)
    frames = _frames(frame_source, validation_frame, leaderboard_frame, import_opts)
    if create_only:
        aml.prepare(**frames)
        click.echo(f"created study {aml.project_name!r} in {aml.storage_url}")
        click.echo(f"run trials with: genforge automl worker --study {aml.project_name} --storage {aml.storage_url}")
        return
    aml.train(**frames)
    _report(aml.leaderboard, json_path, csv_path)


@automl.command("worker")
@click.option("--study", required=True, help="The search's study name (its project name).")
@click.option("--storage", required=True, help="SQLAlchemy URL of the study's database.")
@click.option("--json", "json_path", default=None, help="Write the leaderboard as JSON to this file at the end.")
@click.option("--csv", "csv_path", default=None, help="Write the leaderboard as CSV to this file at the end.")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@force_option
def worker(study: str, storage: str, json_path: str | None, csv_path: str | None, quiet: bool, force: bool) -> None:
    """Run trials of an existing search until its budget is spent (one per process; start several)."""
    from genforge.selection import run_worker

    for path in (json_path, csv_path):
        if path:
            claim_path(path, force)
    board = run_worker(study, storage, verbose=not quiet)
    _report(board, json_path, csv_path)


def _report(board, json_path: str | None, csv_path: str | None) -> None:
    click.echo(repr(board))
    click.echo(board.summary())
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        board.to_json(json_path)
        click.echo(f"wrote {json_path}")
    if csv_path:
        Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
        board.to_csv(csv_path)
        click.echo(f"wrote {csv_path}")


def _algos(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ParameterError(f"an algorithm list got {text!r}; pass names separated by commas, e.g. gan,vae.")
    return names


def _fixed(pairs: tuple[str, ...], include: list[str] | None, exclude: list[str] | None) -> dict:
    """``--fixed name=value`` pairs, each parsed by the first searched algorithm that declares it."""
    import genforge.estimators  # noqa: F401  (registers the estimators)
    from genforge.estimators.registry import ESTIMATORS
    from genforge.selection.space import choose_algos

    algos = choose_algos(include, exclude)
    out: dict = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise ParameterError(f"--fixed got {pair!r}; pass NAME=VALUE, e.g. --fixed device=cpu.")
        owner = next((ESTIMATORS[a] for a in algos if name in ESTIMATORS[a].PARAMS), None)
        if owner is None:
            raise ParameterError(f"--fixed {name}: not a parameter of {', '.join(algos)}.")
        out[name] = owner.PARAMS[name].parse(text)
    return out


def _frames(training: str, validation: str | None, leaderboard: str | None, options: dict) -> dict:
    """The frames as names (each worker imports them itself), or imported here when options reshape them."""
    if not options:
        return {"training_frame": training, "validation_frame": validation, "leaderboard_frame": leaderboard}
    from genforge.data import import_file

    def load(source):
        return import_file(source, **options) if source else None

    return {"training_frame": load(training), "validation_frame": load(validation), "leaderboard_frame": load(leaderboard)}
