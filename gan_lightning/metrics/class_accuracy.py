"""Per-class accuracy of a conditional generator: the fraction of the samples G makes for class K
that a classifier (the shipped digit classifier by default) assigns to K.

    python -m gan_lightning.metrics.class_accuracy --ckpt_path runs/digits_cdcgan/version_0/checkpoints/last.ckpt

Class coverage (gan_lightning.metrics.classifier) asks whether G makes every class at all; this
asks whether G makes the class it is told to, which only a conditional GAN can be asked.
"""

import argparse

import torch
from torch import Tensor, nn

from gan_lightning.metrics.classifier import load_digit_classifier
from gan_lightning.module import GAN


def class_accuracy(gan: GAN, classifier: nn.Module, samples_per_class: int = 100, seed: int = 0) -> Tensor:
    """(num_classes,) fractions in [0, 1]: entry K is the share of ``samples_per_class`` samples
    G makes for class K (seeded latents, the same for every class) that ``classifier`` puts in K."""
    if gan.num_classes is None:
        raise ValueError("class accuracy needs a conditional GAN (model.num_classes set); this one is unconditional.")
    num_outputs = getattr(classifier, "num_classes", gan.num_classes)
    if num_outputs != gan.num_classes:
        raise ValueError(
            f"The GAN has {gan.num_classes} classes but the classifier {num_outputs}: "
            "give a classifier of the GAN's classes."
        )
    z = gan.draw_latent(samples_per_class, torch.Generator().manual_seed(seed)).repeat(gan.num_classes, 1)
    labels = torch.arange(gan.num_classes).repeat_interleave(samples_per_class)
    predicted = classifier.predict_proba(gan.generate(z, labels=labels).cpu()).argmax(dim=1)
    return (predicted == labels).float().view(gan.num_classes, samples_per_class).mean(dim=1)


def format_class_accuracy(accuracy: Tensor) -> str:
    """One line per class and a last line with the worst class and the mean, for people."""
    lines = [f"class {k}: {a:.1%}" for k, a in enumerate(accuracy.tolist())]
    worst = int(accuracy.argmin())
    return "\n".join([*lines, f"min {accuracy[worst]:.1%} (class {worst}), mean {accuracy.mean():.1%}"])


def main(argv: list[str] | None = None) -> Tensor:
    from gan_lightning.checkpoint import load_gan

    parser = argparse.ArgumentParser(
        prog="python -m gan_lightning.metrics.class_accuracy",
        description="Per-class accuracy of a conditional GAN's samples under the shipped digit classifier.",
    )
    parser.add_argument("--ckpt_path", required=True, help="checkpoint written by `gan-lightning fit`")
    parser.add_argument("--samples_per_class", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="seed of the latents (the same for every class)")
    parser.add_argument("--classifier_path", help="weights of a retrained digit classifier; default: the shipped one")
    args = parser.parse_args(argv)
    try:
        gan, classifier = load_gan(args.ckpt_path), load_digit_classifier(args.classifier_path)
        accuracy = class_accuracy(gan, classifier, args.samples_per_class, args.seed)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"class_accuracy: error: {err}\n")
    print(format_class_accuracy(accuracy))
    return accuracy


if __name__ == "__main__":
    main()
