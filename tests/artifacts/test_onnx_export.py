"""export_onnx writes files that onnxruntime runs with the PyTorch model's output (within 1e-4)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import genforge as gf  # noqa: E402
from genforge.artifacts.onnx_export import export_onnx  # noqa: E402
from genforge.artifacts.onnx_runtime import OnnxGenerator  # noqa: E402
from genforge.cli.main import main  # noqa: E402
from genforge.errors import DataError, ModelFormatError  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1]))
from conftest import make_frame  # noqa: E402

TINY = dict(epochs=1, batch_size=8, seed=1, verbose=False)


@pytest.fixture(scope="module")
def frame():
    return make_frame(n=16, size=16)


@pytest.mark.parametrize("arch", ["dcgan", "resnet", "mlp"])
@pytest.mark.parametrize("conditional", [False, True])
def test_gan_generator_matches_pytorch(frame, tmp_path, arch, conditional):
    gan = gf.GANEstimator(architecture=arch, conditional=conditional, width=8, latent_dim=8, **TINY)
    gan.train(training_frame=frame)
    path = gf.export_onnx(gan, tmp_path / "gen.onnx")
    z = gan.noise(5, seed=3)
    labels = np.array([0, 1, 2, 3, 1]) if conditional else None
    with torch.no_grad():
        expected = gan._sampler(True)(torch.from_numpy(z), torch.from_numpy(labels) if conditional else None)
    session = ort.InferenceSession(str(path))
    assert [i.name for i in session.get_inputs()] == (["z", "label"] if conditional else ["z"])
    feeds = {"z": z, **({"label": labels} if conditional else {})}
    (images,) = session.run(None, feeds)
    assert images.dtype == np.float32 and images.shape == (5, 1, 16, 16)
    np.testing.assert_allclose(images, expected.numpy(), atol=1e-4, rtol=0)

    # The runtime class a server uses: uint8 NHWC, the same pixels as the estimator's generate().
    runtime = OnnxGenerator(path)
    assert (runtime.latent_dim, runtime.num_classes, runtime.image_shape) == (8, 4 if conditional else 0, (1, 16, 16))
    same = runtime.generate(z, labels) == gan.generate(z, labels)
    assert same.mean() > 0.999  # a pixel may round the other way at x.5 after a 1e-7 difference
    # Any batch size: the batch axis is dynamic.
    assert runtime.generate(runtime.noise(33, seed=1), [1] * 33 if conditional else None).shape == (33, 16, 16, 1)


def test_runtime_checks_its_inputs(frame, tmp_path):
    gan = gf.GANEstimator(architecture="mlp", conditional=True, width=8, latent_dim=8, **TINY).train(training_frame=frame)
    runtime = OnnxGenerator(export_onnx(gan, tmp_path / "g.onnx"))
    with pytest.raises(DataError, match="shape"):
        runtime.generate(np.zeros((2, 3), np.float32))
    with pytest.raises(DataError, match="0..3"):
        runtime.generate(runtime.noise(2), labels=[0, 9])
    assert runtime.generate(runtime.noise(2), labels="class2").shape == (2, 16, 16, 1)
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelFormatError):
        OnnxGenerator(tmp_path / "bad.onnx")


def test_vae_decoder_and_cnn_classifier(frame, tmp_path):
    if not hasattr(gf, "VAEEstimator") or not hasattr(gf, "CNNEstimator"):
        pytest.skip("the VAE and CNN estimators are not in this tree")
    vae = gf.VAEEstimator(architecture="mlp", conditional=True, width=4, latent_dim=4, **TINY).train(training_frame=frame)
    runtime = OnnxGenerator(gf.export_onnx(vae, tmp_path / "vae.onnx"))
    z, labels = vae.noise(5, seed=2), np.array([0, 1, 2, 3, 0])
    assert (runtime.generate(z, labels) == vae.decode(z, labels).images).mean() > 0.999

    cnn = gf.CNNEstimator(width=4, dense=8, **TINY).train(training_frame=frame)
    session = ort.InferenceSession(str(gf.export_onnx(cnn, tmp_path / "cnn.onnx")))
    (probabilities,) = session.run(None, {"images": frame.to_numpy((-1, 1), channels_first=True)})
    np.testing.assert_allclose(probabilities, cnn.predict_proba(frame), atol=1e-4, rtol=0)


def test_export_command(frame, tmp_path):
    gan = gf.GANEstimator(architecture="mlp", width=8, latent_dim=8, **TINY).train(training_frame=frame)
    folder = gf.save_model(gan, tmp_path / "models")
    target = tmp_path / "out" / "g.onnx"
    result = CliRunner().invoke(main, ["export", str(folder), "--format", "onnx", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert OnnxGenerator(target).generate(gan.noise(2, seed=0)).shape == (2, 16, 16, 1)


@pytest.mark.parametrize("conditional, patch_size", [(False, 1), (True, 1), (False, 2)])
def test_diffusion_denoiser_and_its_sampling_loop_match_pytorch(tmp_path, conditional, patch_size):
    pytest.importorskip("diffusers")
    frame = make_frame(n=16, size=8)
    model = gf.DiffusionEstimator(width=8, channel_mults=[1, 2], conditional=conditional, warmup_steps=2, epochs=2,
                                  batch_size=8, seed=1, patch_size=patch_size, verbose=False).train(training_frame=frame)
    path = gf.export_onnx(model, tmp_path / "diffusion.onnx")
    session = ort.InferenceSession(str(path))
    names = ["sample", "timestep"] + (["class_labels"] if conditional else [])
    assert [i.name for i in session.get_inputs()] == names
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype(np.float32)
    t = np.array([999, 500, 3])
    feeds = {"sample": x, "timestep": t, **({"class_labels": np.array([0, 4, 2])} if conditional else {})}
    with torch.no_grad():
        expected = model.networks["unet_ema"](*(torch.from_numpy(v) for v in feeds.values()))
    np.testing.assert_allclose(session.run(None, feeds)[0], expected.numpy(), atol=1e-4, rtol=0)

    # The runtime runs the same sampling loop with the same scheduler: the same pixels for a seed.
    runtime = OnnxGenerator(path)
    assert (runtime.latent_size, runtime.num_classes) == (64, 4 if conditional else 0)
    # 40 images (2,560 pixels), so that one pixel rounding the other way at x.5 is within the GAN test's
    # 0.1% (over 5 images it alone would be 0.3%); no pixel may be more than one level apart.
    labels = [0, 1, 2, 3] * 10 if conditional else None
    for options in ({"steps": 3, "sampler": "dpm++"}, {"steps": 4, "sampler": "ddpm"}, {"steps": 2, "sampler": "ddim"},
                    *([{"steps": 3, "sampler": "ddim", "guidance_scale": 2.5}] if conditional else [])):
        ours = runtime.predict(40, seed=7, labels=labels, **options).images
        theirs = model.predict(40, seed=7, labels=labels, **options).images
        assert (ours == theirs).mean() > 0.999, options
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1, options
    with pytest.raises(gf.ParameterError, match="unknown sampler"):
        runtime.predict(2, sampler="euler")
    with pytest.raises(gf.ParameterError, match="takes no sampling options"):
        gan = gf.GANEstimator(architecture="mlp", width=8, latent_dim=8, **TINY).train(training_frame=frame)
        OnnxGenerator(gf.export_onnx(gan, tmp_path / "g.onnx")).predict(2, steps=3)
