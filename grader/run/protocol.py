"""The byte protocol between the grader and the worker running student code.

Nothing is pickled. A frame is a length-prefixed JSON header followed by raw array bytes:

    u32 total length | u32 header length | header (UTF-8 JSON) | array bytes ...

Array data travels only as raw bytes described by (dtype, shape, offset, nbytes) in the header,
and `decode` rebuilds them with `np.frombuffer` from a short list of plain dtypes, so an array
that comes back is always a base-class `np.ndarray` of a real, integer or bool dtype, never an
object the student defined. The rest is the JSON header: from the child, the value model's nodes
(grader/values.py), where every number a student's code returns, a Python float included, is one
of those arrays, and strings, bools and None are JSON values; to the child, a job, whose scalar
arguments, strings, bools and None are JSON values too (`values.to_wire`).
"""
from __future__ import annotations

import json
import marshal
import math
import os
import re
import struct

import numpy as np

MAX_FRAME = 256 << 20            # bytes; a larger frame is a protocol error
ANSWER_CAP = MAX_FRAME // 2      # bytes of arrays one call may return (a larger answer is reported as such)
# Bytes of JSON header the grader reads in one frame from a child (FrameReader's `max_header`). The
# harness caps each string at a few KiB and each output at values.MAX_NODES nodes: a list of 9,999
# Python floats makes a header of 1 MiB, the largest one output can make (9,999 entries under
# 200-character keys) some 3 MiB. A header parses into Python objects of up to 32 times its size
# (supervise.HEADER_WEIGHT), so a larger one is refused before it is read whole: its case's crash.
MAX_HEADER = 4 << 20
ALLOWED_DTYPES = {np.dtype(t).str: np.dtype(t) for t in (
    "float64", "float32", "float16", "int64", "int32", "int16", "int8",
    "uint64", "uint32", "uint16", "uint8", "bool")}


class ProtocolError(Exception):
    """Bytes that are not a valid frame."""


class OverLimit(ProtocolError):
    """A frame larger than a reader takes: `what` ("frame" or "header") is `size` bytes, over `limit`."""

    def __init__(self, what: str, size: int, limit: int):
        super().__init__(f"{what} of {size} bytes is over the {limit}-byte limit")
        self.what, self.size, self.limit = what, size, limit


_JSON = json.JSONEncoder(allow_nan=False, separators=(",", ":"))     # one encoder, not one per frame
# json's C encoder itself, made once: JSONEncoder.encode makes one per frame, a third of the cost of
# a frame's small header. Without the check for circular references, which a header (plain dicts
# and lists the harness builds) cannot have. None where json has no C encoder.
_C_ENCODE = json.encoder.c_make_encoder and json.encoder.c_make_encoder(
    None, _JSON.default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False)
_U32 = struct.Struct("<I")


def encode(header: dict, arrays: list | tuple = (), _c_encode=_C_ENCODE, _json=_JSON, _u32=_U32,
           _ndarray=np.ndarray, _asarray=np.asarray, _contiguous=np.ascontiguousarray) -> bytes:
    """One frame: `header` (JSON-able) plus arrays it refers to as {"array": i}.

    The encoders it uses are bound when it is defined, before any student code runs in a child:
    rebinding this module's `_C_ENCODE` through sys.modules does not rewrite the frames it sends,
    nor does replacing numpy's ndarray or asarray run the student's code on a result's copies."""
    metas, blobs, offset = [], [], 0
    for a in arrays:
        if type(a) is not _ndarray:
            a = _asarray(a)
        if not a.flags.c_contiguous:                  # a 0-d array always is
            a = _contiguous(a)
        dtype = a.dtype.str
        if dtype not in ALLOWED_DTYPES:
            raise ProtocolError(f"dtype {a.dtype} cannot be sent")
        data = memoryview(a).cast("B") if a.ndim and a.size else a.tobytes()     # memoryview cannot cast an empty shape
        metas.append({"dtype": dtype, "shape": list(a.shape), "offset": offset, "nbytes": len(data)})
        blobs.append(data)
        offset += len(data)
    whole = {**header, "arrays": metas}
    head = ("".join(_c_encode(whole, 0)) if _c_encode is not None else _json.encode(whole)).encode()
    return b"".join((_u32.pack(4 + len(head) + offset), _u32.pack(len(head)), head, *blobs))


