"""shared.memory: estimates by part, what is available, the refusal's one line."""

from __future__ import annotations

import pytest
import torch

from shared.memory import Estimate, activation_floats, available_bytes, check_fits, size_text


def test_size_text_reads_like_a_person_would_write_it() -> None:
    assert size_text(1.76e14) == "176 TB" and size_text(2.3e10) == "23 GB"
    assert size_text(1.3e15) == "1.3 PB" and size_text(5.5e6) == "5.5 MB"


def test_an_estimate_totals_its_parts_and_names_the_settings_of_the_largest() -> None:
    e = Estimate()
    e.add("grams", 9e12, ("filters",))
    e.add("spectrograms", 5e11, ("seconds",), host=True)
    e.add("history", 1e6, ("window_frames",))
    assert e.total() == pytest.approx(9.500001e12)
    assert e.total("host") == pytest.approx(5e11) and e.total("device") == pytest.approx(9.00001e12)
    assert e.culprits() == ["filters"] and e.culprits("host") == ["seconds"]


def test_check_fits_refuses_in_one_line_naming_need_room_and_settings() -> None:
    e = Estimate()
    e.add("spectrograms", 1.76e14, ("seconds",))
    e.add("filters", 1e9, ("filters",))
    with pytest.raises(ValueError) as info:
        check_fits(e, "cpu", "seconds 1e+09 with filters 64", available={"host": int(23e9)})
    assert str(info.value) == ("needs about 176 TB of memory for seconds 1e+09 with filters 64; "
                               "23 GB available: lower seconds")
    check_fits(e, "cpu", "x", available={"host": int(1e15)})  # fits: no error
    check_fits(e, "cpu", "x", available={"host": None})  # unknown: no refusal


def test_on_cuda_device_and_host_are_checked_apart() -> None:
    e = Estimate()
    e.add("features", 3e9, ("filters",))
    e.add("spectrograms", 3e9, ("seconds",), host=True)
    with pytest.raises(ValueError, match="of cuda:0 memory .* lower filters"):
        check_fits(e, torch.device("cuda:0"), "x", available={"device": int(2e9), "host": int(1e12)})
    with pytest.raises(ValueError, match="of host memory .* lower seconds"):
        check_fits(e, torch.device("cuda:0"), "x", available={"device": int(1e12), "host": int(2e9)})


def test_available_bytes_is_positive_on_this_machine() -> None:
    free = available_bytes("cpu")
    assert free is not None and free > 2**20


def test_activation_floats_counts_every_leaf_output_of_a_forward_pass() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(4, 2, 1))
    x = torch.zeros(2, 3, 8, 8)
    assert activation_floats([net], lambda: net(x)) == 2 * 64 * (4 + 4 + 2)
