"""SNGAN's ResNet G and D: the paper's shapes and sizes, spectral norm everywhere in D, and the
two configs through the CLI."""

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback
from torch import nn
from torch.nn.utils import parametrize

from gan_lightning.cli import cli_main
from gan_lightning.networks import ResNetDiscriminator, ResNetGenerator

CONFIGS = Path(__file__).parents[1] / "configs"


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_cifar_widths_have_the_reference_parameter_counts():
    """Counted layer by layer from pfnet-research/sngan_projection (resnet_32.py and
    snresnet_32.py, ch 256 / 128, unconditional): G = Linear 128->4096 (528,384) + 3 blocks of
    2 conv3x3 + conv1x1 + 2 BN (1,246,976 each) + BN (512) + conv3x3 256->3 (6,915);
    D = optimized block (151,680) + down block with a 1x1 shortcut (311,680) + 2 plain blocks
    (295,168 each) + Linear 128->1 without bias (128)."""
    assert count(ResNetGenerator(128, 3, 32, 256)) == 528_384 + 3 * 1_246_976 + 512 + 6_915 == 4_276_739
    assert count(ResNetDiscriminator(3, 32, 128)) == 151_680 + 311_680 + 2 * 295_168 + 128 == 1_053_824


def test_generator_shapes_at_each_stage_and_output_range():
    torch.manual_seed(0)
    netG = ResNetGenerator(128, 3, 32, 256)
    shapes = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape))) for m in (netG.linear, *netG.blocks, netG.out)]
    x = netG(torch.randn(5, 128) * 3)  # z far out, to push tanh towards its ends
    for hook in hooks:
        hook.remove()
    assert shapes == [(5, 4 * 4 * 256), (5, 256, 8, 8), (5, 256, 16, 16), (5, 256, 32, 32), (5, 3, 32, 32)]
    assert x.shape == (5, 3, 32, 32) and netG.latent_dim == 128
    assert x.abs().max() < 1 and x.std() > 0.05


def test_discriminator_shapes_at_each_stage_and_one_score_per_sample():
    netD = ResNetDiscriminator(3, 32, 128)
    shapes = []
    for block in netD.blocks:
        block.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape)))
    out = netD(torch.randn(5, 3, 32, 32))
    assert shapes == [(5, 128, 16, 16), (5, 128, 8, 8), (5, 128, 8, 8), (5, 128, 8, 8)]
    assert out.shape == (5,)


def test_spectral_norm_on_every_conv_and_linear_of_d_and_none_in_g():
    netD = ResNetDiscriminator(3, 32, 128)
    layers = [m for m in netD.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 3 + 3 + 2 + 2 + 1  # c1, c2, c_sc of the first two blocks; c1, c2; linear
    assert all(parametrize.is_parametrized(m, "weight") for m in layers)
    netD(torch.randn(4, 3, 32, 32))  # a training-mode pass runs the power iteration
    for m in layers:  # after it, the largest singular value of each weight is about 1
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert 0.5 < sigma <= 1.05
    assert not any(parametrize.is_parametrized(m) for m in ResNetGenerator().modules())


@pytest.mark.parametrize("size, d_map", [(28, 14), (64, 8)])
def test_other_sizes_keep_the_widths(size, d_map):
    netG, netD = ResNetGenerator(16, 1, size, 8), ResNetDiscriminator(1, size, 8)
    x = netG(torch.randn(2, 16))
    assert x.shape == (2, 1, size, size)
    assert netD.blocks(x).shape == (2, 8, d_map, d_map) and netD(x).shape == (2,)


def test_a_size_it_cannot_make_names_the_sizes_that_work():
    for build in (lambda: ResNetGenerator(image_size=48), lambda: ResNetDiscriminator(image_size=48)):
        with pytest.raises(ValueError, match=r"48x48.*\[28, 32, 64\]"):
            build()
    with pytest.raises(ValueError, match="built for inputs of shape"):
        ResNetDiscriminator(3, 32, 8)(torch.randn(2, 1, 32, 32))


class ParameterSnapshot(Callback):
    """Keeps a copy of both networks' parameters as training starts."""

    def on_train_start(self, trainer, pl_module) -> None:
        self.before = {k: v.detach().clone() for k, v in pl_module.named_parameters()}


@pytest.mark.slow
@pytest.mark.parametrize("config", ["sngan_digits", "sngan_cifar10"])
def test_config_trains_both_networks(config, tmp_path, monkeypatch):
    """Five batches (fast_dev_run 5): five D steps and one G step (n_critic 5; sngan_digits's
    n_critic 2 is set to 5 here so that both configs take the same steps)."""
    monkeypatch.chdir(tmp_path)
    args = ["fit", "--config", str(CONFIGS / f"{config}.yaml"), "--trainer.fast_dev_run", "5",
            "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false",
            "--trainer.callbacks+=tests.test_resnet.ParameterSnapshot", "--model.n_critic", "5"]  # fmt: skip
    if config == "sngan_cifar10":  # CIFAR-10 is not on disk here: random images of its shape
        args += ["--data", "tests.helpers.RandomDataModule", "--data.init_args.channels=3", "--data.init_args.image_size=32",
                 "--data.init_args.num_samples", "40", "--data.init_args.batch_size", "8"]  # fmt: skip
    cli = cli_main(args)
    assert cli.trainer.global_step == 5  # batches: 5 D steps and 1 G step
    assert cli.model.hparams.loss == "hinge"
    before = next(cb for cb in cli.trainer.callbacks if isinstance(cb, ParameterSnapshot)).before
    after = dict(cli.model.named_parameters())
    for net in ("netG.", "netD."):
        names = [k for k in before if k.startswith(net)]
        changed = [k for k in names if not torch.equal(before[k], after[k])]
        assert len(changed) == len(names), f"{net} parameters left unchanged: {set(names) - set(changed)}"
