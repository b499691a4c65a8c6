"""Read and write safetensors files with numpy only.

Debian 12 packages no safetensors module for Python, so lunet's tools carry
this small implementation. The layout is the one lunet's loader reads:

* 8 bytes: the header length N, a little-endian unsigned 64-bit integer.
* N bytes: a UTF-8 JSON object that maps each tensor name to
  {"dtype": ..., "shape": [...], "data_offsets": [begin, end]}, plus an
  optional "__metadata__" object whose values are all strings. The writer
  pads the JSON with spaces so that 8 + N is a multiple of 8.
* The data section: raw little-endian tensor bytes, in header order, with no
  gaps. Offsets are relative to the start of the data section.

Supported dtypes are F32, F16, BF16 and F64. The writer accepts numpy arrays,
anything numpy.asarray() accepts, and torch tensors (through .numpy()), so
this module itself does not import torch.
"""

import json
import math
import struct
from collections.abc import Mapping

import numpy as np

METADATA_KEY = "__metadata__"

# Bytes per element of each supported dtype.
DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}

# Headers larger than this are rejected on read, so that a corrupt length
# field cannot make the reader decode a huge buffer as JSON.
MAX_HEADER_BYTES = 100_000_000


class SafetensorsError(ValueError):
    """Invalid safetensors content, or a tensor that cannot be encoded."""


def _to_numpy(values):
    # torch tensors: detach from autograd and move to host memory first.
    if hasattr(values, "detach") and hasattr(values, "cpu"):
        values = values.detach().cpu()
        if str(values.dtype) == "torch.bfloat16":
            values = values.float()
        return values.numpy()
    return np.asarray(values)


def float32_to_bfloat16_bits(values):
    """Round float32 values to bfloat16 and return the bit patterns as uint16.

    Rounding is to nearest, ties to even, as torch does. NaN stays a quiet NaN
    with its sign.
    """
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounding_bias = np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
    rounded = ((bits.astype(np.uint64) + rounding_bias) >> np.uint64(16)).astype(np.uint16)
    is_nan = np.isnan(bits.view(np.float32))
    quiet_nan = ((bits >> np.uint32(16)) | np.uint32(0x0040)).astype(np.uint16)
    return np.where(is_nan, quiet_nan, rounded)


def bfloat16_bits_to_float32(bits):
    """Widen bfloat16 bit patterns (uint16) to float32; the conversion is exact."""
    wide = np.asarray(bits, dtype=np.uint16).astype(np.uint32) << np.uint32(16)
    return wide.view(np.float32)


def encode_tensor(name, values, dtype):
    """Return the little-endian bytes of `values` converted to `dtype`.

    Raises SafetensorsError when the values are not real numbers, or when a
    finite value overflows to infinity in F16, BF16 or F32, because a silent
    infinity would corrupt a model.
    """
    if dtype not in DTYPE_SIZES:
        raise SafetensorsError(
            f"tensor {name!r}: unsupported dtype {dtype!r}; use one of {sorted(DTYPE_SIZES)}"
        )
    array = _to_numpy(values)
    if array.dtype.kind not in "biuf":
        raise SafetensorsError(f"tensor {name!r}: cannot store numpy dtype {array.dtype} as {dtype}")

    # Integer and bool sources convert to float64 first, which is exact for
    # every value below 2**53.
    source = array.astype(np.float64) if array.dtype.kind in "biu" else array

    # Overflow is detected and reported below, so numpy's warning is noise.
    with np.errstate(over="ignore"):
        if dtype == "F64":
            encoded = source.astype("<f8")
        elif dtype == "F32":
            encoded = source.astype("<f4")
        elif dtype == "F16":
            encoded = source.astype("<f2")
        else:
            # NOTE: F64 sources round to float32 before bfloat16, so a value within
            # one float32 ulp of a bfloat16 rounding tie may round differently from
            # a direct float64-to-bfloat16 conversion.
            encoded = float32_to_bfloat16_bits(source.astype(np.float32)).astype("<u2")

    if dtype != "F64":
        widened = bfloat16_bits_to_float32(encoded) if dtype == "BF16" else encoded
        overflow = np.isinf(widened) & np.isfinite(source)
        if overflow.any():
            first = source[overflow].flat[0]
            raise SafetensorsError(
                f"tensor {name!r}: value {first!r} overflows {dtype}; store it as F32 or F64"
            )
    return np.ascontiguousarray(encoded).tobytes()


