"""Two processes under DistributedDataParallel (gloo, CPU) train the same model as one process would.

What "the same" means: rank r takes every 2nd image of the epoch's shuffled order, so at step s the two
ranks' batches of B images together are exactly the single-process batch of 2B at step s, and DDP's
averaged gradient of two per-rank mean losses is the gradient of the mean over those 2B images. The noise
must match too: a test-only ``GANTask._noise`` draws one global noise batch per call from a counter-seeded
generator and hands rank r rows r, r+2, ... (the rows that pair with its images). An MLP GAN keeps the
comparison exact up to float rounding: it has no batch norm, whose batch statistics would be per rank.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import genforge as gf
from genforge.estimators.gan import GANTask

TESTS = Path(__file__).parents[1]
sys.path.insert(0, str(TESTS))
from conftest import free_port, make_frame  # noqa: E402

PARAMS = dict(architecture="mlp", conditional=True, loss="hinge", epochs=2, seed=5, width=8, latent_dim=8,
              verbose=False, deterministic=True)
PER_RANK_BATCH = 4
WORLD = 2
# Schedules that depend on the length of training: the VAE's KL warm-up, the CNN's cosine learning rate.
SCHEDULED = {"vae": dict(epochs=3, kl_warmup_epochs=2, seed=1, width=4, latent_dim=4, verbose=False),
             "cnn": dict(epochs=3, lr_schedule="cosine", seed=1, width=4, dense=8, verbose=False)}
GUARDED = dict(architecture="mlp", epochs=2, seed=3, width=8, latent_dim=8, verbose=False, guard_lr_factor=0.5)
DIFFUSION = dict(epochs=1, seed=2, width=8, channel_mults=[1, 2], conditional=True, warmup_steps=2, verbose=False)


def shared_noise(self: GANTask, batch: int) -> torch.Tensor:
    """The global noise batch of this call (the same in every process), this rank's rows of it."""
    import torch.distributed as dist

    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    self._calls = getattr(self, "_calls", 0) + 1
    generator = torch.Generator().manual_seed(1000 + self._calls)
    return torch.randn(batch * world, self.latent_dim, generator=generator)[rank::world].to(self.device)


WORKER = textwrap.dedent("""
    import json, sys, torch
    torch.set_num_threads(1)
    sys.path[:0] = [{tests!r}, {here!r}]
    from safetensors.torch import save_file
    import genforge as gf
    from genforge.estimators.gan import GANTask
    from genforge.training import distributed
    from conftest import make_frame
    from test_distributed import DIFFUSION, GUARDED, PARAMS, PER_RANK_BATCH, SCHEDULED, shared_noise

    out = sys.argv[1]
    GANTask._noise = shared_noise
    frame = make_frame(n=32, size=8)

    def weights(model, name):
        tensors = {{f"{{m}}.{{k}}": v.contiguous() for m, mod in model._modules.items()
                    for k, v in mod.state_dict().items()}}
        save_file(tensors, f"{{out}}/{{name}}-rank{{distributed.detect().rank}}.safetensors")

    with distributed.session() as env:
        gan = gf.GANEstimator(**PARAMS, batch_size=PER_RANK_BATCH, run_dir=out + "/run").train(training_frame=frame)
        weights(gan, "plain")
        if env.is_main_process:
            gf.save_model(gan, out + "/models")
        resumed = gf.GANEstimator(**{{**PARAMS, "epochs": 3}}, batch_size=PER_RANK_BATCH, run_dir=out + "/run2",
                                  checkpoint=out + "/run/checkpoint").train(training_frame=frame)
        weights(resumed, "resumed")
        # Batch norm in G, several D calls (real, fake, R1) before one backward: ranks must still agree.
        dcgan = gf.GANEstimator(architecture="dcgan", r1_gamma=1.0, epochs=1, batch_size=PER_RANK_BATCH, seed=2,
                                width=8, latent_dim=8, verbose=False).train(training_frame=frame)
        weights(dcgan, "dcgan")
        # A conditional diffusion UNet (group norm, attention, class dropout, EMA), resumed for a second epoch.
        diffusion = gf.DiffusionEstimator(**DIFFUSION, batch_size=PER_RANK_BATCH,
                                          run_dir=out + "/run-diffusion").train(training_frame=frame)
        weights(diffusion, "diffusion")
        more = gf.DiffusionEstimator(**{{**DIFFUSION, "epochs": 2}}, batch_size=PER_RANK_BATCH,
                                     checkpoint=out + "/run-diffusion/checkpoint").train(training_frame=frame)
        weights(more, "diffusion-resumed")
        # The divergence guard: rank 1 alone sees a NaN loss, once, mid-epoch (step 10 of 24, found at the
        # running means of step 20): both ranks must roll back together and end identical.
        step_once = GANTask.train_step
        def poisoned(self, images, labels, step):
            metrics = step_once(self, images, labels, step)
            if step == 10 and env.rank == 1 and not getattr(GANTask, "fired", False):
                GANTask.fired = True
                metrics["d_loss"] = metrics["d_loss"] * float("nan")
            return metrics
        GANTask.train_step = poisoned
        guarded = gf.GANEstimator(**GUARDED, batch_size=PER_RANK_BATCH).train(training_frame=make_frame(n=192, size=8))
        GANTask.train_step = step_once
        weights(guarded, "guarded")
        with open(f"{{out}}/events-rank{{env.rank}}.json", "w") as handle:
            json.dump({{"events": guarded.training_events(), "history": guarded.scoring_history().rows}}, handle)
        vae = gf.VAEEstimator(**SCHEDULED["vae"], batch_size=PER_RANK_BATCH).train(training_frame=frame)
        cnn = gf.CNNEstimator(**SCHEDULED["cnn"], batch_size=PER_RANK_BATCH).train(training_frame=frame)
        if env.is_main_process:
            with open(out + "/schedules.json", "w") as handle:
                json.dump({{"vae": vae.scoring_history()["kl_weight"], "cnn": cnn.scoring_history()["lr"]}}, handle)
""")



