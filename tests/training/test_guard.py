"""The divergence guard (genforge.training.guard): a GAN driven to diverge recovers when guarded and does
not when unguarded; NaN, exploding losses and collapse are found, rolled back and recorded; after
``guard_max_rollbacks`` it stops with a clear message; its parameters refuse bad values; its state survives
save/load and resumes exactly."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import genforge as gf
from genforge.errors import ParameterError, TrainingError
from genforge.estimators.diffusion import DiffusionTask
from genforge.estimators.gan import GANTask
from genforge.estimators.vae import VAETask
from genforge.training.guard import DivergenceGuard, GuardSettings, image_spread
from genforge.training.loop import Callback

sys.path.insert(0, str(Path(__file__).parents[1]))
from conftest import make_frame  # noqa: E402

TINY = dict(batch_size=8, seed=1, verbose=False, width=8, latent_dim=8)
ABSURD = dict(g_lr=1.0, d_lr=1.0)  # Adam at lr 1: the generator saturates to one flat image within epochs


def _finite(model) -> bool:
    return all(torch.isfinite(t).all() for m in model.networks.values() for t in m.state_dict().values()
               if t.is_floating_point())


def _spread_ratio(model, frame) -> float:
    return image_spread(model.predict(64, seed=0).images) / image_spread(frame.images)


class LearningRates(Callback):
    """Records every optimizer's learning rate at the end of training."""

    order = 30

    def on_train_end(self, loop) -> None:
        self.rates = {name: [g["lr"] for g in opt.param_groups] for name, opt in loop.task.optimizers.items()}


@pytest.fixture(scope="module")
def frame():
    return make_frame(n=64, size=8)


@pytest.fixture(scope="module")
def absurd_runs(frame):
    threads = torch.get_num_threads()  # module fixtures run before conftest's one-thread fixture
    torch.set_num_threads(1)
    guarded_rates = LearningRates()
    guarded = gf.GANEstimator(**TINY, **ABSURD, epochs=8, guard_lr_factor=0.1).train(
        training_frame=frame, callbacks=[guarded_rates])
    unguarded = gf.GANEstimator(**TINY, **ABSURD, epochs=8, divergence_guard=False).train(training_frame=frame)
    torch.set_num_threads(threads)
    return guarded, guarded_rates, unguarded


def test_a_gan_driven_to_diverge_recovers_when_guarded_and_not_when_unguarded(absurd_runs, frame):
    guarded, rates, unguarded = absurd_runs
    # Unguarded: every sample is (nearly) the same flat image, the run says nothing.
    assert _spread_ratio(unguarded, frame) < 0.05
    assert len({image.tobytes() for image in unguarded.predict(64, seed=0).images}) <= 4
    assert unguarded.training_events() == [] and "guard_rollbacks" not in unguarded.scoring_history()[0]
    # Guarded: rolled back, trained all its epochs and ends with finite weights and varied, finite images.
    events = guarded.training_events()
    assert events and {e["action"] for e in events} == {"rollback"} and guarded.stopped_reason is None
    assert all(e["kind"] == "collapse" and "spread" in e["evidence"] for e in events)
    assert len(guarded.scoring_history()) == 8 and _finite(guarded)
    out = guarded.predict(64, seed=0)
    assert _spread_ratio(guarded, frame) > 0.2
    assert len({image.tobytes() for image in out.images}) >= 16 and np.isfinite(out.images).all()
    # Each rollback multiplied the learning rates by guard_lr_factor; the history counts the rollbacks.
    assert rates.rates["generator"][0] == pytest.approx(1.0 * 0.1 ** len(events))
    assert rates.rates["discriminator"][0] == pytest.approx(1.0 * 0.1 ** len(events))
    assert guarded.scoring_history()["guard_rollbacks"][-1] == len(events)
    assert guarded.scoring_history()["guard_rollbacks"][0] == 0


def test_events_are_saved_with_the_model_and_restored_by_load_model(absurd_runs, tmp_path):
    guarded, _, _ = absurd_runs
    folder = gf.save_model(guarded, tmp_path)
    meta = json.loads((Path(folder) / "model.json").read_text())
    assert meta["info"]["training_events"] == guarded.training_events()
    loaded = gf.load_model(folder)
    assert loaded.training_events() == guarded.training_events()
    assert set(loaded.training_events()[0]) == {"epoch", "step", "kind", "evidence", "action"}
    assert loaded.get_params()["divergence_guard"] is True and loaded.get_params()["guard_lr_factor"] == 0.1
    # A copy: editing the returned list does not change the model's record.
    loaded.training_events().clear()
    assert loaded.training_events() == guarded.training_events()


def _poison_once(task_cls, at_step: int, what: str):
    """A train_step that, once, at ``at_step``, makes the generator's (or VAE decoder's) weights NaN
    (``what="weights"``) or multiplies the loss it reports by 1e9 (``what="explode"``)."""
    original = task_cls.train_step
    fired = []

    def step(self, images, labels, step):
        metrics = original(self, images, labels, step)
        if step == at_step and not fired:
            fired.append(step)
            if what == "weights":
                net = next(iter(self.modules.values()))
                with torch.no_grad():
                    for parameter in net.parameters():
                        parameter.fill_(float("nan"))
            else:
                name = next(k for k in metrics if "loss" in k)
                metrics[name] = metrics[name] * 1e9
        return metrics

    return step


