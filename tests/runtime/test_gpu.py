"""`gpu` in the connection info, from whatever nvidia-smi answers (a stand-in here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from colablink_runtime.gpu import detect_gpu


def _stand_in(directory: Path, body: str) -> str:
    smi = directory / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\n{body}\n")
    smi.chmod(0o755)
    return str(directory)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            'echo "NVIDIA A100-SXM4-40GB, 40960"',
            {"name": "NVIDIA A100-SXM4-40GB", "memory_mib": 40960},
        ),
        (
            'printf "Tesla T4, 15360\\nTesla T4, 15360\\n"',
            {"name": "Tesla T4", "memory_mib": 15360},
        ),
        ('echo "Odd GPU, [N/A]"', {"name": "Odd GPU", "memory_mib": None}),
        ('echo "NVIDIA-SMI has failed" >&2; exit 9', None),
        ("exit 0", None),
    ],
)
def test_detect_gpu(tmp_path: Path, body: str, expected: object) -> None:
    assert detect_gpu(_stand_in(tmp_path, body)) == expected


def test_no_nvidia_smi_means_no_gpu(tmp_path: Path) -> None:
    assert detect_gpu(str(tmp_path)) is None
