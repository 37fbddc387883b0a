"""Training terms (gan_lightning.terms) and objectives: each value against a computation done
here on a hand-made example, the module's bookkeeping of them, and a fork's own term run from
YAML without an edit of the package."""

import math
import textwrap
from dataclasses import replace

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Callback
from torch import nn

from gan_lightning.cli import cli_main
from gan_lightning.losses import Objective, RelativisticPairingLoss, check_keyword_interface, get_objective
from gan_lightning.module import add_terms
from gan_lightning.terms import BalancedConsistency, LeCam, ModeSeeking, PullingAway, R1, R2, StepContext, Term
from tests.conftest import CONFIGS
from tests.helpers import toy_gan


class LinearCritic(nn.Module):
    """D(x) = w . x with |w| = 2: its input gradient is w everywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1.2, -1.6]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w


def context(critic, real, fake, **kwargs) -> StepContext:
    values = {"z": torch.zeros(len(real), 2), "labels": None, "d_real": critic(real), "d_fake": critic(fake),
              "critic": critic, "gan": None, **kwargs}  # fmt: skip
    return StepContext(real=real, fake=fake, **values)


def test_r2_is_half_the_squared_gradient_norm_at_the_fakes_and_r1_at_the_reals():
    critic = LinearCritic()
    real, fake = torch.randn(8, 2), torch.randn(8, 2) + 5
    ctx = context(critic, real, fake)
    assert R2()(ctx).item() == pytest.approx(0.5 * 4.0) and R1()(ctx).item() == pytest.approx(0.5 * 4.0)
    quadratic = lambda x: (x**2).sum(1)  # noqa: E731  grad 2x: 0.5 E|2x|^2 = 2 E|x|^2
    ctx = context(quadratic, real, fake)
    assert R2()(ctx).item() == pytest.approx(2 * fake.pow(2).sum(1).mean().item(), rel=1e-5)
    assert R1()(ctx).item() == pytest.approx(2 * real.pow(2).sum(1).mean().item(), rel=1e-5)


def test_relativistic_pairing_loss_pairs_each_fake_with_a_real():
    d_real, d_fake = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    loss = get_objective("rpgan")
    assert isinstance(loss, RelativisticPairingLoss)
    expected_d = (math.log1p(math.exp(1.0 - 2.0)) + math.log1p(math.exp(1.0 - 0.0))) / 2  # softplus(D(G(z)) - D(x))
    expected_g = (math.log1p(math.exp(2.0 - 1.0)) + math.log1p(math.exp(0.0 - 1.0))) / 2
    assert loss.d_loss(d_real=d_real, d_fake=d_fake).item() == pytest.approx(expected_d)
    assert loss.g_loss(d_fake=d_fake, d_real=d_real).item() == pytest.approx(expected_g)
    # the pairing matters: a batch-mean comparison (RaGAN) gives another number
    assert get_objective("ragan").d_loss(d_real=d_real, d_fake=d_fake).item() != pytest.approx(expected_d)


def test_lecam_moves_its_averages_first_then_penalises_outputs_past_the_other_side():
    term = LeCam(weight=0.3, decay=0.9)
    d_real, d_fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.5])
    ctx = StepContext(real=None, fake=None, z=None, labels=None, d_real=d_real, d_fake=d_fake, critic=None, gan=None)
    value = term(ctx)
    ema_real, ema_fake = 0.1 * 2.0, 0.1 * -0.75  # from 0, one step of decay 0.9 towards the batch means
    assert term.ema_real.item() == pytest.approx(ema_real) and term.ema_fake.item() == pytest.approx(ema_fake)
    expected = (F.relu(d_real - ema_fake).pow(2).mean() + F.relu(ema_real - d_fake).pow(2).mean()).item()
    assert value.item() == pytest.approx(expected)
    state = toy_gan(d_terms=[term]).state_dict()
    assert state["d_terms.0.ema_real"].item() == pytest.approx(ema_real)  # checkpointed with the module


def test_balanced_consistency_is_the_squared_change_of_d_under_the_augmentation():
    class AddOne(nn.Module):  # a known T: a linear D moves by w . 1 on every sample
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + 1.0

    term = BalancedConsistency(weight=10.0)
    term.transform = AddOne()
    critic = LinearCritic()
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    shift = critic.w.sum().item()  # w . (1, 1)
    assert term(context(critic, real, fake)).item() == pytest.approx(2 * shift**2, rel=1e-5)  # real and fake
    with pytest.raises(ValueError, match="needs an augmentation policy"):
        BalancedConsistency(policy="")


def test_a_lazy_term_is_computed_every_kth_batch_at_k_times_its_weight():
    """StyleGAN2's lazy R1: ``every=3`` adds 3 * weight * R1 on batches 0, 3, 6 and nothing (no
    value, nothing added to the loss) on the others; an eager term beside it is added on every batch."""
    torch.manual_seed(0)
    gan = toy_gan(d_terms=[R1(2.0, every=3), R2(1.0)])
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    ctx = context(gan.discriminate, real, fake, gan=gan)
    objective = gan.objective.d_loss(d_real=ctx.d_real, d_fake=ctx.d_fake)
    r1, r2 = R1()(ctx), R2()(ctx)
    for batch in range(7):
        loss, values = add_terms(objective, gan.d_terms, replace(ctx, batch=batch), "loss_D")
        if batch % 3 == 0:
            assert set(values) == {"loss_D/r1", "loss_D/r2"} and values["loss_D/r1"] > 0
            assert loss.item() == pytest.approx((objective + 3 * 2.0 * r1 + r2).item(), rel=1e-6)
        else:
            assert set(values) == {"loss_D/r2"}
            assert loss.item() == pytest.approx((objective + r2).item(), rel=1e-6)
    with pytest.raises(ValueError, match="R1's `every` counts batches and must be at least 1, got 0"):
        R1(1.0, every=0)


def test_every_term_reaches_its_network_through_the_module_and_is_logged_by_name():
    """R1 and R2 on D, mode seeking on G: each D term gives netD a gradient, each value is
    returned under its own name, and the total is the objective plus the weighted values."""
    torch.manual_seed(0)
    gan = toy_gan(d_terms=[R1(2.0), R2(3.0)], g_terms=[ModeSeeking(0.5)])
    real, z = torch.randn(16, 2), torch.randn(16, 2)
    fake = gan.netG(z)
    ctx = context(gan.discriminate, real, fake.detach(), z=z, gan=gan)
    loss, values = gan.d_loss(ctx)
    assert set(values) == {"loss_D/r1", "loss_D/r2"}
    objective = gan.objective.d_loss(d_real=ctx.d_real, d_fake=ctx.d_fake)
    assert loss.item() == pytest.approx((objective + 2.0 * values["loss_D/r1"] + 3.0 * values["loss_D/r2"]).item(), rel=1e-6)
    loss, values = gan.g_loss(context(gan.discriminate, real, fake, z=z, gan=gan))
    assert set(values) == {"loss_G/mode_seeking"}
    (grad,) = torch.autograd.grad(loss, fake)
    assert grad.abs().sum() > 0


def test_terms_in_the_wrong_list_twice_named_or_unfit_for_the_gan_are_refused():
    with pytest.raises(ValueError, match="R1 is a term of D's loss but was given in g_terms: move it to d_terms"):
        toy_gan(g_terms=[R1()])
    with pytest.raises(ValueError, match="its own `name`"):
        toy_gan(d_terms=[R1(1.0), R1(2.0)])
    with pytest.raises(ValueError, match="PullingAway needs a netD with an `encoder`"):
        toy_gan(g_terms=[PullingAway()])


def test_objectives_take_d_real_and_d_fake_by_keyword_and_old_names_are_refused_with_the_fix():
    class SwappedNames(Objective):
        def d_loss(self, real_scores, fake_scores):
            return fake_scores.mean() - real_scores.mean()

        def g_loss(self, d_fake, d_real):
            return -d_fake.mean()

    with pytest.raises(ValueError, match=r"SwappedNames.d_loss\(real_scores, fake_scores\) must take the arguments "
                                         r"d_real and d_fake.*rename its arguments to d_loss\(self, d_real, d_fake\)"):  # fmt: skip
        check_keyword_interface(SwappedNames())

    class PositionalButWellNamed(Objective):  # written to the positional interface: still works
        def d_loss(self, d_real, d_fake):
            return d_fake.mean() - d_real.mean()

        def g_loss(self, d_fake, d_real):
            return -d_fake.mean()

    loss = check_keyword_interface(PositionalButWellNamed())
    assert loss.d_loss(d_fake=torch.tensor([1.0]), d_real=torch.tensor([3.0])).item() == -2.0  # not swapped


FORK_TERM = textwrap.dedent('''
    """A fork's own term, outside gan_lightning: the mean squared fake sample, on G."""
    from gan_lightning.terms import Term


    class FakeEnergy(Term):
        name = "fake_energy"
        step = "G"

        def forward(self, ctx):
            return ctx.fake.pow(2).mean()
