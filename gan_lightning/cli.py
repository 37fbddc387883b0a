"""Command line: ``gan-lightning fit|validate|test|predict --config X.yaml`` through LightningCLI,
plus ``gan-lightning sample`` (and ``evaluate``), which are not Trainer methods and so are
dispatched here before the LightningCLI sees the arguments."""

import inspect
import os
import sys
from pathlib import Path

from lightning.pytorch import LightningDataModule
import torch.distributed as dist
import yaml
from jsonargparse import Namespace
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI, SaveConfigCallback

from gan_lightning.callbacks.interrupt import InterruptCheckpoint
from gan_lightning.checkpoint import check_resumable, find_resume_checkpoint, import_class, read_checkpoint
from gan_lightning.module import GAN
from gan_lightning.shape_check import fit_to_data_shape

PROGRESS_BAR_REFRESH = 20  # batches per progress-bar refresh under `gan-lightning fit`
# What every experiment shares (logger, checkpoints, trainer settings), read before the --config
# files, which override it; in a clone of the repository, next to the experiment configs.
BASE_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "base.yaml"
TRAINER_SUBCOMMANDS = ("fit", "validate", "test", "predict")


class SaveAndLogConfig(SaveConfigCallback):
    """Write config.yaml to the run folder (Lightning's part) and log the whole resolved config
    to every logger, so that W&B can filter and group runs by any setting, trainer's included."""

    def save_config(self, trainer, pl_module, stage: str) -> None:
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        config.pop("config", None)  # the --config file names, not settings
        for logger in trainer.loggers:
            logger.log_hyperparams(config)


def networks_from_data_shape(config: Namespace) -> None:
    """Set the networks' ``channels``/``image_size`` (or ``in_shape``/``out_shape``) from the
    image data's sample shape, so that a data fragment alone changes the image size.

    The datamodule is built once here to read its ``sample_shape`` (which the image datamodules
    know without reading any data); ``shape_check.fit_to_data_shape`` fills each network.
    """
    data = config.get("data")
    if not isinstance(data, Namespace) or "image_size" not in (data.get("init_args") or {}):
        return  # not image data (e.g. 2-D points): the networks' shapes stay as written
    shape = tuple(import_class(data.class_path)(**data.init_args.as_dict()).sample_shape)
    model = config.model.get("init_args") or config.model  # subclass mode: class_path + init_args
    for name in ("netG", "netD"):
        net = model.get(name)
        if isinstance(net, Namespace) and net.get("init_args") is not None:
            filled = fit_to_data_shape(import_class(net.class_path), net.init_args.as_dict(), shape, f"model.{name}")
            for key, value in filled.items():
                net.init_args[key] = value


def networks_from_num_classes(config: Namespace) -> None:
    """Copy ``model.num_classes`` to netG's and netD's ``num_classes``, so that a conditional
    config sets it once, on the GAN (which also needs it: labels, fixed class grid). A network
    value that disagrees is refused, as for the image shape."""
    model = config.model.get("init_args") or config.model
    num_classes = model.get("num_classes")
    for name in ("netG", "netD"):
        net = model.get(name)
        if not isinstance(net, Namespace) or net.get("init_args") is None:
            continue
        if "num_classes" not in inspect.signature(import_class(net.class_path)).parameters:
            if num_classes is not None:
                raise ValueError(
                    f"model.num_classes is {num_classes} but {net.class_path} takes no num_classes: it cannot "
                    "be conditioned; choose a network that can or set model.num_classes: null."
                )
            continue
        value = net.init_args.get("num_classes")
        if value is not None and value != num_classes:
            raise ValueError(
                f"model.{name}.init_args.num_classes is {value} but model.num_classes is {num_classes}: "
                "set num_classes once, on the model (the CLI copies it to the networks)."
            )
        net.init_args["num_classes"] = num_classes


