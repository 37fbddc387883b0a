"""Per-class accuracy: the function's arithmetic on a generator that paints its label, and the
callback's logged values."""

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import seed_everything
from torch import Tensor, nn

from gan_lightning.callbacks.class_accuracy import ClassAccuracy
from gan_lightning.metrics.class_accuracy import class_accuracy, format_class_accuracy
from gan_lightning.latent import Latent
from gan_lightning.module import GAN
from gan_lightning.networks import MLPDiscriminator
from tests.helpers import quiet_trainer
from tests.test_conditional import TwoClassData


class LabelPainter(nn.Module):
    """G(z, y): a 16 px image filled with y (z only adds noise to one pixel)."""

    latent_dim, num_classes = 4, 3

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        x = labels.float().view(-1, 1, 1, 1).expand(-1, 1, 16, 16).clone() * self.scale
        x[:, 0, 0, 0] += 0.01 * z[:, 0]
        return x


class ReadsAllButClassTwo(nn.Module):
    """Reads the painted label back, but calls every 2 a 0; half the 1s with z[0] > 0 a 0 too."""

    num_classes = 3

    def predict_proba(self, x: Tensor) -> Tensor:
        painted = x[:, 0, 1, 1].round().long()
        guess = torch.where((painted == 2) | ((painted == 1) & (x[:, 0, 0, 0] > 1)), 0, painted)
        return F.one_hot(guess, 3).float()


def painter_gan() -> GAN:
    return GAN(LabelPainter(), MLPDiscriminator([1, 16, 16], [4], num_classes=3), num_classes=3, latent=Latent(num_fixed=6))


def test_class_accuracy_is_the_share_of_each_class_read_back_as_that_class():
    gan = painter_gan()
    accuracy = class_accuracy(gan, ReadsAllButClassTwo(), samples_per_class=400, seed=0)
    z = gan.draw_latent(400, torch.Generator().manual_seed(0))  # the same latents for every class
    assert accuracy[0] == 1.0 and accuracy[2] == 0.0
    assert accuracy[1].item() == pytest.approx((z[:, 0] <= 0).float().mean().item())
    assert 0.4 < accuracy[1] < 0.6
    text = format_class_accuracy(torch.tensor([1.0, 0.5, 0.0]))
    assert text.splitlines() == ["class 0: 100.0%", "class 1: 50.0%", "class 2: 0.0%", "min 0.0% (class 2), mean 50.0%"]


def test_class_accuracy_refuses_unconditional_gans_and_other_class_counts():
    from tests.helpers import toy_gan

    with pytest.raises(ValueError, match="needs a conditional GAN"):
        class_accuracy(toy_gan(), ReadsAllButClassTwo())
    classifier = ReadsAllButClassTwo()
    classifier.num_classes = 10
    with pytest.raises(ValueError, match="The GAN has 3 classes but the classifier 10"):
        class_accuracy(painter_gan(), classifier)


def test_callback_logs_every_class_the_worst_and_the_mean():
    seed_everything(0)
    callback = ClassAccuracy(every_n_batches=2, samples_per_class=50, classifier=ReadsAllButClassTwo())
    trainer = quiet_trainer(max_steps=4, callbacks=[callback])
    trainer.fit(painter_gan(), TwoClassData(batch_size=8))
    assert [h["batch"] for h in callback.history] == [2, 4]
    last = callback.history[-1]
    assert last["class_accuracy/0"] == 1.0 and last["class_accuracy/2"] == 0.0 and last["class_accuracy_min"] == 0.0
    assert last["class_accuracy_mean"] == pytest.approx((1.0 + last["class_accuracy/1"]) / 3)
    assert trainer.callback_metrics["class_accuracy_min"] == 0.0


def test_callback_on_an_unconditional_gan_says_to_set_num_classes():
    from tests.helpers import toy_data, toy_gan

    with pytest.raises(ValueError, match="needs a conditional GAN: set model.num_classes"):
        quiet_trainer(max_steps=2, callbacks=[ClassAccuracy(classifier=ReadsAllButClassTwo())]).fit(toy_gan(), toy_data())
