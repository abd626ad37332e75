"""Test collection: quanta.nn's modules import torch, an optional dependency.

Without torch (``pip install quanta`` alone) their doctests are not collected;
the tests under tests/nn skip themselves with ``pytest.importorskip("torch")``.
"""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("torch") else ["src/quanta/nn/*.py"]
