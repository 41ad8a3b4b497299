#!/usr/bin/env python3
"""Unit tests of tools/report/render_report.py's reading of simulate's outputs: the memory a misfit's
note names, in both of its forms. Exit 77 (skipped) without matplotlib, which the renderer imports."""

import importlib.util
import sys
import unittest
from pathlib import Path

try:
    import matplotlib  # noqa: F401
except ImportError:
    print("skipped: python3-matplotlib is not installed")
    sys.exit(77)

spec = importlib.util.spec_from_file_location(
    "render_report", Path(__file__).resolve().parents[2] / "tools" / "report" / "render_report.py")
render = importlib.util.module_from_spec(spec)
spec.loader.exec_module(render)


class MemoryOfNote(unittest.TestCase):
    def test_a_device_names_its_usable_share(self):
        note = ("76.8 GB of tables with their per-row state (2.4 GB, cuda kernels), 79.2 GB in all, exceed 72 GB "
                "usable of h100-sxm's 80 GB of device memory; the prediction assumes it were large enough")
        self.assertEqual(render.memory_of_note(note), "72 GB usable of 80 GB of device memory")

    def test_a_host_names_its_whole_memory(self):
        note = ("192.3 GB of tables with their materialized noise (192.3 GB, the framework implementation), 384.5 GB "
                "in all, exceed v100-xeon-e5-2698v4's 256 GB of host memory; the prediction assumes it were large "
                "enough")
        self.assertEqual(render.memory_of_note(note), "256 GB of host memory")

    def test_no_note(self):
        self.assertEqual(render.memory_of_note(None), "memory")


if __name__ == "__main__":
    unittest.main()
