"""The worker protocol carries plain arrays only: no pickle, no student-defined types."""
import pickle
import struct

import numpy as np
import pytest

from grader.run.protocol import FrameReader, ProtocolError, decode, encode


def roundtrip(header, arrays=()):
    frame = encode(header, arrays)
    (n,) = struct.unpack_from("<I", frame)
    return decode(frame[4:4 + n])


def test_arrays_and_header_roundtrip_exactly():
    a = np.arange(6, dtype=np.float64).reshape(2, 3) / 7
    b = np.array(3, dtype=np.int64)
    header, arrays = roundtrip({"type": "result", "values": [{"array": 0}, {"array": 1}]}, [a, b])
    assert header == {"type": "result", "values": [{"array": 0}, {"array": 1}]}
    assert type(arrays[0]) is np.ndarray and arrays[0].dtype == np.float64
    np.testing.assert_array_equal(arrays[0], a)
    assert arrays[1].shape == () and arrays[1] == 3


def test_non_contiguous_and_zero_d_arrays_keep_their_shape():
    a = np.arange(12.0).reshape(3, 4).T
    _, (back, scalar) = roundtrip({}, [a, np.array(2.5)])
    np.testing.assert_array_equal(back, a)
    assert scalar.shape == ()


def test_empty_arrays_of_any_shape_travel():
    """A wrong answer may be empty, (N, C, 0, 0) from a slice pad:-pad with pad = 0: it is reported as
    that, not a crash of the child that encodes it."""
    arrays = [np.zeros((2, 3, 0, 0)), np.zeros((0,), dtype=np.int64)]
    header, back = decode(encode({"k": 1}, arrays)[4:])
    assert [a.shape for a in back] == [(2, 3, 0, 0), (0,)] and back[1].dtype == np.int64


def test_object_arrays_cannot_be_sent():
    with pytest.raises(ProtocolError):
        encode({}, [np.array([object()], dtype=object)])


def test_a_pickle_is_never_unpickled():
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pwned')",))
    payload = pickle.dumps(Boom())
    frame = struct.pack("<I", len(payload)) + payload
    with pytest.raises(ProtocolError):
        decode(frame)


@pytest.mark.parametrize("meta", [
    {"dtype": "|O", "shape": [1], "offset": 0, "nbytes": 8},          # object dtype
    {"dtype": "<f8", "shape": [2], "offset": 0, "nbytes": 8},         # size mismatch
    {"dtype": "<f8", "shape": [1], "offset": 4, "nbytes": 8},         # outside the frame
    {"dtype": "<f8", "shape": [-1], "offset": 0, "nbytes": 8},
    {"dtype": "<f8"},
])
def test_forged_array_descriptions_are_rejected(meta):
    import json
    head = json.dumps({"arrays": [meta]}).encode()
    payload = struct.pack("<I", len(head)) + head + b"\0" * 8
    with pytest.raises(ProtocolError):
        decode(payload)


def test_frame_reader_reassembles_split_frames_and_caps_size():
    frame = encode({"n": 1}) + encode({"n": 2})
    reader = FrameReader()
    got = reader.feed(frame[:5]) + reader.feed(frame[5:])
    assert [decode(p)[0]["n"] for p in got] == [1, 2]
    with pytest.raises(ProtocolError):
        FrameReader(max_frame=10).feed(struct.pack("<I", 11) + b"x" * 11)


@pytest.mark.parametrize("text, shown", [
    ("broken \udcff here", "broken \ufffd here"),                    # a lone surrogate: no UTF-8 file can hold it
    ("\x1b[31mred\x1b[0m \x1b[2J\x1b[1;1HPASS", "red PASS"),           # colours, clearing the screen, moving the cursor
    ("\x1b]0;a title\x07text", "text"),                                # setting the terminal's title
    ("50%\r100%\r\nnext", "50%\n100%\nnext"),                          # a carriage return redraws the line
    ("nul\x00 bell\x07 del\x7f c1\x9b", "nul bell del c1"),
    ("ok\b\b\bFAIL\f page", "okFAIL page"),                            # JSON writes these two as \b and \f
    ("tab\tnew\nline é 😀", "tab\tnew\nline é 😀"),                    # printable text is kept as it is
])
def test_text_from_student_code_is_decoded_printable(text, shown):
    frame = encode({"type": "result", "error": {"message": text}, "stdout": text})
    header, _ = decode(frame[4:], printable=True)
    assert header["error"]["message"] == header["stdout"] == shown
    assert decode(frame[4:])[0]["stdout"] == text           # the zygote reads the grader's frames as sent


