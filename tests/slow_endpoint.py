"""An endpoint analysis that takes long and leaves a mark when it finishes: lets a test check that
a run stops its other workers when one fails (imported by name in a worker process)."""

import os
import time
from pathlib import Path


def analyse(loaded, key: str, *, seed: int, allow_failed: bool):
    time.sleep(20)
    Path(os.environ["REANALYSIS_TEST_MARK"]).write_text("finished")
    raise RuntimeError("the slow test endpoint should have been stopped")