''')


class TermBatches(Callback):
    """The batches whose ``training_step`` computed each term (its value among the outputs)."""

    def __init__(self) -> None:
        self.batches: dict[str, list[int]] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        for key in outputs:
            if "/" in key:
                self.batches.setdefault(key, []).append(trainer.global_step - 1)


def test_a_forks_term_and_a_lazy_r1_run_from_the_cli_on_their_batches(tmp_path, monkeypatch):
    (tmp_path / "my_terms.py").write_text(FORK_TERM)
    monkeypatch.syspath_prepend(str(tmp_path))
    cli = cli_main(["fit", "--config", f"{CONFIGS}/gaussian2d.yaml", "--trainer.max_steps", "6",
                    "--trainer.log_every_n_steps", "1", "--trainer.logger.init_args.save_dir", str(tmp_path),
                    "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false",
                    "--model.g_terms", '[{"class_path": "my_terms.FakeEnergy", "init_args": {"weight": 0.5}}]',
                    "--model.d_terms", '[{"class_path": "gan_lightning.terms.R1", "init_args": {"weight": 1.0, "every": 4}}]',
                    "--trainer.callbacks+", '{"class_path": "tests.test_terms.TermBatches"}'])  # fmt: skip
    metrics = pd.read_csv(tmp_path / "version_0" / "metrics.csv")
    logged = metrics.dropna(subset=["loss_G/fake_energy"])
    assert list(logged["step"]) == [0, 1, 2, 3, 4, 5] and (logged["loss_G/fake_energy"] > 0).all()
    assert metrics.dropna(subset=["loss_D/r1"])["loss_D/r1"].gt(0).all()
    (computed,) = [c.batches for c in cli.trainer.callbacks if isinstance(c, TermBatches)]
    assert computed == {"loss_G/fake_energy": [0, 1, 2, 3, 4, 5], "loss_D/r1": [0, 4]}  # R1 with every: 4


def test_the_default_experiment_logs_its_r1_term(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = cli_main(["fit", "--config", f"{CONFIGS}/digits_dcgan.yaml", "--trainer.fast_dev_run", "2",
                    "--trainer.enable_progress_bar", "false"])  # fmt: skip
    assert [type(t).__name__ for t in cli.model.d_terms] == ["R1"] and cli.model.d_terms[0].weight == 1.0
    assert cli.trainer.callback_metrics["loss_D/r1"] > 0


def test_a_term_is_a_plain_module_a_fork_can_subclass():
    class Zero(Term):
        name = "zero"

        def forward(self, ctx):
            return torch.zeros(())

    assert Zero(weight=2.0).weight == 2.0 and Zero.step == "D" and "weight=2.0" in repr(Zero(weight=2.0))


def test_ema_update_without_warmup_equals_averaged_models_own_update_value_for_value():
    from torch.optim.swa_utils import AveragedModel

    from gan_lightning.ema import ema_update, make_ema
    from gan_lightning.networks import DCGANGenerator

    torch.manual_seed(0)
    net = DCGANGenerator(8, 1, 16, 4)  # parameters, float buffers and BatchNorm's integer counters
    ours, theirs = make_ema(net, 0.9), make_ema(net, 0.9)
    assert isinstance(theirs, AveragedModel) and theirs.multi_avg_fn is not None
    for _ in range(3):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        net.train()(torch.randn(4, 8))  # moves the running statistics
        ema_update(ours, net, 0.9, warmup=False)
        theirs.update_parameters(net)
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_dcgan_init_finds_layers_inside_a_forks_containers_by_type():
    from gan_lightning.networks.init import dcgan_init

    class ConvBlock(nn.Module):  # a container whose name contains "Conv"
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(64, 64, 3)
            self.norm = nn.BatchNorm2d(64)

    torch.manual_seed(0)
    block = ConvBlock()
    block.apply(dcgan_init)
    assert block.conv.weight.std().item() == pytest.approx(0.02, rel=0.05) and block.conv.bias.abs().sum() == 0
    assert block.norm.weight.mean().item() == pytest.approx(1.0, abs=0.01)


def test_the_network_contract_is_checked_once_with_the_fix():
    from gan_lightning.networks import MLPDiscriminator, MLPGenerator, ResNetDiscriminator

    class NoLatent(nn.Linear):
        pass

    with pytest.raises(ValueError, match="needs an int attribute `latent_dim`"):
        toy_gan(netG=NoLatent(2, 2))
    bad_pack = MLPDiscriminator(in_shape=[2], hidden=[4])
    bad_pack.pack = 0
    with pytest.raises(ValueError, match="pack=0: PacGAN packing is an int >= 1"):
        toy_gan(netD=bad_pack)
    assert ResNetDiscriminator(1, 28, 8, pack=2).pack == 2  # the GAN reads packing from netD
    assert toy_gan(netG=MLPGenerator(2, [2], [4]), netD=MLPDiscriminator([2], [4], pack=2)).pack == 2
