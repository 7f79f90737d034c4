"""Every generator has the report: a VAE (temperature sweep), a conditional diffusion model (guidance sweep,
no class directions), an unconditional one (no knob: said so), a conditional GAN and an ONNX export."""

from __future__ import annotations

import json

import pytest

import genforge as gf

TINY = {"epochs": 1, "batch_size": 64, "seed": 3, "verbose": False}
TINY_UNET = {**TINY, "width": 8, "channel_mults": [1, 2], "warmup_steps": 2}


@pytest.fixture(scope="module")
def split():
    return gf.import_file("digits").split_frame([0.7], seed=0)


def test_vae_report_sweeps_the_temperature(split, tmp_path):
    train, test = split
    vae = gf.VAEEstimator(**TINY, width=4, latent_dim=4).train(training_frame=train)
    report = vae.report(test, path=tmp_path / "v.html", samples=100, training_frame=train)
    assert report["samples"]["knob"] == "temperature"
    assert [row["level"] for row in report["samples"]["sweep"]] == [0.6, 0.8, 1.0, 1.2]
    assert all(0 <= row["precision"] <= 1 and row["fid"] >= 0 for row in report["samples"]["sweep"])
    assert "Losses" in report["health"]["curves"] and len(report["directions"]["main"]) == 4  # k <= latent width
    assert json.loads((tmp_path / "v.json").read_text())["report"]["algo"] == "vae"


def test_diffusion_reports_sweep_guidance_when_conditional(split, tmp_path):
    train, test = split
    cond = gf.DiffusionEstimator(**TINY_UNET, conditional=True).train(training_frame=train[:256])
    report = cond.report(test, path=tmp_path / "d.html", samples=50, sections=["samples", "directions"],
                         levels=[1.0, 3.0], k=2)
    assert report["samples"]["knob"] == "guidance_scale"
    assert [row["level"] for row in report["samples"]["sweep"]] == [1.0, 3.0]
    assert "conditional" in report["directions"]["classes_skipped"]
    plain = gf.DiffusionEstimator(**TINY_UNET).train(training_frame=train[:256])
    skipped = plain.report(test, path=tmp_path / "p.html", samples=50, sections=["samples"])
    assert skipped["samples"]["knob"] is None and "unconditional" in skipped["samples"]["sweep_skipped"]


def test_conditional_gan_and_its_onnx_export(split, tmp_path):
    pytest.importorskip("onnxruntime")
    train, test = split
    gan = gf.GANEstimator(**TINY, width=8, latent_dim=8, conditional=True).train(training_frame=train)
    report = gan.report(test, path=tmp_path / "g.html", samples=100, training_frame=train)
    assert report["samples"]["knob"] == "truncation" and "conditional" in report["directions"]["classes_skipped"]
    assert len(report["bias"]["groups"]) == 10
    from genforge.artifacts.onnx_runtime import OnnxGenerator

    onnx = OnnxGenerator(gf.export_onnx(gan, tmp_path / "g.onnx"))
    exported = onnx.report(test, path=tmp_path / "o.html", samples=100, training_frame=train, extractor="digits")
    assert exported["samples"]["knob"] == "temperature"
    assert exported["health"]["epochs"] == 0 and "no training history" in exported["health"]["note"]
