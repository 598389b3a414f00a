"""Durations, bitrates and path names: parsed as MediaMTX reads them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.api.units import (
    check_path_name,
    format_duration,
    normalize_duration,
    parse_bitrate,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1h", "1h0m0s"),
        ("7d", "7d"),
        ("30s", "30s"),
        ("90m", "1h30m0s"),
        ("1d12h", "1d12h0m0s"),
        ("500ms", "500ms"),
        ("1.5s", "1.5s"),
        ("0s", "0s"),
        ("0", "0s"),
        ("24h", "1d"),
    ],
)
def test_durations_take_mediamtx_canonical_form(text: str, canonical: str) -> None:
    assert normalize_duration(text) == canonical


@pytest.mark.parametrize("text", ["", "1", "h", "1x", "1h 2m", "-1h", "1hh"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=400 * 86_400_000_000_000))
def test_formatted_durations_parse_back(nanos: int) -> None:
    assert parse_duration(format_duration(nanos)) == nanos


@pytest.mark.parametrize(
    ("text", "bits"), [("2M", 2_000_000), ("800k", 800_000), ("1.5M", 1_500_000), (64000, 64000)]
)
def test_bitrates(text: str | int, bits: int) -> None:
    assert parse_bitrate(text) == bits


@pytest.mark.parametrize("text", ["", "2X", "0", "fast", "-1M"])
def test_bad_bitrates(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bitrate(text)


@pytest.mark.parametrize("name", ["cams/front-door", "a", "A_b.c-d/e"])
def test_valid_path_names(name: str) -> None:
    assert check_path_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("/cams", "slash"),
        ("cams/", "slash"),
        ("cams//x", "empty segment"),
        ("~^cam.*$", "only alphanumeric"),
        ("cam door", "only alphanumeric"),
        ("all_others", "reserved"),
        ("cams/../x", "reserved"),
    ],
)
def test_path_names_mediamtx_refuses(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_path_name(name)
