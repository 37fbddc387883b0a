"""The protocol tells a trained generator from an untrained one, on fidelity and diversity apart.

Slow: precision and recall on the digit classifier's features stay at 0 until samples are
clean digits. Measured on configs/digits_dcgan.yaml's settings (1,000 samples): after 500
batches FID 46 but precision = recall = 0 (the nearest fake is ~2x a real k-NN radius away);
after 750 batches FID 10, precision 0.21, recall 0.14. So no run under ~40 s can pass this.
"""

import pytest
import torch
from lightning.pytorch import seed_everything

from gan_lightning.data import ShippedDigitsDataModule
from gan_lightning.metrics.evaluator import GANEvaluator, eval_data
from gan_lightning.metrics.protocol import EvalProtocol
from gan_lightning.module import GAN
from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator
from gan_lightning.networks.init import NetworkSetup
from gan_lightning.terms import R1
from tests.conftest import learning_seed
from tests.helpers import quiet_trainer


@pytest.mark.slow  # 800 DCGAN batches: ~2 min on 2 free cores (estimated from 0.15 s/batch); 10.5 min measured on busy ones
@pytest.mark.learning
@pytest.mark.filterwarnings("ignore:FID from")
def test_800_batches_give_precision_and_recall_an_untrained_generator_lacks(record_learning):
    seed_everything(learning_seed(0))
    adam = lambda params: torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))  # noqa: E731
    gan = GAN(DCGANGenerator(64, 1, 32, 32), DCGANDiscriminator(1, 32, 32), optimizer_G=adam, optimizer_D=adam,
              d_terms=[R1(weight=1.0)], ema_decay=0.999, network_setup=NetworkSetup(weight_init="dcgan"))  # the default experiment's model
    datamodule = ShippedDigitsDataModule(image_size=32, batch_size=64, reference="test")  # 1,000 references
    evaluator = GANEvaluator(EvalProtocol(num_samples=1000, metrics=("prdc",)), cache_dir=None)
    data = eval_data(datamodule)
    untrained = evaluator.evaluate(gan, data)
    quiet_trainer(max_steps=800).fit(gan, datamodule)  # batches
    trained = evaluator.evaluate(gan, data)
    record_learning(seed=learning_seed(0), untrained=untrained, trained=trained)
    for metric in ("precision", "recall"):
        name = f"val/{metric}_digits_test1k_gen1k"
        assert trained[name] > untrained[name] + 0.05, (metric, untrained[name], trained[name])
