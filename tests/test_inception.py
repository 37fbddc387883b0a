"""The Inception path, checked without the real weights (they cannot be downloaded here).

torch-fidelity's Inception-v3 with random weights, saved to a file, is loaded both by our
extractor (torchmetrics' NoTrainInceptionV3 with ``inception_weights_path``) and by
torch-fidelity itself. On 299 px images, where neither resizes, our FID must equal
torch-fidelity's own FID. On smaller images the two resizes differ (documented in
docs/metrics.md): ours is torch's bilinear with half-pixel centres and antialiasing, theirs
TF1's bilinear; the resize check below pins which is which.
"""

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from gan_lightning.data.digits import load_shipped_digits
from gan_lightning.metrics.fid import InceptionExtractor, fid_kid
from tests.helpers import write_random_inception_weights


class UInt8RGB(Dataset):
    """What torch-fidelity reads: uint8 (3, H, W) tensors."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i].expand(3, -1, -1)


@pytest.fixture(scope="module")
def random_inception_weights(tmp_path_factory) -> str:
    """torch-fidelity's Inception-v3 with seeded random weights, saved as a weights file."""
    return str(write_random_inception_weights(tmp_path_factory.mktemp("inception") / "random_inception.pth"))


@pytest.mark.slow  # ~30 s on 2 free CPU cores: 32 Inception forward passes at 299 px
@pytest.mark.filterwarnings("ignore:FID from 8 samples")  # rank-deficient on purpose: only agreement matters
def test_our_inception_fid_equals_torch_fidelitys_on_299px_images(random_inception_weights):
    import torch_fidelity

    digits = load_shipped_digits(28)[0][:16]
    big = F.interpolate(digits, size=(299, 299), mode="bilinear")
    u8 = ((big.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # (16, 1, 299, 299)
    real, fake = u8[:8], u8[8:]

    extractor = InceptionExtractor(random_inception_weights).eval()
    with torch.no_grad():  # our extractor takes data space [-1, 1] and maps it back to these uint8 values
        ours = fid_kid(extractor(real.float() / 127.5 - 1), extractor(fake.float() / 127.5 - 1), ("fid",))["fid"]
    theirs = torch_fidelity.calculate_metrics(
        input1=UInt8RGB(fake), input2=UInt8RGB(real), fid=True, feature_extractor="inception-v3-compat",
        feature_extractor_weights_path=random_inception_weights, cuda=False, cache=False, verbose=False, batch_size=8,
        save_cpu_ram=True,  # no DataLoader worker processes
    )["frechet_inception_distance"]
    assert theirs > 0 and ours == pytest.approx(theirs, rel=1e-3)


def test_our_resize_is_torch_bilinear_not_tf1s():
    """Upsampling (digits to 299 px): antialiasing changes nothing, half-pixel centres do."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = load_shipped_digits(28)[0][:2].expand(-1, 3, -1, -1) * 127.5 + 127.5
    ours = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False, antialias=True)  # torchmetrics'
    assert torch.allclose(ours, F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False), atol=1e-3)
    tf1 = interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)  # torch-fidelity's
    assert (ours - tf1).abs().max() > 10  # grey levels out of 255: not the same resize
