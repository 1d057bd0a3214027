"""Released text: whole characters only, cut at stop strings and at "<|endoftext|>"."""

import pytest

from serving.textstream import TextStream


def byte_decoder(pieces: list[bytes]):
    """Token id i is pieces[i]; decoding joins bytes and shows broken characters as U+FFFD."""
    return lambda ids: b"".join(pieces[i] for i in ids).decode("utf-8", errors="replace")


def run(pieces, stops=(), reason_at_end="length"):
    stream = TextStream(byte_decoder(pieces), tuple(stops))
    released = []
    for token in range(len(pieces)):
        released.append(stream.feed(token))
        if stream.finish_reason:
            break
    released.append(stream.close(reason_at_end))
    return stream, released


def test_split_character_is_released_whole():
    emoji = "😀".encode()
    stream, released = run([b"hi ", emoji[:2], emoji[2:], b"!"])
    assert released[:4] == ["hi ", "", "😀", "!"]
    assert stream.text == "hi 😀!" and stream.finish_reason == "length"


def test_stop_string_over_several_tokens_is_cut_and_never_shown():
    stream, released = run([b"one ", b"two", b" EN", b"D three"], stops=["END"])
    assert "".join(released) == "one two " == stream.text
    assert stream.finish_reason == "stop" and stream.token_count == 4


def test_endoftext_spelled_in_pieces_is_a_hidden_stop():
    """A checkpoint trained before the one end token spells the separator as text."""
    stream, released = run([b"done.", b"<|", b"endoftext", b"|>", b"next doc"])
    assert stream.text == "done." and stream.finish_reason == "stop"
    assert "".join(released) == "done." and not any("<|" in text for text in released)


def test_false_alarm_prefix_is_released_later():
    stream, released = run([b"a <|en", b"d of it"])
    assert released[0] == "a " and stream.text == "a <|end of it"


@pytest.mark.parametrize("stops", [["\n"], ["\n", "zzz"]])
def test_earliest_marker_wins(stops):
    stream, _ = run([b"line one\nline two<|endoftext|>"], stops=stops)
    assert stream.text == "line one" and stream.finish_reason == "stop"


def test_close_after_finish_adds_nothing():
    stream, released = run([b"x", b"STOP"], stops=["STOP"])
    assert released[-1] == "" and stream.finish_reason == "stop"


@pytest.mark.parametrize(
    "pieces",
    [
        [b"plain ", b"text ", b"only"],
        [b"done.", b"<|endo", b"ftext|>", b"next doc"],
        [b"x", b"ST", b"OP", b" more"],
        [b"hi ", "😀".encode()[:2], "😀".encode()[2:], b"!"],
    ],
)
def test_feeding_all_at_once_equals_one_by_one(pieces):
    one_by_one, _ = run(pieces, stops=["STOP"])
    stream = TextStream(byte_decoder(pieces), ("STOP",))
    released = stream.feed_many(list(range(len(pieces)))) + stream.close("length")
    assert (stream.text, stream.finish_reason, stream.token_count) == (
        one_by_one.text,
        one_by_one.finish_reason,
        one_by_one.token_count,
    )
    assert released == stream.text