@pytest.mark.parametrize("what,kind", [("weights", "nan"), ("explode", "exploding")])
def test_nan_weights_and_an_exploding_loss_are_rolled_back(frame, monkeypatch, what, kind):
    monkeypatch.setattr(GANTask, "train_step", _poison_once(GANTask, 13, what))  # epoch 2 of 8 steps
    gan = gf.GANEstimator(**TINY, epochs=3).train(training_frame=frame)
    (event,) = gan.training_events()
    assert (event["kind"], event["action"], event["epoch"]) == (kind, "rollback", 2)
    assert len(gan.scoring_history()) == 3 and _finite(gan)
    assert np.isfinite(gan.scoring_history()["d_loss"]).all()
    assert gan.scoring_history()["guard_rollbacks"] == [0, 1, 1]


def test_unguarded_nan_weights_end_with_the_finite_check_error(frame, monkeypatch):
    monkeypatch.setattr(GANTask, "train_step", _poison_once(GANTask, 13, "weights"))
    with pytest.raises(TrainingError, match="became NaN or infinite in epoch 2"):
        gf.GANEstimator(**TINY, epochs=3, divergence_guard=False).train(training_frame=frame)


def test_a_nan_mid_epoch_is_caught_at_the_running_means(monkeypatch):
    """Epochs of 32 steps: the NaN at step 5 is found at step 20's running means, before the epoch ends."""
    big = make_frame(n=256, size=8)
    monkeypatch.setattr(GANTask, "train_step", _poison_once(GANTask, 5, "weights"))
    gan = gf.GANEstimator(**TINY, epochs=1).train(training_frame=big)
    (event,) = gan.training_events()
    assert (event["kind"], event["epoch"], event["step"]) == ("nan", 1, 20)
    assert len(gan.scoring_history()) == 1 and _finite(gan)


def test_after_max_rollbacks_it_stops_with_a_clear_message(frame, tmp_path, monkeypatch):
    original = GANTask.train_step

    def diverging(self, images, labels, step):  # from step 10 on (epoch 2), every loss reads NaN
        metrics = original(self, images, labels, step)
        if step >= 10:
            metrics["d_loss"] = metrics["d_loss"] * float("nan")
        return metrics

    monkeypatch.setattr(GANTask, "train_step", diverging)
    with pytest.warns(UserWarning, match=r"diverged again after 2 rollbacks \(guard_max_rollbacks=2\): nan in "
                                         r"epoch 2.*d_loss.*last good state, after epoch 1.*Lower the learning"):
        gan = gf.GANEstimator(**TINY, epochs=4, guard_max_rollbacks=2, run_dir=str(tmp_path)).train(
            training_frame=frame)
    assert gan.stopped_reason == "divergence_guard"
    assert [e["action"] for e in gan.training_events()] == ["rollback", "rollback", "stop"]
    assert len(gan.scoring_history()) == 1 and _finite(gan)
    assert gan.predict(4, seed=0).images.shape == (4, 8, 8, 1)
    saved = json.loads((tmp_path / "checkpoint" / "model.json").read_text())
    assert [row["epoch"] for row in saved["history"]] == [1]
    # Nothing good to keep (the NaN from the first step): an error, and guard_max_rollbacks=0 stops at once.
    monkeypatch.setattr(GANTask, "train_step", lambda self, i, l, s: {**original(self, i, l, s),
                                                                      "d_loss": torch.tensor(float("nan"))})
    with pytest.raises(TrainingError, match="guard_max_rollbacks=0.*No epoch trained without trouble"):
        gf.GANEstimator(**TINY, epochs=2, guard_max_rollbacks=0).train(training_frame=frame)


def test_collapse_needs_a_fall_below_the_real_spread_and_the_runs_best():
    guard = DivergenceGuard(GuardSettings(collapse=0.1, explode=100.0), [])
    guard.real_spread = 0.2
    # Early in training: narrow samples, but never wider before: not a collapse.
    assert guard.findings({}, {}, spread=0.005, peak=0.004) == {}
    # Down to a tenth of the real spread and of the best seen: a collapse, with its evidence.
    found = guard.findings({}, {}, spread=0.001, peak=0.05)
    assert list(found) == ["collapse"] and "0.0010" in found["collapse"] and "0.0500" in found["collapse"]
    assert guard.findings({}, {}, spread=0.03, peak=0.05) == {}  # below the best, but not far below the real
    # Losses: NaN, and exploding against the healthy scale (at least 1).
    assert list(guard.findings({"g_loss": float("nan"), "d_real": 0.5}, {}, None, None)) == ["nan"]
    assert guard.findings({"d_loss": 90.0}, {"d_loss": 2.0}, None, None) == {}
    assert "d_loss reached 250" in guard.findings({"d_loss": 250.0}, {"d_loss": 2.0}, None, None)["exploding"]
    assert guard.findings({"d_real": 1e9}, {}, None, None) == {}  # only losses can explode
    assert DivergenceGuard(GuardSettings(collapse=0.0), []).findings({}, {}, 0.0, 1.0) == {}  # check off


