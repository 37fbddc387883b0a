"""The EMA G's warm-up against a plain decay: benchmarks/seeds.py with the warm-up switched off.

``GAN`` updates its EMA G with ``ema.ema_update(..., warmup=True)``: update n uses decay
min(decay, (1 + n) / (10 + n)). With ``--no_warmup`` this script runs the same seeds.py command
with the plain decay from the first update, so that the two can be compared over seeds and along
training (``--track_every``)::

    python benchmarks/seeds.py configs/digits_dcgan.yaml --seeds 3 --track_every 500 --out runs/warmup.json
    python benchmarks/ema_warmup.py --no_warmup configs/digits_dcgan.yaml --seeds 3 --track_every 500 --out runs/plain.json

Every other argument is seeds.py's.
"""

import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import seeds  # noqa: E402

from gan_lightning import ema, sampling  # noqa: E402


def main(argv: list[str] | None = None) -> list[dict]:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--no_warmup" in argv:
        if "--parallel" in argv:
            raise SystemExit("--no_warmup patches this process: leave out --parallel (its workers would warm up).")
        argv.remove("--no_warmup")
        sampling.ema_update = functools.partial(ema.ema_update, warmup=False)  # what update_ema calls
    return seeds.main(argv)


if __name__ == "__main__":
    main()