def decode(payload: bytes, printable: bool = False) -> tuple[dict, list]:
    """Header and arrays of one frame's payload (without its length prefix).

    `printable` (for frames whose text comes from student code) makes every string safe to print
    and to write: see `printable_text`."""
    header, hlen = _header(payload)
    if printable and _UNPRINTABLE.search(payload, 4, 4 + hlen):
        try:
            header = printable_tree(header)
        except RecursionError:
            raise ProtocolError("header nested too deeply") from None
    blob = memoryview(payload)[4 + hlen:]
    metas = header.pop("arrays", None) or []
    if not isinstance(metas, list):
        raise ProtocolError("bad array list")
    return header, [_array(meta, blob) for meta in metas]


# What a header's JSON holds when one of its strings is not printable text: an escaped C0 control
# other than \t and \n (JSON writes \b, \f and \r short), DEL, a C1 control, or half of a surrogate pair; a bidirectional control
# (U+061C, U+200E-200F, U+202A-202E, U+2066-2069) or a line or paragraph separator (U+2028-2029),
# escaped (as json.dumps writes them) or as raw UTF-8 (as a forged frame may).
_UNPRINTABLE = re.compile(rb"\\u(?:00[01]|00[89]|[dD][89a-fA-F]|061[cC]|200[eEfF]|202[89a-eA-E]|206[6-9])|\\u007[fF]"
                          rb"|\\[rbf]|\x7f|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]")
_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_LINE_BREAK = re.compile("\r\n?|[\x85\u2028\u2029]")                  # CR, CRLF, NEL, line and paragraph separators
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ASCII_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")      # in ASCII text, all that the three above act on


def printable_text(text: str) -> str:
    """`text` as a report may show it: terminal escape sequences (colours, cursor moves, titles),
    other control characters and the bidirectional controls (which would show it reversed)
    removed, line breaks (U+2028 and U+2029 too) as \\n, and each half of a surrogate pair that
    has no other half (`raise ValueError("\\udcff")`) as U+FFFD, so that no file write fails on
    it and no student can redraw the instructor's terminal."""
    if text.isascii() and not _ASCII_CONTROL.search(text):     # most text: nothing to change (one scan, not three)
        return text
    text = _LINE_BREAK.sub("\n", text)
    text = _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def printable_tree(value):
    """A JSON-like value with every string in it made printable (printable_text)."""
    if isinstance(value, str):
        return printable_text(value)
    if isinstance(value, list):
        return [printable_tree(v) for v in value]
    if isinstance(value, dict):
        return {printable_tree(k): printable_tree(v) for k, v in value.items()}
    return value


def _array(meta, blob) -> np.ndarray:
    """The array `meta` describes in `blob`. Its numbers must be JSON integers as `encode` writes
    them: nothing is converted (int(1e400) raises OverflowError, int(2.5) truncates)."""
    try:
        dtype = ALLOWED_DTYPES[meta["dtype"]]
        shape, offset, nbytes = meta["shape"], meta["offset"], meta["nbytes"]
    except (KeyError, TypeError):
        raise ProtocolError(f"bad array description {meta!r:.200}") from None
    if not isinstance(shape, list) or not all(type(n) is int for n in (*shape, offset, nbytes)):
        raise ProtocolError(f"bad array description {meta!r:.200}")
    if any(n < 0 for n in shape) or offset < 0 or nbytes < 0 or offset + nbytes > len(blob):
        raise ProtocolError("array outside frame")
    count = math.prod(shape)
    if count * dtype.itemsize != nbytes:
        raise ProtocolError("array size does not match its shape")
    try:
        return np.frombuffer(blob[offset:offset + nbytes], dtype=dtype).reshape(shape).copy()
    except ValueError:                      # more dimensions than numpy takes
        raise ProtocolError(f"bad array shape {shape!r:.200}") from None


def peek(payload: bytes) -> dict:
    """A frame's header alone, without building its arrays."""
    return _header(payload)[0]


