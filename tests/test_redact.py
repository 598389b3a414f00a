"""One redact() for every output: user names and passwords of URLs never show."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from controller.kit.redact import redact

SCHEMES = ["rtsp", "rtsps", "rtmp", "rtmps", "srt", "http", "https"]


def test_the_cases_that_once_had_three_answers() -> None:
    assert redact("rtsp://admin:s3cr3t@cam") == "rtsp://<redacted>@cam"
    assert redact("rtsp://admin@cam/x") == "rtsp://<redacted>@cam/x"
    assert redact("rtsp://u:p@ss@h/x and rtsp://h2/y") == "rtsp://<redacted>@h/x and rtsp://h2/y"
    assert redact("srt://h:9000?streamid=a&passphrase=sesame") == (
        "srt://h:9000?streamid=a&passphrase=<redacted>"
    )
    assert redact({"a": ["rtsp://x:y@h", 3], "b": ("rtsp://h",)}) == {
        "a": ["rtsp://<redacted>@h", 3],
        "b": ["rtsp://h"],
    }
    assert redact("mailto:a@b, http://h/path@x") == "mailto:a@b, http://h/path@x"


secrets = st.text(
    alphabet=st.characters(blacklist_characters="/?# \t\n\r", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=20,
)


@given(st.sampled_from(SCHEMES), secrets, secrets, st.text(max_size=20))
def test_no_user_or_password_survives(scheme: str, user: str, password: str, around: str) -> None:
    text = f"{around} {scheme}://{user}:{password}@camera.local:554/live {around}"
    shown = redact(text)
    assert f"{user}:{password}@" not in shown
    assert f"{scheme}://<redacted>@camera.local:554/live" in shown
