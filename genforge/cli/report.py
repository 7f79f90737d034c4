"""``genforge report MODEL --frame fashion-mnist:test -o report.html``: the model report (see docs/report.md)."""

from __future__ import annotations

import click

from genforge.cli.options import force_option, import_options, load_generator_and_frames
from genforge.files import claim_path


@click.command()
@click.argument("model_path")
@click.option("--frame", "frame_source", required=True, help="Held-out real images, e.g. fashion-mnist:test.")
@click.option("-o", "--output", default="report.html", show_default=True,
              help="HTML file to write; the JSON of its figures goes beside it (.json).")
@click.option("-n", "--samples", "samples", type=int, default=2000, show_default=True, help="Generated images.")
@click.option("--training-frame", default=None,
              help="The model's training images, for Copies and Bias (default for a built-in test split: its train split).")
@click.option("--extractor", default=None, help="Feature extractor (as for evaluate). Default: the built-in evaluator.")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed of the generated images.")
@click.option("--sections", default=None, help="Comma-separated subset of samples,copies,bias,health,directions.")
@click.option("--k", "k", type=int, default=5, show_default=True, help="Main latent directions to show.")
@click.option("--resize", is_flag=True, help="Resize and convert the frames' images to the model's size and channels.")
@force_option
@import_options
def report(model_path: str, frame_source: str, output: str, samples: int, training_frame: str | None,
           extractor: str | None, seed: int, sections: str | None, k: int, resize: bool, force: bool,
           import_opts: dict) -> None:
    """Write a model report: genforge report MODEL --frame fashion-mnist:test -o report.html."""
    from genforge.report import build_report, report_paths

    for path in report_paths(output):
        if not force:
            claim_path(path, False, "report file")  # refused before the work, not after (force: said once, below)
    model, frame, training = load_generator_and_frames(model_path, frame_source, training_frame, import_opts, resize,
                                                       "report on")
    chosen = [s.strip() for s in sections.split(",") if s.strip()] if sections is not None else None
    result = build_report(model, frame, path=output, samples=samples, training_frame=training, extractor=extractor,
                          seed=seed, force=force, sections=chosen, k=k)
    for name, secs in result["report"]["seconds"].items():
        note = f"  skipped: {result[name]['skipped']}" if isinstance(result.get(name), dict) and "skipped" in result[name] else ""
        click.echo(f"{name:<12} {secs:7.2f} s{note}")
    click.echo(f"wrote {result['path']} and {result['json_path']}")