@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    script = out / "worker.py"
    script.write_text(WORKER.format(tests=str(TESTS), here=str(Path(__file__).parent)))
    port = free_port()
    workers = []
    for rank in range(WORLD):
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(WORLD),
               "RANK": str(rank), "LOCAL_RANK": str(rank), "OMP_NUM_THREADS": "1"}
        with open(out / f"rank{rank}.log", "w") as log:  # a file, not a pipe: a full pipe would block a rank
            workers.append(subprocess.Popen([sys.executable, str(script), str(out)], env=env, stdout=log,
                                            stderr=subprocess.STDOUT))
    try:
        for worker in workers:
            worker.wait(timeout=120)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    for rank, worker in enumerate(workers):
        assert worker.returncode == 0, (out / f"rank{rank}.log").read_text()[-3000:]
    return out


def _ranks(out: Path, name: str) -> list[dict[str, torch.Tensor]]:
    return [load_file(str(out / f"{name}-rank{r}.safetensors")) for r in range(WORLD)]


def _assert_close(expected: dict, actual: dict) -> None:
    assert expected.keys() == actual.keys()
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=1e-4, atol=1e-5, msg=key)


@pytest.mark.parametrize("name", ["plain", "resumed", "dcgan", "diffusion", "diffusion-resumed", "guarded"])
def test_every_rank_ends_with_identical_weights(ddp_run, name):
    first, second = _ranks(ddp_run, name)
    assert first.keys() == second.keys()
    for key in first:
        assert first[key].equal(second[key]), key


def test_two_ranks_match_one_process_over_the_same_global_batches(ddp_run, monkeypatch, tmp_path):
    monkeypatch.setattr(GANTask, "_noise", shared_noise)
    frame = make_frame(n=32, size=8)
    single = gf.GANEstimator(**PARAMS, batch_size=PER_RANK_BATCH * WORLD, run_dir=str(tmp_path / "run"))
    single.train(training_frame=frame)
    weights = {f"{m}.{k}": v for m, mod in single._modules.items() for k, v in mod.state_dict().items()}
    distributed = _ranks(ddp_run, "plain")[0]
    _assert_close(weights, distributed)
    # Training moves these weights (so matching them is not trivially true): one more epoch changes them.
    later = _ranks(ddp_run, "resumed")[0]["generator.net.0.weight"]
    assert not torch.allclose(later, distributed["generator.net.0.weight"], atol=1e-4)
    # History rows are averaged over the ranks: the same losses as the single process.
    ddp_history = gf.load_model(next((ddp_run / "models").iterdir())).scoring_history()
    for column in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert ddp_history[column] == pytest.approx(single.scoring_history()[column], abs=1e-4)


