"""FID/KID, precision/recall/density/coverage and the memorisation ratio during training, logged
under names that carry the protocol (``val/fid_digits_val500_gen5k``: 5,000 generated digits
against the 500 held-out validation digits, digit-classifier features; see docs/metrics.md).

Runs every ``every_n_epochs`` epochs (and/or every ``every_n_batches`` batches) and once more
at the end of fit if the last batch was not evaluated. Values are logged with ``self.log``, so
``ModelCheckpoint(monitor="val/fid_digits_val500_gen5k", mode="min")`` keeps the best generator:
GANs often get worse late in training. ``BestMetricCheckpoint`` does so without spelling the name,
which depends on the data (``logged_name``); configs/callbacks/metrics.yaml stacks both on any
experiment. Under DDP every rank makes its slice of the fakes, the
features are gathered, and every rank logs the same numbers. The protocol is saved in the
callback's state (so in checkpoints) for ``gan-lightning evaluate`` to repeat.
"""

import warnings
from dataclasses import replace
from typing import Literal

from lightning.pytorch import Callback, LightningModule, Trainer

from gan_lightning.callbacks.periodic import log_values
from gan_lightning.metrics.evaluator import DEFAULT_CACHE_DIR, EvalData, GANEvaluator, default_extractor, eval_data
from gan_lightning.metrics.protocol import METRICS, EvalProtocol, ExtractorName
from gan_lightning.module import GAN