def write_safetensors(path, tensors, metadata=None, dtype="F32", dtypes=None):
    """Write `tensors` (a name -> array mapping) to `path` in insertion order.

    Every tensor is stored as `dtype` unless `dtypes` maps its name to another
    one. `metadata` values must be strings, as the format requires.
    """
    if not isinstance(tensors, Mapping):
        raise TypeError(f"tensors must be a mapping from name to array, got {type(tensors).__name__}")
    dtypes = dict(dtypes or {})
    unknown = sorted(set(dtypes) - set(tensors))
    if unknown:
        raise SafetensorsError(f"dtypes names tensors that are not being written: {unknown}")

    header = {}
    chunks = []
    offset = 0
    for name, values in tensors.items():
        if not isinstance(name, str) or not name or name == METADATA_KEY:
            raise SafetensorsError(f"invalid tensor name {name!r}")
        tensor_dtype = dtypes.get(name, dtype)
        data = encode_tensor(name, values, tensor_dtype)
        shape = [int(size) for size in _to_numpy(values).shape]
        header[name] = {
            "dtype": tensor_dtype,
            "shape": shape,
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)

    if metadata:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise SafetensorsError(
                    f"metadata entry {key!r}: keys and values must be strings, got {type(value).__name__}"
                )
        header[METADATA_KEY] = dict(metadata)

    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    header_bytes += b" " * (-(8 + len(header_bytes)) % 8)

    with open(path, "wb") as stream:
        stream.write(struct.pack("<Q", len(header_bytes)))
        stream.write(header_bytes)
        for data in chunks:
            stream.write(data)


def _reject_duplicate_keys(pairs):
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise SafetensorsError(f"header repeats the keys {duplicates}")
    return dict(pairs)


def read_safetensors(path):
    """Read and validate a safetensors file written in the layout described above.

    Returns (tensors, dtypes, metadata): numpy arrays by name in data order,
    each tensor's stored dtype name, and the metadata dict (empty when absent).
    F32, F16 and F64 arrays keep their stored precision. BF16 arrays come back
    as float32, which represents every bfloat16 value exactly.

    Raises SafetensorsError on anything the writer would not produce: a bad
    header length or padding, unknown dtypes, offsets that overlap, leave gaps
    or disagree with the shape, trailing bytes, or non-string metadata.
    """
    with open(path, "rb") as stream:
        content = stream.read()

    if len(content) < 8:
        raise SafetensorsError(f"{path}: file is {len(content)} bytes, shorter than the 8-byte header length")
    (header_length,) = struct.unpack("<Q", content[:8])
    if header_length > MAX_HEADER_BYTES or 8 + header_length > len(content):
        raise SafetensorsError(f"{path}: header length {header_length} exceeds the file size {len(content)}")
    if (8 + header_length) % 8 != 0:
        raise SafetensorsError(f"{path}: data section starts at byte {8 + header_length}, not a multiple of 8")

    header_text = content[8 : 8 + header_length].decode("utf-8")
    header = json.loads(header_text, object_pairs_hook=_reject_duplicate_keys)
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    data = memoryview(content)[8 + header_length :]

    metadata = header.pop(METADATA_KEY, {})
    if not isinstance(metadata, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()
    ):
        raise SafetensorsError(f"{path}: __metadata__ must map strings to strings")

    entries = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"{path}: tensor {name!r} must have exactly dtype, shape and data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPE_SIZES:
            raise SafetensorsError(f"{path}: tensor {name!r} has unsupported dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(size, int) and size >= 0 for size in shape):
            raise SafetensorsError(f"{path}: tensor {name!r} has invalid shape {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(offset, int) for offset in offsets)
        ):
            raise SafetensorsError(f"{path}: tensor {name!r} has invalid data_offsets {offsets!r}")
        entries.append((offsets[0], offsets[1], name, dtype, shape))

    entries.sort(key=lambda entry: (entry[0], entry[1]))
    tensors = {}
    dtypes = {}
    expected_begin = 0
    for begin, end, name, dtype, shape in entries:
        if begin != expected_begin:
            raise SafetensorsError(
                f"{path}: tensor {name!r} starts at data offset {begin}, expected {expected_begin} (gap or overlap)"
            )
        expected_size = math.prod(shape) * DTYPE_SIZES[dtype]
        if end - begin != expected_size:
            raise SafetensorsError(
                f"{path}: tensor {name!r} has {end - begin} bytes, shape {shape} as {dtype} needs {expected_size}"
            )
        raw = data[begin:end]
        if dtype == "BF16":
            array = bfloat16_bits_to_float32(np.frombuffer(raw, dtype="<u2"))
        else:
            numpy_dtype = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}[dtype]
            array = np.frombuffer(raw, dtype=numpy_dtype)
        tensors[name] = array.reshape(shape)
        dtypes[name] = dtype
        expected_begin = end

    if expected_begin != len(data):
        raise SafetensorsError(
            f"{path}: data section has {len(data)} bytes but the tensors cover {expected_begin}"
        )
    return tensors, dtypes, metadata