def test_a_ddp_checkpoint_loads_and_resumes_in_one_process(ddp_run, monkeypatch):
    (folder,) = list((ddp_run / "models").iterdir())
    model = gf.load_model(folder)
    saved = load_file(str(folder / "weights.safetensors"))
    _assert_close(_ranks(ddp_run, "plain")[0], saved)
    assert model.predict(4, seed=0).images.shape == (4, 8, 8, 1)
    assert len(model.scoring_history()) == 2

    # Resume the DDP run's checkpoint in one process (global batch 8, same noise): the same third epoch.
    monkeypatch.setattr(GANTask, "_noise", shared_noise)
    resumed = gf.GANEstimator(**{**PARAMS, "epochs": 3}, batch_size=PER_RANK_BATCH * WORLD,
                              checkpoint=str(ddp_run / "run" / "checkpoint"))
    resumed.train(training_frame=make_frame(n=32, size=8))
    assert len(resumed.scoring_history()) == 3
    weights = {f"{m}.{k}": v for m, mod in resumed._modules.items() for k, v in mod.state_dict().items()}
    _assert_close(weights, _ranks(ddp_run, "resumed")[0])


def test_detect_reads_the_torchrun_environment(monkeypatch):
    from genforge.errors import ParameterError
    from genforge.training import distributed

    for name in distributed.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert distributed.detect() is None
    assert distributed.is_main_process()
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    env = distributed.detect()
    assert (env.rank, env.world_size, env.local_rank, env.is_main_process) == (3, 4, 1, False)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ParameterError, match="inconsistent"):
        distributed.detect()


def test_train_nproc_launches_torchrun_with_the_other_arguments(monkeypatch):
    from click.testing import CliRunner

    from genforge.cli import main as cli
    from genforge.training import distributed

    for name in distributed.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    calls = []
    monkeypatch.setattr(cli, "launch", lambda nproc, args: calls.append((nproc, args)) or 0)
    result = CliRunner().invoke(cli.main, ["train", "--nproc", "2", "--algo", "gan", "--frame", "digits",
                                           "--epochs", "2", "--out", "m"])
    assert result.exit_code == 0, result.output
    assert calls == [(2, ["train", "--algo", "gan", "--frame", "digits", "--out", "m", "--epochs", "2"])]


def test_schedules_follow_the_same_course_on_two_ranks_as_on_one_process(ddp_run):
    """Steps per epoch come from the loop, which counts them over all ranks: the KL warm-up and the cosine
    learning rate run over the same epochs whether one process takes batches of 8 or two take 4 each."""
    distributed = json.loads((ddp_run / "schedules.json").read_text())
    frame = make_frame(n=32, size=8)
    batch = PER_RANK_BATCH * WORLD
    vae = gf.VAEEstimator(**SCHEDULED["vae"], batch_size=batch).train(training_frame=frame)
    cnn = gf.CNNEstimator(**SCHEDULED["cnn"], batch_size=batch).train(training_frame=frame)
    assert distributed["vae"] == pytest.approx(vae.scoring_history()["kl_weight"], abs=1e-6)
    assert distributed["cnn"] == pytest.approx(cnn.scoring_history()["lr"], abs=1e-9)
    assert vae.scoring_history()["kl_weight"][-1] == 1.0 > vae.scoring_history()["kl_weight"][0]
    assert cnn.scoring_history()["lr"][0] > cnn.scoring_history()["lr"][-1]


def test_the_diffusion_run_trains_under_ddp(ddp_run):
    """Identical weights on both ranks are not trivially so: the resumed epoch moved the UNet and its EMA."""
    first, resumed = _ranks(ddp_run, "diffusion")[0], _ranks(ddp_run, "diffusion-resumed")[0]
    assert first.keys() == resumed.keys() and any(k.startswith("unet_ema.") for k in first)
    for prefix in ("unet.", "unet_ema."):
        moved = [k for k in first if k.startswith(prefix) and not torch.equal(first[k], resumed[k])]
        assert moved, prefix


def test_the_ranks_agree_on_a_rollback_that_one_of_them_found(ddp_run):
    """Rank 1 alone saw the NaN; both rolled back at the same step, recorded the same event and trained on."""
    first, second = (json.loads((ddp_run / f"events-rank{r}.json").read_text()) for r in range(WORLD))
    assert first["events"] == second["events"]
    (event,) = first["events"]
    assert (event["kind"], event["action"], event["epoch"], event["step"]) == ("nan", "rollback", 1, 20)
    assert "d_loss" in event["evidence"]
    assert [row["guard_rollbacks"] for row in first["history"]] == [1, 1] == [r["guard_rollbacks"] for r in
                                                                              second["history"]]
    guarded = _ranks(ddp_run, "guarded")[0]
    assert all(torch.isfinite(t).all() for t in guarded.values() if t.is_floating_point())