@pytest.mark.parametrize("config", [dict(), dict(loss="bce", ema_decay=0.0), dict(architecture="mlp"),
                                    dict(conditional=True, diff_augment="translation")])
def test_healthy_runs_raise_no_event(frame, config):
    gan = gf.GANEstimator(**TINY, epochs=6, **config).train(training_frame=frame)
    assert gan.training_events() == [] and gan.scoring_history()["guard_rollbacks"] == [0] * 6


def test_a_rolled_back_run_resumes_exactly_from_its_checkpoint(frame, tmp_path):
    params = dict(**TINY, **ABSURD, guard_lr_factor=0.1, deterministic=True)
    reference = gf.GANEstimator(**params, epochs=6, run_dir=str(tmp_path / "ref")).train(training_frame=frame)
    assert reference.training_events()  # the rollbacks happen within the first 3 epochs
    first = gf.GANEstimator(**params, epochs=3, run_dir=str(tmp_path / "run")).train(training_frame=frame)
    assert first.training_events() == [e for e in reference.training_events() if e["epoch"] <= 3]
    resumed = gf.GANEstimator(**params, epochs=6, checkpoint=str(tmp_path / "run" / "checkpoint"),
                              run_dir=str(tmp_path / "run2")).train(training_frame=frame)
    assert resumed.training_events() == reference.training_events()
    def curves(model):  # the history without its timings
        return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_sec")}
                for row in model.scoring_history().rows]

    assert curves(resumed) == curves(reference) and curves(resumed)[-1]["guard_rollbacks"] >= 1
    for name, module in reference.networks.items():
        for key, value in module.state_dict().items():
            assert value.equal(resumed.networks[name].state_dict()[key]), f"{name}.{key}"


def test_the_vae_and_the_diffusion_model_can_be_guarded(monkeypatch):
    small = make_frame(n=16, size=8)
    assert gf.VAEEstimator().divergence_guard is False and gf.DiffusionEstimator().divergence_guard is False
    monkeypatch.setattr(VAETask, "train_step", _poison_once(VAETask, 3, "weights"))
    vae = gf.VAEEstimator(epochs=2, batch_size=8, seed=1, verbose=False, width=4, latent_dim=4,
                          divergence_guard=True).train(training_frame=small)
    assert [e["kind"] for e in vae.training_events()] == ["nan"] and _finite(vae)
    # The diffusion task sets its learning rate every step (warm-up): the rollback scales that rate too.
    monkeypatch.setattr(DiffusionTask, "train_step", _poison_once(DiffusionTask, 3, "weights"))
    model = gf.DiffusionEstimator(epochs=3, batch_size=8, seed=1, verbose=False, width=8, channel_mults=[1, 2],
                                  warmup_steps=0, lr=1e-3, divergence_guard=True, guard_lr_factor=0.25,
                                  guard_collapse=0.0).train(training_frame=small)
    assert [e["kind"] for e in model.training_events()] == ["nan"] and _finite(model)
    assert model.scoring_history()["lr"] == pytest.approx([1e-3, 2.5e-4, 2.5e-4])


@pytest.mark.parametrize("name,value,message", [
    ("divergence_guard", "yes", "pass True or False"),
    ("guard_lr_factor", 1.0, r"in \[0.001, 0.999\]"),
    ("guard_lr_factor", 0.0, r"in \[0.001, 0.999\]"),
    ("guard_lr_factor", float("nan"), "finite"),
    ("guard_max_rollbacks", -1, r"in \[0, 100\]"),
    ("guard_max_rollbacks", 2.0, "takes an int"),
    ("guard_collapse", 1.5, r"in \[0, 1\]"),
    ("guard_explode", 1.0, ">= 2|in \\[2"),
    ("guard_explode", None, "may not be None"),
])
@pytest.mark.parametrize("estimator", [gf.GANEstimator, gf.VAEEstimator, gf.DiffusionEstimator])
def test_bad_guard_parameters_are_clear_errors(frame, estimator, name, value, message):
    with pytest.raises(ParameterError, match=f"'{name}'.*({message})"):
        estimator(**{name: value}).train(training_frame=frame)


def test_the_parameters_are_declared_for_the_signature_and_schema():
    import inspect

    signature = inspect.signature(gf.GANEstimator)
    assert signature.parameters["divergence_guard"].default is True
    schema = {p["name"]: p for p in gf.GANEstimator.PARAMS.schema()}
    assert schema["guard_lr_factor"] == {**schema["guard_lr_factor"], "type": "float", "default": 0.5,
                                         "min": 0.001, "max": 0.999}
    assert "guard_max_rollbacks" in gf.VAEEstimator.PARAMS and "divergence_guard" not in gf.CNNEstimator.PARAMS
    assert gf.CNNEstimator().training_events() == [] == gf.GANEstimator().training_events()  # never guarded / untrained
