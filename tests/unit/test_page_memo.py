"""``PageMemo``: the parsed form of the last answer at each place of a repeated read, by the digest of its bytes."""

from __future__ import annotations

import pytest

from esml_operator.elasticsearch.pages import PageMemo


class Parser:
    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def __call__(self, content: bytes) -> tuple[str, ...]:
        self.calls.append(content)
        if content == b"bad":
            raise ValueError("not a page")
        return tuple(content.decode().split(","))


def test_the_same_bytes_at_the_same_place_are_parsed_once() -> None:
    memo: PageMemo[tuple[str, ...]] = PageMemo()
    parse = Parser()
    first = memo.parsed(0, b"a,b", parse)
    memo.done()
    again = memo.parsed(0, b"a,b", parse)
    assert again is first and parse.calls == [b"a,b"] and memo.reused == 1


def test_other_bytes_or_another_place_are_parsed() -> None:
    memo: PageMemo[tuple[str, ...]] = PageMemo()
    parse = Parser()
    memo.parsed(0, b"a,b", parse)
    memo.done()
    assert memo.parsed(0, b"a,c", parse) == ("a", "c")
    assert memo.parsed(1, b"a,b", parse) == ("a", "b")  # the same bytes, but not what place 1 said last
    assert len(parse.calls) == 3 and memo.reused == 0


def test_a_place_the_last_read_did_not_ask_for_is_forgotten() -> None:
    memo: PageMemo[tuple[str, ...]] = PageMemo()
    parse = Parser()
    memo.parsed(0, b"a", parse)
    memo.parsed(1, b"b", parse)
    memo.done()
    memo.parsed(0, b"a", parse)
    memo.done()  # this read had one page
    memo.parsed(1, b"b", parse)
    assert parse.calls == [b"a", b"b", b"b"]


def test_a_failed_parse_is_not_remembered_and_an_abandoned_read_keeps_the_last_one() -> None:
    memo: PageMemo[tuple[str, ...]] = PageMemo()
    parse = Parser()
    memo.parsed(0, b"a", parse)
    memo.done()
    memo.parsed(0, b"c", parse)
    with pytest.raises(ValueError, match="not a page"):
        memo.parsed(1, b"bad", parse)
    memo.abandon()
    with pytest.raises(ValueError):
        memo.parsed(1, b"bad", parse)  # parsed (and refused) again
    assert memo.parsed(0, b"a", parse) == ("a",)
    assert parse.calls == [b"a", b"c", b"bad", b"bad"]  # "a" came from the last complete read
