"""Command line: ``gan-lightning fit|validate|test|predict --config X.yaml`` through LightningCLI,
plus ``gan-lightning sample`` (and ``evaluate``), which are not Trainer methods and so are
dispatched here before the LightningCLI sees the arguments."""

import os
import sys

from lightning.pytorch import LightningDataModule
import yaml
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI, SaveConfigCallback

from gan_lightning.callbacks.interrupt import InterruptCheckpoint
from gan_lightning.module import GAN

PROGRESS_BAR_REFRESH = 20  # batches per progress-bar refresh under `gan-lightning fit`


class SaveAndLogConfig(SaveConfigCallback):
    """Write config.yaml to the run folder (Lightning's part) and log the whole resolved config
    to every logger, so that W&B can filter and group runs by any setting, trainer's included."""

    def save_config(self, trainer, pl_module, stage: str) -> None:
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        config.pop("config", None)  # the --config file names, not settings
        for logger in trainer.loggers:
            logger.log_hyperparams(config)


class GANCLI(LightningCLI):
    """LightningCLI that checks ``--ckpt_path`` before anything is built or trained."""

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        """Refuse a missing, truncated or foreign checkpoint file with one clear line.

        LightningCLI itself ``torch.load``s the file right after parsing (to take the model's
        hyperparameters from it), which would fail with a raw zip or pickle error.
        """
        from gan_lightning.checkpoint import read_checkpoint

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
        from gan_lightning.checkpoint import check_resumable, find_resume_checkpoint

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


def cli_main(args: list[str] | None = None) -> LightningCLI:
    """The LightningCLI: the GAN with networks, optimizers and datamodule chosen in YAML.

    The progress bar refreshes every 20 batches (Lightning reads ``TQDM_MINITERS``; set it to 1
    to refresh every batch): a refresh formats every logged value and costs about as much as a
    small GAN's whole step on a CPU (benchmarks/step_overhead.py).
    """
    os.environ.setdefault("TQDM_MINITERS", str(PROGRESS_BAR_REFRESH))
    return GANCLI(
        GAN,
        LightningDataModule,
        subclass_mode_data=True,
        save_config_callback=SaveAndLogConfig,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={"callbacks": [InterruptCheckpoint()]},
        args=args,
        parser_kwargs={"description": "Train and test GANs. Every argument can be set in a YAML --config."},
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
    cli_main(args)


if __name__ == "__main__":
    main()
