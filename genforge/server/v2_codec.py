"""The Open Inference Protocol's request and response bodies as the standard clients send them.

Clients (Triton's ``tritonclient.http``, KServe's) do not always send ``Content-Type: application/json``, and
they may use the *binary tensor data* extension: the body is a JSON header of ``Inference-Header-Content-Length``
bytes followed by the raw, little-endian, row-major bytes of every input whose ``parameters`` carry
``binary_data_size``; outputs asked for with ``parameters.binary_data`` (or all of them, with the request's
``parameters.binary_data_output``) come back the same way. This module reads and writes both forms.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from genforge.server.errors import ApiError
from genforge.server.schemas import InferIn, TensorIn

HEADER_LENGTH = "inference-header-content-length"
# Protocol datatype -> numpy dtype (little-endian, as the binary extension specifies).
DTYPES = {
    "BOOL": np.dtype("bool"), "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"), "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"), "INT8": np.dtype("<i1"), "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"), "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
}


@dataclass
class InferRequest:
    """A parsed infer request: its JSON part and, per input name, the raw bytes sent in binary."""

    body: InferIn
    binary: dict[str, bytes]

    def wants_binary(self, output: str) -> bool:
        """Whether ``output`` goes back as raw bytes (asked per output, or for all of them)."""
        for requested in self.body.outputs or ():
            if requested.name == output and requested.parameters and "binary_data" in requested.parameters:
                return bool(requested.parameters["binary_data"])
        return bool((self.body.parameters or {}).get("binary_data_output", False))


def _decompress(raw: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding == "gzip":
            return gzip.decompress(raw)
        if encoding == "deflate":
            return zlib.decompress(raw)
    except (OSError, zlib.error, EOFError):
        raise ApiError(400, f"the body is not valid {encoding} data.") from None
    if encoding in ("", "identity"):
        return raw
    raise ApiError(400, f"Content-Encoding {encoding!r} is not supported; send identity, gzip or deflate.")


async def read_infer_request(request: Request) -> InferRequest:
    """Parse an infer body whatever its Content-Type, with or without binary tensor data."""
    raw = _decompress(await request.body(), request.headers.get("content-encoding", ""))
    header_length = request.headers.get(HEADER_LENGTH)
    if header_length is None:
        head, rest = raw, b""
    else:
        try:
            size = int(header_length)
        except ValueError:
            raise ApiError(400, f"the Inference-Header-Content-Length header must be a number, got {header_length!r}.") from None
        if not 0 <= size <= len(raw):
            raise ApiError(400, f"Inference-Header-Content-Length {size} does not fit a body of {len(raw)} bytes.")
        head, rest = raw[:size], raw[size:]
    try:
        document = json.loads(head)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "the inference request is not JSON (with binary tensors, send the JSON part's "
                            "length in Inference-Header-Content-Length).") from None
    try:
        body = InferIn.model_validate(document)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None
    binary: dict[str, bytes] = {}
    offset = 0
    for tensor in body.inputs:
        size = (tensor.parameters or {}).get("binary_data_size")
        if size is None:
            continue
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ApiError(400, f"input {tensor.name!r}: binary_data_size must be a byte count, got {size!r}.")
        if offset + size > len(rest):
            raise ApiError(400, f"input {tensor.name!r}: binary_data_size {size} runs past the body's "
                                f"{len(rest) - offset} remaining bytes.")
        binary[tensor.name] = rest[offset:offset + size]
        offset += size
    if offset != len(rest):
        raise ApiError(400, f"the body has {len(rest) - offset} bytes after the binary inputs that no input's "
                            "binary_data_size accounts for.")
    return InferRequest(body, binary)


def tensor_array(tensor: TensorIn, binary: bytes | None, dtype: np.dtype) -> np.ndarray:
    """An input as a numpy array of ``dtype``, shaped by its ``shape``, from JSON data or raw bytes."""
    shape = list(tensor.shape)
    if any(d < 0 for d in shape):
        raise ApiError(400, f"input {tensor.name!r}: shape {shape} has a negative dimension.")
    count = int(np.prod(shape, dtype=np.int64))
    if binary is not None:
        wire = DTYPES.get(tensor.datatype.upper())
        if wire is None or wire.kind == "b" and dtype.kind != "b":
            raise ApiError(400, f"input {tensor.name!r}: datatype {tensor.datatype!r} cannot be sent in binary here.")
        if len(binary) != count * wire.itemsize:
            raise ApiError(400, f"input {tensor.name!r}: shape {shape} of {tensor.datatype} needs "
                                f"{count * wire.itemsize} bytes, got {len(binary)}.")
        array = np.frombuffer(binary, dtype=wire)
        if not np.can_cast(wire, dtype, casting="same_kind"):
            raise ApiError(400, f"input {tensor.name!r}: datatype {tensor.datatype!r} does not fit this input.")
        array = array.astype(dtype)
    else:
        if tensor.data is None:
            raise ApiError(400, f"input {tensor.name!r}: give its values in 'data' or its byte count in "
                                "parameters.binary_data_size.")
        try:
            array = np.asarray(tensor.data, dtype=dtype)
        except (TypeError, ValueError, OverflowError):
            raise ApiError(400, f"input {tensor.name!r}: data must be numbers of the declared datatype.") from None
        if array.size != count:
            raise ApiError(400, f"input {tensor.name!r}: shape {shape} needs {count} values, got {array.size}.")
    return array.reshape(shape)


def infer_response(payload: dict[str, Any], arrays: dict[str, np.ndarray], request: InferRequest) -> Response:
    """``payload`` (model_name, id, ...) with ``arrays`` as its outputs, each in JSON or binary as asked."""
    outputs, chunks = [], []
    for name, array in arrays.items():
        entry: dict[str, Any] = {"name": name, "datatype": _datatype(array.dtype), "shape": list(array.shape)}
        if request.wants_binary(name):
            data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
            entry["parameters"] = {"binary_data_size": len(data)}
            chunks.append(data)
        else:
            entry["data"] = array.reshape(-1).tolist()
        outputs.append(entry)
    # The pixel list is large: encode it directly rather than through response-model validation.
    head = json.dumps({**payload, "outputs": outputs}, separators=(",", ":")).encode()
    if not chunks:
        return Response(head, media_type="application/json")
    return Response(b"".join([head, *chunks]), media_type="application/octet-stream",
                    headers={"Inference-Header-Content-Length": str(len(head))})


def _datatype(dtype: np.dtype) -> str:
    for name, known in DTYPES.items():
        if known.kind == dtype.kind and known.itemsize == dtype.itemsize:
            return name
    raise TypeError(f"no protocol datatype for {dtype}")  # pragma: no cover - outputs are uint8


def infer_body_schema() -> dict[str, Any]:
    """The OpenAPI request body of the infer routes: ``InferIn`` inlined (FastAPI does not parse it here)."""
    schema = InferIn.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {"required": True, "content": {"application/json": {"schema": inline(schema)}},
            "description": "JSON, or (binary tensor data extension) a JSON header of Inference-Header-Content-Length "
                           "bytes followed by the inputs' raw bytes."}