class GANCLI(LightningCLI):
    """LightningCLI that reads configs/base.yaml first, takes the networks' image shape from the
    data, and checks ``--ckpt_path`` before anything is built or trained."""

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        try:
            networks_from_data_shape(config)
            networks_from_num_classes(config)
        except ValueError as err:
            sys.exit(f"gan-lightning {self.subcommand}: error: {err}")

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        """Refuse a missing, truncated or foreign checkpoint file with one clear line.

        LightningCLI itself ``torch.load``s the file right after parsing (to take the model's
        hyperparameters from it), which would fail with a raw zip or pickle error.
        """
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path is None or ckpt_path in ("last", "best", "hpc") or str(ckpt_path).startswith("registry"):
            return
        try:
            read_checkpoint(ckpt_path)
        except (FileNotFoundError, ValueError) as err:
            sys.exit(f"gan-lightning {subcommand}: error: {err}")

    def before_fit(self) -> None:
        """Resolve ``--ckpt_path last`` over earlier versions of this run; load with ``weights_only=True``.

        Lightning looks for ``last`` only in the new run's (empty) version folder and would start
        over; the file found here must fit the model that this config builds.
        """
        config = self.config_init[self.subcommand]
        if config.get("weights_only") is None:
            config["weights_only"] = True
        if config.get("ckpt_path") != "last" or (found := find_resume_checkpoint(self.trainer)) is None:
            return  # with nothing to resume, Lightning warns and starts a new run
        try:
            check_resumable(found, self.model)
        except (FileNotFoundError, ValueError) as err:
            sys.exit(f"gan-lightning fit: error: {err}")
        config["ckpt_path"] = str(found)
        if self.trainer.is_global_zero:
            print(f"gan-lightning fit: resuming from {found}", file=sys.stderr)


def cli_main(args: list[str] | None = None, run: bool = True) -> LightningCLI:
    """The LightningCLI: the GAN with networks, optimizers and datamodule chosen in YAML.

    ``run=False`` builds the model, data and Trainer from ``args`` without a subcommand and runs
    nothing (for scripts that time or drive ``trainer.fit`` themselves); configs/base.yaml is
    read first either way. The progress bar refreshes every 20 batches (Lightning reads
    ``TQDM_MINITERS``; set it to 1 to refresh every batch): a refresh formats every logged value
    and costs about as much as a small GAN's whole step on a CPU (benchmarks/step_overhead.py).
    """
    os.environ.setdefault("TQDM_MINITERS", str(PROGRESS_BAR_REFRESH))
    base = {"default_config_files": [str(BASE_CONFIG)]}
    return GANCLI(
        GAN,
        LightningDataModule,
        subclass_mode_model=True,  # `model: {class_path: my_project.MyGAN}` runs a fork's subclass
        subclass_mode_data=True,
        save_config_callback=SaveAndLogConfig,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={"callbacks": [InterruptCheckpoint()]},
        args=args,
        run=run,
        parser_kwargs={
            "description": "Train and test GANs. Every argument can be set in a YAML --config.",
            **({sub: base for sub in TRAINER_SUBCOMMANDS} if run else base),
        },
    )


def main(args: list[str] | None = None) -> None:
    argv = sys.argv[1:] if args is None else args
    if argv and argv[0] == "sample":
        from gan_lightning.sample import sample_main

        sample_main(argv[1:])
        return
    if argv and argv[0] == "evaluate":
        from gan_lightning.evaluate import evaluate_main

        evaluate_main(argv[1:])
        return
    try:
        cli_main(args)
    finally:
        close_process_group()


def close_process_group() -> None:
    """Destroy the process group a distributed run opened, while Python is still whole.

    Lightning destroys only NCCL groups at exit. A gloo group (CPU DDP, torchrun's nodes) left
    to interpreter shutdown can abort the process ("terminate called without an active
    exception", SIGABRT) after training finished, failing the node and keeping torchrun's other
    nodes at their exit barrier.
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