class MetricsCallback(Callback):
    """The evaluation protocol (``EvalProtocol``) on the (EMA) generator while training.

    Args:
        extractor: "digits" (the shipped digit classifier; offline, 1-channel digits),
            "inception" (Inception-v3; needs its weights downloaded or ``inception_weights_path``),
            or "auto": chosen from the data at setup (``default_extractor``: digits for 1-channel
            digits, Inception for colour and FashionMNIST), so one config fits every experiment.
        num_samples: generated samples per evaluation (and the most reference samples used).
        metrics: any of "fid", "kid", "prdc" (precision, recall, density, coverage), "memorisation".
        every_n_epochs: evaluate at the end of every n-th epoch (None: never at epoch ends).
        every_n_batches: evaluate every n training batches (None: never mid-epoch).
        at_fit_end: evaluate when fit ends, unless the last step was just evaluated.
        batch_size: images per generator / extractor call.
        cache_dir: where real features are cached on disk (null: memory only).
        kid_subset_size: KID subset size (capped at the sample counts).
        kid_subsets: number of KID subsets (the KID paper's 100 costs ~10 s on 2 CPU cores).
        seed: seed of the real subsets, the latents and the KID subsets.
        inception_weights_path: a local copy of torch-fidelity's Inception-v3 weights
            (``weights-inception-2015-12-05-6726825d.pth``): nothing is downloaded (docs/real_data.md).
    """

    def __init__(
        self,
        extractor: ExtractorName | Literal["auto"] = "digits",
        num_samples: int = 5000,
        metrics: list[str] = list(METRICS),
        every_n_epochs: int | None = 1,
        every_n_batches: int | None = None,
        at_fit_end: bool = True,
        batch_size: int = 500,
        cache_dir: str | None = DEFAULT_CACHE_DIR,
        kid_subset_size: int = 1000,
        kid_subsets: int = 100,
        seed: int = 0,
        inception_weights_path: str | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("every_n_epochs", every_n_epochs), ("every_n_batches", every_n_batches)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or null, got {value}.")
        protocol = EvalProtocol(
            extractor="digits" if extractor == "auto" else extractor, num_samples=num_samples, metrics=tuple(metrics),
            kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, seed=seed,
            inception_weights_path=inception_weights_path,
        )  # checks the arguments now, not after the data is read
        self.auto_extractor = extractor == "auto"
        self._evaluator_args = (protocol, batch_size, cache_dir)
        # a named extractor is built now (Inception without its weights fails here); "auto" at setup
        self.evaluator: GANEvaluator | None = None if self.auto_extractor else GANEvaluator(*self._evaluator_args)
        self.every_n_epochs = every_n_epochs
        self.every_n_batches = every_n_batches
        self.at_fit_end = at_fit_end
        self._last_batch: int | None = None  # total_batch_idx of the last evaluation
        self.history: list[dict[str, float]] = []  # {"batch": n, metric: value, ...} per evaluation, for curves
        self._data: EvalData | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Fail at setup, not after an epoch of training, if the data cannot be evaluated."""
        if not isinstance(pl_module, GAN):
            raise TypeError(f"MetricsCallback needs a gan_lightning GAN module, got {type(pl_module).__name__}.")
        shape = getattr(trainer.datamodule, "sample_shape", None)
        if shape is None:
            raise ValueError("MetricsCallback needs a datamodule with `sample_shape` (the gan_lightning datamodules).")
        if self.evaluator is None:  # "auto": Inception for colour, digits for 1-channel (and for non-images, to refuse them)
            protocol, batch_size, cache_dir = self._evaluator_args
            name = default_extractor(trainer.datamodule) if len(tuple(shape)) == 3 else "digits"
            self.evaluator = GANEvaluator(replace(protocol, extractor=name), batch_size, cache_dir)
        self.evaluator.check_data(tuple(shape))
        self._data = eval_data(trainer.datamodule)  # a missing held-out split fails here, not after an epoch
        if self._data.note and trainer.is_global_zero:
            warnings.warn(f"MetricsCallback: {self._data.note}", stacklevel=2)

    @property
    def last_evaluated_batch(self) -> int | None:
        """``trainer.fit_loop.total_batch_idx`` at the last evaluation (None: none yet)."""
        return self._last_batch

    def logged_name(self, metric: str) -> str:
        """The name ``metric`` ("fid", "kid", "precision", ..., "memorisation") is logged under in
        this run, e.g. ``val/fid_digits_val500_gen5k``; it depends on the data, so it is known from setup on."""
        if self.evaluator is None or self._data is None:
            raise RuntimeError("MetricsCallback.logged_name is known once fit has set the callback up (it depends on the data).")
        names = self.evaluator.metric_names(self._data)
        if metric not in names:
            raise ValueError(
                f"MetricsCallback logs {sorted(names)} in this run, not {metric!r}: add it to the callback's metrics "
                "(fid; kid; prdc for precision, recall, density, coverage; memorisation needs a held-out split)."
            )
        return names[metric]

    def evaluate(self, trainer: Trainer, pl_module: GAN) -> dict[str, float]:
        """Compute the metrics on every rank (fakes are gathered) and remember the batch."""
        values = self.evaluator.evaluate(pl_module, self._data, trainer.global_rank, trainer.world_size)
        self._last_batch = trainer.fit_loop.total_batch_idx
        self.history.append({"batch": self._last_batch + 1, **values})
        return values

    def on_train_batch_end(self, trainer: Trainer, pl_module: GAN, *args: object) -> None:
        n = self.every_n_batches
        if n is not None and (trainer.fit_loop.total_batch_idx + 1) % n == 0:
            log_values(trainer, self.evaluate(trainer, pl_module))

    def on_train_epoch_end(self, trainer: Trainer, pl_module: GAN) -> None:
        n = self.every_n_epochs
        if n is not None and (trainer.current_epoch + 1) % n == 0 and trainer.fit_loop.total_batch_idx != self._last_batch:
            # identical on every rank: sync_dist averages equal numbers (and spares Lightning's warning)
            pl_module.log_dict(self.evaluate(trainer, pl_module), sync_dist=True)

    def on_train_end(self, trainer: Trainer, pl_module: GAN) -> None:
        if self.at_fit_end and trainer.fit_loop.total_batch_idx != self._last_batch:
            log_values(trainer, self.evaluate(trainer, pl_module))

    def state_dict(self) -> dict:
        """The protocol, saved in checkpoints so that ``gan-lightning evaluate`` can repeat it."""
        return {} if self.evaluator is None else self.evaluator.protocol.to_dict()
