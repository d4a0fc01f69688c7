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
import math
import os
import re
import struct

import numpy as np

MAX_FRAME = 256 << 20            # bytes; a larger frame is a protocol error
ANSWER_CAP = MAX_FRAME // 2      # bytes of arrays one call may return (a larger answer is reported as such)
ALLOWED_DTYPES = {np.dtype(t).str: np.dtype(t) for t in (
    "float64", "float32", "float16", "int64", "int32", "int16", "int8",
    "uint64", "uint32", "uint16", "uint8", "bool")}


class ProtocolError(Exception):
    """Bytes that are not a valid frame."""


_JSON = json.JSONEncoder(allow_nan=False, separators=(",", ":"))     # one encoder, not one per frame
_U32 = struct.Struct("<I")


def encode(header: dict, arrays: list | tuple = ()) -> bytes:
    """One frame: `header` (JSON-able) plus arrays it refers to as {"array": i}."""
    metas, blobs, offset = [], [], 0
    for a in arrays:
        if type(a) is not np.ndarray:
            a = np.asarray(a)
        if not a.flags.c_contiguous:                  # a 0-d array always is
            a = np.ascontiguousarray(a)
        dtype = a.dtype.str
        if dtype not in ALLOWED_DTYPES:
            raise ProtocolError(f"dtype {a.dtype} cannot be sent")
        data = memoryview(a).cast("B") if a.ndim and a.size else a.tobytes()     # memoryview cannot cast an empty shape
        metas.append({"dtype": dtype, "shape": list(a.shape), "offset": offset, "nbytes": len(data)})
        blobs.append(data)
        offset += len(data)
    head = _JSON.encode({**header, "arrays": metas}).encode()
    return b"".join((_U32.pack(4 + len(head) + offset), _U32.pack(len(head)), head, *blobs))


def decode(payload: bytes, printable: bool = False) -> tuple[dict, list]:
    """Header and arrays of one frame's payload (without its length prefix).

    `printable` (for frames whose text comes from student code) makes every string safe to print
    and to write: see `printable_text`."""
    header, hlen = _header(payload)
    if printable and _UNPRINTABLE.search(payload, 4, 4 + hlen):
        try:
            header = _printable(header)
        except RecursionError:
            raise ProtocolError("header nested too deeply") from None
    blob = memoryview(payload)[4 + hlen:]
    arrays = []
    for meta in header.pop("arrays", []) or []:
        arrays.append(_array(meta, blob))
    return header, arrays


# What a header's JSON holds when one of its strings is not printable text: an escaped C0 control
# other than \t and \n, \r, DEL, a C1 control, or half of a surrogate pair.
_UNPRINTABLE = re.compile(rb"\\u(?:00[01]|00[89]|[dD][89a-fA-F])|\\u007[fF]|\\r|\x7f|\xc2[\x80-\x9f]")
_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable_text(text: str) -> str:
    """`text` as a report may show it: terminal escape sequences (colours, cursor moves, titles)
    and other control characters removed, line breaks as \\n, and each half of a surrogate pair
    that has no other half (`raise ValueError("\\udcff")`) as U+FFFD, so that no file write fails
    on it and no student can redraw the instructor's terminal."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _printable(value):
    if isinstance(value, str):
        return printable_text(value)
    if isinstance(value, list):
        return [_printable(v) for v in value]
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    return value


def _array(meta, blob) -> np.ndarray:
    try:
        dtype = ALLOWED_DTYPES[meta["dtype"]]
        shape = tuple(int(n) for n in meta["shape"])
        offset, nbytes = int(meta["offset"]), int(meta["nbytes"])
    except (KeyError, TypeError, ValueError):
        raise ProtocolError(f"bad array description {meta!r:.200}") from None
    if any(n < 0 for n in shape) or offset < 0 or offset + nbytes > len(blob):
        raise ProtocolError("array outside frame")
    count = math.prod(shape)
    if count * dtype.itemsize != nbytes:
        raise ProtocolError("array size does not match its shape")
    return np.frombuffer(blob[offset:offset + nbytes], dtype=dtype).reshape(shape).copy()


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
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtocolError(f"bad header: {e}") from None
    except RecursionError:                  # nested deeper than the parser's stack: forged by student code
        raise ProtocolError("header nested too deeply") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not an object")
    return header, hlen


class FrameReader:
    """Accumulates bytes read from a pipe and yields complete frame payloads."""

    def __init__(self, max_frame: int = MAX_FRAME):
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames = []
        while len(self._buf) >= 4:
            (n,) = struct.unpack_from("<I", self._buf)
            if n > self._max:
                raise ProtocolError(f"frame of {n} bytes is over the {self._max}-byte limit")
            if len(self._buf) < 4 + n:
                break
            frames.append(bytes(self._buf[4:4 + n]))
            del self._buf[:4 + n]
        return frames


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
