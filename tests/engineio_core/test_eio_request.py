"""Tests for engineio_core.request's query parsing: ``parse_query`` against the stdlib.

``HTTPRequest.query`` must be what ``urllib.parse.parse_qsl(..., keep_blank_values=True)``
gives, first value of each name; a query without ``%`` or ``+`` takes a shorter way there.
"""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_core.request import HTTPRequest, parse_query


def reference(query_string: str) -> dict[str, str]:
    query: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(query_string, keep_blank_values=True):
        query.setdefault(name, value)
    return query


@pytest.mark.parametrize(
    "query_string",
    [
        "",
        "&",
        "&&",
        "a",
        "a=",
        "=b",
        "a==b",
        "a=1&a=2",
        "&a=b&",
        "EIO=4&transport=polling&sid=AbC-12_x",
        "t=Pz1&b64=1",
        "x=%41+b",
        "a+b=c",
        "a=%zz",
        "a=1;b=2",
    ],
)
def test_parse_query_is_the_stdlib_result(query_string: str) -> None:
    assert parse_query(query_string) == reference(query_string)
    assert HTTPRequest("GET", "/", query_string).query == reference(query_string)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.text(st.sampled_from("ab=&%+;4x\xe9 "), max_size=20))
def test_generated_queries_against_the_stdlib(query_string: str) -> None:
    assert parse_query(query_string) == reference(query_string)