def test_the_case_loop_reads_a_childs_frame_once_and_a_lying_one_becomes_that_cases_invalid_result():
    """supervise reads each frame of a child once, strings made printable; a result whose arrays
    do not describe its bytes keeps its type and index and is `invalid` (its case's crash); a
    header that cannot be read is a ProtocolError (the child's crash)."""
    from grader.run.supervise import _read
    good = encode({"type": "result", "index": 3, "stdout": "a\x1b[2Jb"}, [np.arange(3.0)])
    header, arrays = _read(good[4:])
    assert header["index"] == 3 and "\x1b" not in header["stdout"] and arrays[0].tolist() == [0.0, 1.0, 2.0]
    head = b'{"type":"result","index":5,"arrays":[{"dtype":"<f8","shape":[9],"offset":0,"nbytes":72}]}'
    header, arrays = _read(struct.pack("<I", len(head)) + head + b"\0" * 8)
    assert header == {"type": "result", "index": 5, "status": "invalid"} and arrays == []
    with pytest.raises(ProtocolError):
        _read(struct.pack("<I", 99) + b"{}")


@pytest.mark.parametrize("arrays", [
    '[{"dtype":"<f8","shape":[1e400],"offset":0,"nbytes":8}]',        # inf: int() would raise OverflowError
    '[{"dtype":"<f8","shape":[1],"offset":1e400,"nbytes":8}]',
    '[{"dtype":"<f8","shape":[1],"offset":0,"nbytes":-1e400}]',
    '[{"dtype":"<f8","shape":[Infinity],"offset":0,"nbytes":8}]',
    '[{"dtype":"<f8","shape":[NaN],"offset":0,"nbytes":8}]',
    '[{"dtype":"<f8","shape":[1.5],"offset":0,"nbytes":8}]',          # never truncated to an integer
    '[{"dtype":"<f8","shape":[true],"offset":0,"nbytes":8}]',
    '[{"dtype":"<f8","shape":"1","offset":0,"nbytes":8}]',
    '[{"dtype":"<f8","shape":[' + ",".join(["1"] * 100) + '],"offset":0,"nbytes":8}]',    # more dimensions than numpy's
    '5',
])
def test_forged_array_numbers_are_a_protocol_error_never_an_overflow(arrays):
    head = ('{"type":"result","index":0,"arrays":' + arrays + '}').encode()
    with pytest.raises(ProtocolError):
        decode(struct.pack("<I", len(head)) + head + b"\0" * 8, printable=True)


def test_a_header_json_cannot_parse_is_a_protocol_error():
    """An integer of more than 4,300 digits is a ValueError of Python's, not a JSONDecodeError."""
    head = b'{"type":"result","index":' + b"7" * 5000 + b"}"
    with pytest.raises(ProtocolError):
        decode(struct.pack("<I", len(head)) + head)


def test_frame_reader_refuses_a_header_over_its_cap_from_its_first_bytes():
    """A child's frame says its header's length first: one over protocol.MAX_HEADER is refused then,
    not after 200 MB of it were read and parsed. The grader's own frames (no max_header) have no such cap."""
    from grader.run import protocol
    reader = FrameReader(max_header=protocol.MAX_HEADER)
    with pytest.raises(protocol.OverLimit) as e:
        reader.feed(struct.pack("<II", 200_000_004, 200_000_000) + b'{"junk":[0,0,0')
    assert (e.value.what, e.value.size, e.value.limit) == ("header", 200_000_000, protocol.MAX_HEADER)
    big = encode({"text": "x" * (protocol.MAX_HEADER + 1)})
    assert FrameReader().feed(big) == [big[4:]]
    assert FrameReader(max_header=protocol.MAX_HEADER).feed(encode({"n": 1}, [np.zeros(10)])) != []


_BIDI = ["\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
         "\u2066", "\u2067", "\u2068", "\u2069"]