def _header(payload: bytes) -> tuple[dict, int]:
    if len(payload) < 4:
        raise ProtocolError("truncated frame")
    (hlen,) = struct.unpack_from("<I", payload)
    if hlen > len(payload) - 4:
        raise ProtocolError("header longer than frame")
    try:
        header = json.loads(payload[4:4 + hlen].decode())
    except ValueError as e:                 # not UTF-8, not JSON, or an integer of more than 4,300 digits
        raise ProtocolError(f"bad header: {e}"[:300]) from None
    except RecursionError:                  # nested deeper than the parser's stack: forged by student code
        raise ProtocolError("header nested too deeply") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not an object")
    return header, hlen


class FrameReader:
    """Accumulates bytes read from a pipe and yields complete frame payloads. A frame over
    `max_frame` bytes, or whose header is over `max_header` (a child's: MAX_HEADER), is an
    OverLimit as soon as its first bytes say so, before the rest of it is held here."""

    def __init__(self, max_frame: int = MAX_FRAME, max_header: int | None = None):
        self._buf = bytearray()
        self._max = max_frame
        self._max_header = max_header

    @property
    def held(self) -> int:
        """Bytes received and not yet given out as a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        return list(self.frames(data))

    def frames(self, data: bytes):
        """The frames `data` completes, one at a time: a frame over a limit raises once the frames
        before it (in the same `data`) are taken."""
        self._buf += data
        while len(self._buf) >= 4:
            (n,) = _U32.unpack_from(self._buf)
            if n > self._max:
                raise OverLimit("frame", n, self._max)
            if self._max_header is not None and n >= 4 and len(self._buf) >= 8:
                (hlen,) = _U32.unpack_from(self._buf, 4)
                if hlen > self._max_header:
                    raise OverLimit("header", hlen, self._max_header)
            if len(self._buf) < 4 + n:
                break
            with memoryview(self._buf) as view:         # one copy of the payload, not two
                frame = bytes(view[4:4 + n])
            del self._buf[:4 + n]
            yield frame


def write_all(fd: int, data: bytes, _write=os.write) -> None:
    """All of data to fd, with the os.write this module found (a child's code may rebind os.write)."""
    view = memoryview(data)
    while view:
        n = _write(fd, view)
        view = view[n:]


def trusted_frame(header: dict, arrays: list | tuple = ()) -> bytes:
    """A frame from the grader to a child, never the other way: its header in marshal's format,
    which a child decodes four times as fast as JSON (the hidden calls of supervise.held_back, read
    while the child waits). The grader never reads one: marshal.loads of a student's bytes could
    crash it. Arrays as in `encode`."""
    metas, blobs = [], []
    for a in arrays:
        a = np.asarray(a)
        if not a.flags.c_contiguous:                  # (ascontiguousarray would make a 0-d array 1-d)
            a = np.ascontiguousarray(a)
        metas.append((a.dtype.str, a.shape))
        blobs.append(memoryview(a).cast("B") if a.ndim and a.size else a.tobytes())
    head = marshal.dumps((header, metas))
    body = sum(len(b) for b in blobs)
    return b"".join((_U32.pack(4 + len(head) + body), _U32.pack(len(head)), head, *blobs))


def read_trusted(fd: int, _read=os.read, _u32=_U32, _loads=marshal.loads, _frombuffer=np.frombuffer,
                 _dtype=np.dtype) -> tuple[dict, list]:
    """The header and arrays of the one `trusted_frame` that a (blocking) descriptor brings, read
    whole: a child's rest of its job (harness.run). Bound when defined, as write_all is."""
    def exactly(n: int) -> bytes:
        chunks, got = [], 0
        while got < n:
            data = _read(fd, min(n - got, 1 << 20))
            if not data:
                raise ProtocolError("the frame ended early")
            chunks.append(data)
            got += len(data)
        return b"".join(chunks)
    (size,) = _u32.unpack(exactly(4))
    if size > MAX_FRAME:
        raise ProtocolError("frame too large")
    payload = exactly(size)
    (hlen,) = _u32.unpack_from(payload)
    header, metas = _loads(payload[4:4 + hlen])
    arrays, at = [], 4 + hlen
    for dtype, shape in metas:
        d = _dtype(dtype)
        count = 1
        for n in shape:
            count *= n
        arrays.append(_frombuffer(payload, d, count, at).reshape(shape))
        at += count * d.itemsize
    return header, arrays
