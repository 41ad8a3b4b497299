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


class ProfileMemory(unittest.TestCase):
    """The label of what a profile's tables may fill, from a simulate JSON of it."""

    def label(self, doc):
        import json
        import tempfile
        import types
        with tempfile.TemporaryDirectory() as d:
            with open(Path(d) / "sim_p_1.json", "w") as f:
                json.dump(doc, f)
            return render.profile_memory(types.SimpleNamespace(data=d), "p")

    def test_a_cpu_names_its_main_memory(self):
        doc = {"hardware": {"tables_in": "device", "device": {"memory_GB": 23.7}}, "table_capacity_GB": 21.33,
               "table_memory": "main memory"}
        self.assertEqual(self.label(doc), (21.33, "usable of 23.7 GB main memory"))

    def test_a_host_counts_whole_and_older_files_name_the_place(self):
        doc = {"hardware": {"tables_in": "host", "host": {"memory_GB": 256.0}, "device": {"memory_GB": 32.0}},
               "table_capacity_GB": 256.0}
        self.assertEqual(self.label(doc), (256.0, "host memory"))


if __name__ == "__main__":
    unittest.main()