def _as_json(header: dict, form: str) -> bytes:
    """A header's JSON as the harness writes it (non-ASCII escaped), with upper-case escapes, or as raw UTF-8."""
    import json
    import re
    text = json.dumps(header, ensure_ascii=form != "raw")
    if form == "upper":
        text = re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m[1].upper(), text)
    return text.encode()


@pytest.mark.parametrize("form", ["escaped", "upper", "raw"])
@pytest.mark.parametrize("text, shown", [
    *[(f"PASS{c}LIAF", "PASSLIAF") for c in _BIDI],                    # would show the rest reversed, or reorder it
    ("one\u2028two", "one\ntwo"), ("one\u2029two", "one\ntwo"), ("one\x85two", "one\ntwo"),  # line breaks, as \n
], ids=lambda v: v.encode("unicode_escape").decode() if isinstance(v, str) else None)
def test_bidirectional_controls_are_removed_and_unicode_line_breaks_made_newlines(text, shown, form):
    """Each alone, so that the check of a header's raw JSON (which decides whether its strings are made
    printable at all) must see each, escaped as json.dumps writes it or as raw UTF-8."""
    from grader.run.protocol import printable_text
    head = _as_json({"type": "result", "error": {"message": text}, "stdout": text}, form)
    header, _ = decode(struct.pack("<I", len(head)) + head, printable=True)
    assert header["error"]["message"] == header["stdout"] == shown
    assert printable_text(text) == shown


@pytest.mark.parametrize("duration", [float("nan"), float("inf"), 1e400, -5.0, True, "1.0"])
def test_a_forged_duration_is_no_duration(duration):
    """A child's NaN, inf or negative duration is dropped (None), not written into the reports
    (JUnit's time="nan"); a real one is kept."""
    from grader.run.outcome import decode
    header = {"status": "returned", "values": [], "duration": duration}
    assert decode(header, [], ()).duration is None
    assert decode({**header, "duration": 0.25}, [], ()).duration == 0.25


@pytest.mark.parametrize("code", range(128))
def test_each_ascii_character_is_kept_removed_or_made_a_newline(code):
    """ASCII text takes a shortcut (one scan for a control character): every one of the 128 must
    still come out as the full path makes it, in the middle of a string and at its end."""
    from grader.run.protocol import printable_text
    c = chr(code)
    shown = "\n" if c == "\r" else c if c in "\t\n" or 0x20 <= code < 0x7f else ""
    assert printable_text(f"a{c}b") == f"a{shown}b"
    assert printable_text(f"ab{c}") == f"ab{shown}"


def test_a_header_with_a_non_finite_number_is_refused_as_strict_json_is():
    """The frame's header goes out as strict JSON (json's C encoder, made once): a NaN or infinity
    is refused when encoded, where a reader in another language would choke on it."""
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode({"type": "result", "duration": float("nan")})
    header, _ = decode(encode({"type": "result", "text": "é\u2028\n\"", "n": [1, None, True]})[4:])
    assert header["text"] == "é\u2028\n\"" and header["n"] == [1, None, True]


def test_a_trusted_frame_reads_back_whole_from_a_pipe():
    """The grader's frame to a child (the hidden calls sent after the public results, in marshal's
    format: the child decodes it while it waits): header and arrays of every shape come back."""
    import os
    import threading
    import numpy as np
    from grader.run.protocol import read_trusted, trusted_frame
    arrays = [np.arange(12.0).reshape(3, 4), np.array(2.5), np.zeros((0, 3), np.float32), np.array([True, False]),
              np.arange(6, dtype=np.int64)[::2], np.ones((300, 400))]
    header = {"calls": [{"function": "f", "args": [["x", {"array": 0}], ["reg", {"scalar": 0.5}]], "dims": {"N": 3}}]}
    data = trusted_frame(header, arrays)
    r, w = os.pipe()
    writer = threading.Thread(target=lambda: (os.write(w, data[:5]), os.write(w, data[5:]), os.close(w)))
    writer.start()
    got, back = read_trusted(r)
    writer.join()
    os.close(r)
    assert got == header
    assert len(back) == len(arrays)
    for a, b in zip(arrays, back):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
