"""The ``genforge`` command: datasets, preview, train, generate, predict, export, evaluate, report, evaluator.

Estimator parameters are passed as ``--name value`` with the same names as in Python (``--epochs 3
--loss hinge``; ``--batch-size`` works too) and go through the same validation.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import click

from genforge._version import __version__
from genforge.cli.options import (
    EstimatorCommand, RecordingGroup as _RecordingGroup, cli_message, cli_text, force_option, import_options,
    load_generator_and_frames,
)
from genforge.errors import GenforgeError, ParameterError
from genforge.files import ReplacedWarning, claim_path


class _FriendlyGroup(_RecordingGroup):
    """Turn genforge errors into one clear line and exit code 2, never a traceback; the options an error
    suggests are spelled as the invoked command's flags. What ``--force`` replaced is printed as a note."""

    def invoke(self, ctx: click.Context):
        caught: list = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ReplacedWarning)
                try:
                    return super().invoke(ctx)
                except GenforgeError as error:
                    click.echo(f"error: {cli_message(error, ctx.meta.get('genforge.command'))}", err=True)
                    sys.exit(2)
        finally:
            # Outside catch_warnings: inside it, showwarning would record into ``caught`` again.
            for warning in caught:
                if issubclass(warning.category, ReplacedWarning):
                    click.echo(f"note: {warning.message}", err=True)
                elif warning.category is UserWarning and "genforge" in warning.filename:
                    click.echo(f"warning: {cli_text(str(warning.message), ctx.meta.get('genforge.command'))}", err=True)
                else:
                    warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


@click.group(cls=_FriendlyGroup)
@click.version_option(__version__, prog_name="genforge")
def main() -> None:
    """genforge: train, evaluate and serve generative image models."""


@main.command()
def datasets() -> None:
    """List the built-in datasets and whether each is available here."""
    from genforge.data import list_datasets

    for entry in list_datasets():
        state = "available" if entry["available"] else "missing"
        rows = f"{entry['rows']} images" if entry.get("rows") else ""
        click.echo(f"{entry['name']:<22} {state:<10} {rows:<14} {entry.get('description', '')}")
        if not entry["available"] and entry.get("install"):
            click.echo(f"{'':<22} install: {entry['install']}")


@main.command()
@click.argument("source")
@click.option("-n", "count", default=64, show_default=True, help="Images in the grid.")
@click.option("-o", "--output", default="preview.png", show_default=True, help="PNG file to write.")
@force_option
@import_options
def preview(source: str, count: int, output: str, force: bool, import_opts: dict) -> None:
    """Import SOURCE (a built-in name or a path) and write a grid of its first images."""
    from genforge.data import import_file

    claim_path(output, force, "PNG file")
    frame = import_file(source, **import_opts)
    path = frame.head(count).to_png(output, force=True)
    click.echo(f"{frame!r}")
    if frame.labels is not None:
        click.echo("classes: " + ", ".join(f"{k}={v}" for k, v in frame.class_counts().items()))
    click.echo(f"wrote {path}")


