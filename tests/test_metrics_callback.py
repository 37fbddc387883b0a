"""The metrics callback in a fit: it drives ModelCheckpoint, and 2 DDP processes give the same
FID and precision/recall as 1 process on the same samples."""

import functools
import math

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from gan_lightning.callbacks.metrics import MetricsCallback
from gan_lightning.data import GaussianDataModule, ShippedDigitsDataModule
from gan_lightning.module import GAN
from gan_lightning.networks import MLPDiscriminator, MLPGenerator
from tests.helpers import quiet_trainer

NAMES = {f"val/{m}_digits_test601_gen601" for m in ("fid", "kid", "kid_std", "precision", "recall", "density", "coverage")}


def frozen_digit_gan() -> GAN:
    """A tiny digit GAN whose optimizers have lr 0, so both runs sample the same generator."""
    torch.manual_seed(0)
    frozen = functools.partial(torch.optim.SGD, lr=0.0)  # picklable for ddp_spawn
    netG = MLPGenerator(latent_dim=8, out_shape=[1, 32, 32], output_activation="tanh")
    return GAN(netG, MLPDiscriminator(in_shape=[1, 32, 32], hidden=[8]), optimizer_G=frozen, optimizer_D=frozen)


def fit_fid(tmp_path, **trainer_kwargs) -> dict[str, float]:
    metrics = MetricsCallback(num_samples=601, metrics=["fid", "kid", "prdc"], cache_dir=str(tmp_path / "cache"),
                              batch_size=150, kid_subsets=5, kid_subset_size=100)
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=2, callbacks=[metrics], **trainer_kwargs)
    trainer.fit(frozen_digit_gan(), ShippedDigitsDataModule(image_size=32, batch_size=16, reference="test"))  # 1,000 real
    return {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}


@pytest.mark.slow
def test_two_ddp_processes_give_the_fid_of_one(tmp_path):
    one = fit_fid(tmp_path / "one")
    two = fit_fid(tmp_path / "two", strategy="ddp_spawn_find_unused_parameters_true", devices=2)
    assert set(one) == set(two) == NAMES
    fid = "val/fid_digits_test601_gen601"
    assert math.isfinite(one[fid]) and one[fid] > 1
    for name in one:  # 601 fakes: the ranks make 301 and 300, gathered back in order (KID's subsets see it)
        assert abs(one[name] - two[name]) <= 1e-4 * max(1.0, one[name]), name


def test_model_checkpoint_keeps_the_generator_with_the_lowest_fid_seen(tmp_path):
    name = "val/fid_digits_val300_gen300"
    metrics = MetricsCallback(num_samples=300, metrics=["fid", "kid"], every_n_epochs=1, cache_dir=None,
                              kid_subsets=5, kid_subset_size=100)
    seen: list[float] = []
    evaluate = metrics.evaluate
    metrics.evaluate = lambda trainer, pl_module: (v := evaluate(trainer, pl_module), seen.append(v[name]))[0]
    best = ModelCheckpoint(dirpath=tmp_path, monitor=name, mode="min", filename="{epoch}")
    trainer = quiet_trainer(max_epochs=4, limit_train_batches=3, callbacks=[metrics, best], enable_checkpointing=True)
    adam = lambda p: torch.optim.Adam(p, lr=5e-3)  # noqa: E731  (moves G enough for the FID to change)
    torch.manual_seed(0)
    gan = GAN(MLPGenerator(latent_dim=8, out_shape=[1, 32, 32], output_activation="tanh"),
              MLPDiscriminator(in_shape=[1, 32, 32], hidden=[8]), optimizer_G=adam, optimizer_D=adam)
    trainer.fit(gan, ShippedDigitsDataModule(image_size=32, batch_size=16))
    assert len(seen) == 4 and len(set(seen)) == 4  # one evaluation per epoch, fit's end not again
    assert best.best_model_score.item() == pytest.approx(min(seen), rel=1e-6)
    assert best.best_model_path.endswith(f"epoch={seen.index(min(seen))}.ckpt")
    assert "val/kid_digits_val300_gen300" in trainer.callback_metrics


def count_evaluations(callback: MetricsCallback) -> list[int]:
    steps: list[int] = []
    evaluate = callback.evaluate

    def spy(trainer, pl_module):
        steps.append(trainer.global_step)
        return evaluate(trainer, pl_module)

    callback.evaluate = spy
    return steps


@pytest.mark.parametrize(
    "schedule, expected",
    [
        (dict(every_n_epochs=2), [2, 3]),  # epoch 2, then fit's end (epoch 3 is not scheduled)
        (dict(every_n_epochs=None, every_n_batches=2, at_fit_end=False), [2]),  # batch index 1: global step 2
        (dict(every_n_epochs=3), [3]),  # fit's end was just evaluated: not twice
    ],
)
def test_schedule(schedule, expected):
    metrics = MetricsCallback(num_samples=200, metrics=["fid"], cache_dir=None, **schedule)
    steps = count_evaluations(metrics)
    trainer = quiet_trainer(max_epochs=3, limit_train_batches=1, callbacks=[metrics])
    gan = GAN(MLPGenerator(latent_dim=8, out_shape=[1, 32, 32], output_activation="tanh"),
              MLPDiscriminator(in_shape=[1, 32, 32], hidden=[8]))
    trainer.fit(gan, ShippedDigitsDataModule(image_size=32, batch_size=16))
    assert steps == expected
    assert "val/fid_digits_val200_gen200" in trainer.callback_metrics


def test_callback_fails_at_setup_on_data_it_cannot_take():
    trainer = quiet_trainer(max_steps=1, callbacks=[MetricsCallback(num_samples=100, cache_dir=None)])
    gan = GAN(MLPGenerator(latent_dim=2, out_shape=[2]), MLPDiscriminator(in_shape=[2]))
    with pytest.raises(ValueError, match=r"1-channel images.*shape \(2,\)"):
        trainer.fit(gan, GaussianDataModule(num_samples=64, batch_size=8))


def test_callback_says_when_there_is_no_held_out_reference():
    metrics = MetricsCallback(num_samples=200, metrics=["fid"], cache_dir=None, every_n_epochs=None, at_fit_end=False)
    trainer = quiet_trainer(max_steps=1, callbacks=[metrics])
    gan = GAN(MLPGenerator(latent_dim=8, out_shape=[1, 32, 32], output_activation="tanh"),
              MLPDiscriminator(in_shape=[1, 32, 32], hidden=[8]))
    with pytest.warns(UserWarning, match="no held-out split.*Memorisation is left out"):
        trainer.fit(gan, ShippedDigitsDataModule(image_size=32, split="all", batch_size=16))
