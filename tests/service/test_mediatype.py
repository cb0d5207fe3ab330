"""A document's media type: type/subtype with optional parameters, nothing else."""

from __future__ import annotations

import mimetypes

import pytest

from casework.service.mediatype import media_type_problem


@pytest.mark.parametrize("text", [
    "application/pdf", "image/svg+xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text/plain; charset=utf-8", "text/plain;charset=UTF-8", 'multipart/mixed; boundary="a b;c"',
    "text/plain; charset=utf-8; format=flowed",
])
def test_a_media_type_is_taken(text: str) -> None:
    assert media_type_problem(text) is None


@pytest.mark.parametrize("text", [
    "not a type", "pdf", "text/", "/plain", "text/plain/x", "text /plain", "text/plain;", "text/plain; charset",
    "text/plain; charset=utf 8", "text/plain; =x", 'text/plain; a="open', "tëxt/plain", "text/plain\n",
    "-text/plain", "a/" + "b" * 128,
])
def test_anything_else_is_refused_saying_what_it_should_be(text: str) -> None:
    problem = media_type_problem(text)
    assert problem is not None and "is not a media type: give type/subtype" in problem
    assert "\n" not in problem


def test_every_type_the_cli_guesses_from_a_name_is_taken() -> None:
    mimetypes.init()
    guessed = {*mimetypes.types_map.values(), *mimetypes.common_types.values()}
    assert [t for t in sorted(guessed) if media_type_problem(t)] == []