@main.command(cls=EstimatorCommand, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--algo", required=True, help="Algorithm: gan, vae, diffusion or cnn.")
@click.option("--frame", "frame_source", required=True, help="Training data: a built-in name or a path.")
@click.option("--validation-frame", default=None, help="Optional validation data.")
@import_options
@click.option("--out", default="models", show_default=True, help="Folder to save the trained model into.")
@click.option("--nproc", type=int, default=None,
              help="Train on N processes of this machine (torchrun + DistributedDataParallel); the global batch "
                   "is batch_size x N.")
@click.pass_context
def train(ctx: click.Context, algo: str, frame_source: str, validation_frame: str | None, import_opts: dict,
          out: str, nproc: int | None) -> None:
    """Train a model: genforge train --algo gan --frame fashion-mnist --epochs 5 --seed 1.

    Under torchrun (torchrun --nproc-per-node N -m genforge train ...) every process trains its share of
    each batch and rank 0 alone writes checkpoints and saves the model.
    """
    from genforge.artifacts import save_model
    from genforge.data import import_file
    from genforge.estimators import get_estimator
    from genforge.training import distributed
    from genforge.training.guard import event_line

    cls = get_estimator(algo)
    params = parse_params(cls.PARAMS, ctx.args)
    env = distributed.detect()
    if nproc is not None and env is None:  # launch torchrun, which runs this command again without --nproc
        if nproc < 1:
            raise ParameterError(f"--nproc must be at least 1, got {nproc}.")
        args = ["--algo", algo, "--frame", frame_source, "--out", out, *ctx.args]
        args += ["--validation-frame", validation_frame] if validation_frame else []
        args += [a for k, v in import_opts.items() for a in _flag_args(k, v)]
        sys.exit(launch(nproc, ["train", *args]))
    options = import_opts
    frame = import_file(frame_source, **options)
    valid = import_file(validation_frame, **options) if validation_frame else None
    if env is None:
        model = cls(**params).train(training_frame=frame, validation_frame=valid)
    else:
        from genforge.training.elastic import restart_checkpoint

        resume = restart_checkpoint(params, env)  # torchrun restarted the group: go on from this run's checkpoint
        if resume:
            params["checkpoint"] = resume
            if env.is_main_process:
                click.echo(f"restart: resuming from {resume}")
        with distributed.session(params.get("device", "auto")):
            model = cls(**params).train(training_frame=frame, validation_frame=valid)
        if not env.is_main_process:
            return  # rank 0 reports and saves; the others are done
    click.echo(repr(model.scoring_history()))
    for event in model.training_events():
        click.echo(event_line(event))
    path = save_model(model, out)
    click.echo(f"saved {path}")


def launch(nproc: int, args: list[str]) -> int:
    """Run ``genforge ARGS`` on ``nproc`` local processes under torchrun; returns torchrun's exit code."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "genforge", *args]
    return subprocess.call(command)


@main.command()
@click.argument("model_path")
@click.option("-n", "count", default=64, show_default=True, help="Number of images.")
@click.option("--seed", type=int, default=None, help="Noise seed (same seed, same images).")
@click.option("--label", default=None, help="Class (index or name) for conditional models.")
@click.option("-o", "--output", default="samples.png", show_default=True, help="PNG grid to write.")
@click.option("--nrow", type=int, default=None, help="Images per grid row.")
@click.option("--steps", type=int, default=None, help="diffusion: sampling steps (default 25).")
@click.option("--sampler", default=None, help="diffusion: ddpm, ddim or dpm++ (default dpm++).")
@click.option("--guidance-scale", type=float, default=None,
              help="diffusion: classifier-free guidance for conditional models (default 1 = none).")
@click.option("--truncation", type=float, default=None,
              help="gan: truncation threshold of the noise, e.g. 0.7 (more typical, less diverse images).")
@click.option("--temperature", type=float, default=None, help="vae: scale of the latent vectors (default 1).")
@force_option
def generate(model_path: str, count: int, seed: int | None, label: str | None, output: str, nrow: int | None,
             steps: int | None, sampler: str | None, guidance_scale: float | None, truncation: float | None,
             temperature: float | None, force: bool) -> None:
    """Generate images from a saved model into a PNG grid."""
    from genforge.artifacts import load_model

    claim_path(output, force, "PNG file")  # before the work, not after
    model = load_model(model_path)
    if not model.generates:
        raise ParameterError(f"{model_path} is a {model.algo!r} model, which does not generate images.")
    if count < 1:
        raise ParameterError(f"-n must be at least 1, got {count}.")
    labels = None if label is None else (int(label) if label.lstrip("-").isdigit() else label)
    # Sampling options go only to models that take them (the others refuse unknown options by name).
    options = {k: v for k, v in (("steps", steps), ("sampler", sampler), ("guidance_scale", guidance_scale),
                                 ("truncation", truncation), ("temperature", temperature)) if v is not None}
    frame = model.predict(count, seed=seed, labels=labels, **options)
    click.echo(f"wrote {frame.to_png(output, nrow=nrow, force=True)}")


@main.command()
@click.argument("model_path")
@click.option("--frame", "frame_source", required=True, help="Images to predict on: a built-in name or a path.")
@click.option("-o", "--output", default="predictions.csv", show_default=True,
              help="cnn: CSV of predictions. vae: CSV of latent means, or a .png grid of reconstructions.")
@click.option("--resize", is_flag=True, help="Resize and convert the images to the model's size and channels.")
@click.option("-n", "count", default=64, show_default=True, help="vae: images in the reconstruction grid.")
@force_option
@import_options
def predict(model_path: str, frame_source: str, output: str, resize: bool, count: int, force: bool,
            import_opts: dict) -> None:
    """Predict on a frame with a saved classifier (cnn) or encode / reconstruct it with a VAE."""
    from genforge.artifacts import load_model
    from genforge.data import import_file
    from genforge.errors import DataError
    from genforge.table import Table

    claim_path(output, force)
    model = load_model(model_path)
    if model.algo not in ("cnn", "vae"):
        raise ParameterError(
            f"{model_path} is a {model.algo!r} model; predict works for cnn and vae models (use genforge generate)."
        )
    frame = import_file(frame_source, **import_opts)
    if model.algo == "vae" and output.lower().endswith(".png"):
        path = model.reconstruct(frame.head(count), resize=resize).to_png(output, force=True)
        click.echo(f"wrote {path} (reconstructions of the first {min(count, len(frame))} images)")
    elif model.algo == "vae":
        means, _ = model.encode(frame, resize=resize)
        columns = [f"z{i}" for i in range(means.shape[1])]
        Table([dict(zip(columns, map(float, row))) for row in means], columns).to_csv(output)
        click.echo(f"wrote {output} (latent means of {len(frame)} images)")
    else:
        table = model.predict(frame, resize=resize)
        table.to_csv(output)
        click.echo(f"wrote {output} ({len(table)} predictions)")
    if model.algo == "vae":
        scores = model.model_performance(frame, resize=resize)
        click.echo(f"elbo: {scores['elbo']:.4f}  reconstruction_mse: {scores['reconstruction_mse']:.5f}  "
                   f"({scores['n_images']} images)")
    elif frame.labels is not None:
        try:
            scores = model.model_performance(frame, resize=resize)
        except DataError as error:
            click.echo(f"note: no accuracy: {error}", err=True)
            return
        click.echo(f"accuracy: {scores['accuracy']:.4f}  logloss: {scores['logloss']:.4f}  "
                   f"({scores['n_images']} images)")


@main.group(cls=_RecordingGroup)
def evaluator() -> None:
    """Domain evaluators: the CNN feature extractors the metrics use for built-in datasets."""


@evaluator.command("train")
@click.option("--frame", "dataset", required=True, help="Built-in dataset: fashion-mnist or digits.")
@click.option("--out", default=None, help="Folder to write into (default: the package's evaluators/<dataset>).")
@click.option("--epochs", type=int, default=None, help="Override the recipe's epochs.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--force", is_flag=True, help="Replace the evaluator folder when it exists (the shipped one by default).")
def evaluator_train(dataset: str, out: str | None, epochs: int | None, quiet: bool, force: bool) -> None:
    """Re-train a built-in domain evaluator: genforge evaluator train --frame fashion-mnist --force."""
    from genforge.metrics.domain import EVALUATORS_DIR, _dataset_key, read_record, train_evaluator

    target = Path(out) if out else EVALUATORS_DIR / _dataset_key(dataset)
    if target.exists() and any(target.iterdir()):
        claim_path(target, force, "evaluator folder")

    command = "genforge evaluator train --frame " + dataset + (f" --epochs {epochs}" if epochs else "")
    folder = train_evaluator(dataset, out=out, epochs=epochs, verbose=not quiet, command=command)
    record = read_record(folder)
    click.echo(f"test accuracy {record['test_accuracy']:.4f} on {record['test_frame']} "
               f"after {record['epochs']} epochs in {record['seconds']:.0f} s")
    click.echo(f"wrote {folder}")


@evaluator.command("list")
def evaluator_list() -> None:
    """List the built-in evaluators and their test accuracy."""
    from genforge.metrics.domain import EVALUATORS_DIR, builtin_evaluators, read_record

    for name in builtin_evaluators():
        record = read_record(EVALUATORS_DIR / name)
        click.echo(f"{name:<16} {tuple(record['image_shape'])!s:<14} test accuracy {record['test_accuracy']:.4f} "
                   f"({record['test_frame']})")


@main.command()
@click.argument("model_path")
@click.option("--frame", "frame_source", required=True, help="Reference images, e.g. fashion-mnist:test.")
@click.option("-n", "count", type=int, default=None, help="Generated images (default: as many as the frame holds).")
@click.option("--training-frame", default=None,
              help="Training images for memorization (default for a built-in test split: its train split).")
@click.option("--extractor", default=None,
              help="Feature extractor: a built-in evaluator name, a saved CNNEstimator folder, or an Inception-v3 "
                   "weights file (.pth/.safetensors; pytorch-fid's). Default: the built-in evaluator of the frame.")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed of the generated images.")
@click.option("-o", "--output", default=None, help="Write the scores as JSON to this file.")
@click.option("--pairs", default=None, help="Write the closest generated/training pairs as a PNG grid.")
@click.option("--resize", is_flag=True, help="Resize and convert the frames' images to the model's size and channels.")
@force_option
@import_options
def evaluate(model_path: str, frame_source: str, count: int | None, training_frame: str | None,
             extractor: str | None, seed: int, output: str | None, pairs: str | None, resize: bool, force: bool,
             import_opts: dict) -> None:
    """Score a saved generator: genforge evaluate MODEL --frame fashion-mnist:test -n 10000 -o scores.json."""
    import json

    from genforge.metrics import model_scores

    for path in (output, pairs):
        if path:
            claim_path(path, force)
    model, frame, training = load_generator_and_frames(model_path, frame_source, training_frame, import_opts, resize,
                                                       "evaluate")
    scores = model_scores(model, frame, n=count, extractor=extractor, training=training, seed=seed,
                          pairs_path=pairs)
    for key, value in scores.items():
        if isinstance(value, float):
            value = f"{value:.4f}"
        elif isinstance(value, (dict, list)):
            value = json.dumps(value)
        click.echo(f"{key:<28} {value}")
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(scores, indent=2) + "\n")
        click.echo(f"wrote {output}")


@main.command()
@click.argument("model_path")
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True,
              help="Export format.")
@click.option("-o", "--output", default=None, help="File to write (default: <model folder name>.onnx).")
@force_option
def export(model_path: str, fmt: str, output: str | None, force: bool) -> None:
    """Export a saved model: a GAN generator or VAE decoder (z, label -> images in [-1, 1], NCHW) or a CNN
    classifier (images -> probabilities), with a dynamic batch axis."""
    from genforge.artifacts import load_model
    from genforge.artifacts.onnx_export import export_onnx

    model = load_model(model_path)
    target = Path(output) if output else Path(f"{Path(model_path).resolve().name}.{fmt}")
    click.echo(f"wrote {export_onnx(model, target, force=force)}")


def parse_params(params, args: list[str]) -> dict:
    """Parse ``--name value`` / ``--name=value`` pairs against an estimator's declared parameters."""
    values: dict = {}
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--"):
            raise ParameterError(f"Unexpected argument {token!r}; pass parameters as --name value.")
        name, _, text = token[2:].partition("=")
        canonical = params.canonical(name.replace("-", "_"))
        if not _:
            bare = i + 1 >= len(args) or args[i + 1].startswith("--")
            if bare and params[canonical].kind is bool:
                text = "true"  # --overwrite alone means --overwrite true
            elif bare and i + 1 >= len(args):
                raise ParameterError(f"--{name} needs a value.")
            else:
                i += 1
                text = args[i]
        if canonical in values and values[canonical] != params[canonical].parse(text):
            raise ParameterError(f"--{name} and another spelling of {canonical!r} give different values; pass one.")
        values[canonical] = params[canonical].parse(text)
        i += 1
    return values


def _flag_args(name: str, value) -> list[str]:
    """An import option as the flags that give it again (for the torchrun relaunch)."""
    flag = f"--{name.replace('_', '-')}"
    if isinstance(value, bool):
        return [flag if value else f"--no-{name.replace('_', '-')}"]
    return [flag, f"{value[0]}x{value[1]}" if isinstance(value, tuple) else str(value)]


# The server's command lives beside the server (genforge/server/cli.py); it imports FastAPI only when run.
from genforge.server.cli import start  # noqa: E402
from genforge.cli.automl import automl  # noqa: E402  (genforge automl, genforge automl worker)

main.add_command(start)
main.add_command(automl)

from genforge.cli.report import report  # noqa: E402  (genforge report MODEL --frame ... -o report.html)

main.add_command(report)


if __name__ == "__main__":  # pragma: no cover
    main()
