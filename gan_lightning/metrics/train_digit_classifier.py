"""Reproduce the shipped digit classifier: ``python -m gan_lightning.metrics.train_digit_classifier``.

Trains ``DigitClassifier`` on the ``train`` split of the shipped digits (3,500, 350 per class;
``gan_lightning.data.digits.split_indices``; it never sees the ``val`` or ``test`` digits) at 32 px, with small random shifts so that it also
judges slightly off-centre GAN digits, reports its accuracy on the ``test`` split (the 1,000
held out, 100 per class, that GAN metrics use as reference), and writes
``gan_lightning/assets/digit_classifier.pt``. Seeded: the same command writes the same weights.
A plain loop: the model is tiny and trains in about a minute on a CPU.
"""

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from gan_lightning.data.digits import load_shipped_digits, split_indices
from gan_lightning.metrics.classifier import DIGIT_CLASSIFIER_PATH, DigitClassifier


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Shift each image by up to ``max_shift`` pixels in x and y, padding with background (-1)."""
    n, _, h, w = x.shape
    padded = F.pad(x, [max_shift] * 4, value=-1.0)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


@torch.no_grad()
def accuracy(model: DigitClassifier, x: Tensor, y: Tensor) -> float:
    return (model.predict_proba(x).argmax(dim=1) == y).float().mean().item()


def train(image_size: int = 32, epochs: int = 12, batch_size: int = 64, lr: float = 2e-3, seed: int = 0) -> tuple[DigitClassifier, float]:
    """Train on the ``train`` split; return the model (eval mode) and its ``test`` split accuracy."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    images, labels = load_shipped_digits(image_size)
    split = split_indices(labels)  # the fixed split, whatever the training seed
    train_idx, test_idx = split["train"], split["test"]
    model = DigitClassifier(image_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * (len(train_idx) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    model.train()
    for epoch in range(epochs):
        order = train_idx[torch.randperm(len(train_idx), generator=generator)]
        for batch in order.split(batch_size)[: len(train_idx) // batch_size]:
            x = random_shift(images[batch], max(1, image_size // 16), generator)
            loss = F.cross_entropy(model.logits(x), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}, test accuracy "
              f"{accuracy(model, images[test_idx], labels[test_idx]):.4f}")
    model.eval()
    return model, accuracy(model, images[test_idx], labels[test_idx])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(DIGIT_CLASSIFIER_PATH), help="where to write the weights")
    parser.add_argument("--image_size", type=int, default=32, help="side the classifier is trained at")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    model, test_accuracy = train(args.image_size, args.epochs, seed=args.seed)
    widths = [m.out_channels for m in model.features if isinstance(m, torch.nn.Conv2d)]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": model.state_dict(),
            "image_size": args.image_size,
            "widths": widths,
            "num_classes": model.num_classes,
            "test_accuracy": test_accuracy,
        },
        args.output,
    )
    print(f"test-split accuracy {test_accuracy:.4f} on 1,000 digits; wrote {args.output}")


if __name__ == "__main__":
    main()
