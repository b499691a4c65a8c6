#!/usr/bin/python3
"""Export PyTorch weights to a safetensors file that lunet can load.

    /usr/bin/python3 tools/export_torch.py INPUT.pth OUTPUT.safetensors
    /usr/bin/python3 tools/export_torch.py --torchvision vgg16 vgg16.pth vgg16.safetensors

INPUT is a file written by torch.save: a state_dict, a checkpoint dict that
contains one (under --key, or under "state_dict", "model_state_dict" or "model"),
or, with --allow-pickle, a whole pickled nn.Module. Tensors keep their
state_dict names and order. Every tensor is written as F32 unless --dtype
says otherwise. The output is read back and compared with the input before
it replaces OUTPUT.

Needs Debian's python3-torch and numpy; --torchvision also needs
python3-torchvision. Nothing is downloaded.
"""

import argparse
import os
import pickle
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import safetensors_io  # noqa: E402  (needs the sys.path entry above)

CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model")

TORCH_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


class ExportError(Exception):
    """A problem with the input file or the options, reported without a traceback."""


def load_checkpoint(path, allow_pickle):
    """Load `path` on the CPU, unpickling arbitrary objects only with `allow_pickle`.

    torch.load(weights_only=True) rebuilds only tensors and plain containers,
    so an untrusted state_dict cannot run code. A pickled nn.Module needs the
    full unpickler, which imports and runs code named in the file.
    """
    if allow_pickle:
        return torch.load(path, map_location="cpu")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ExportError(
            f"{path} contains pickled objects other than tensors (for example a whole nn.Module). "
            "If you trust the file, rerun with --allow-pickle; the classes it names must be importable.\n"
            f"torch.load reported: {error}"
        ) from error


def is_tensor_mapping(value):
    return isinstance(value, Mapping) and len(value) > 0 and all(torch.is_tensor(item) for item in value.values())


def extract_state_dict(checkpoint, key):
    """Return the state_dict inside a loaded checkpoint.

    `key` selects an entry of a checkpoint dict. Without it, a dict of tensors
    is the state_dict itself, and otherwise the first of CHECKPOINT_KEYS
    present is used.
    """
    if key is not None:
        if not isinstance(checkpoint, Mapping) or key not in checkpoint:
            available = sorted(map(str, checkpoint)) if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
            raise ExportError(f"--key {key!r} not found in the checkpoint; it contains {available}")
        checkpoint = checkpoint[key]

    if isinstance(checkpoint, torch.nn.Module):
        return checkpoint.state_dict()
    if is_tensor_mapping(checkpoint):
        return checkpoint
    if isinstance(checkpoint, Mapping):
        for candidate in CHECKPOINT_KEYS:
            if candidate in checkpoint:
                print(f"using the checkpoint entry {candidate!r} as the state_dict", file=sys.stderr)
                return extract_state_dict(checkpoint[candidate], None)
        raise ExportError(
            f"the checkpoint is a dict without tensors or any of the keys {list(CHECKPOINT_KEYS)}; "
            f"choose the entry with --key (it contains {sorted(map(str, checkpoint))})"
        )
    raise ExportError(f"the checkpoint is a {type(checkpoint).__name__}, not a state_dict, dict or nn.Module")


def build_torchvision_model(name):
    """Build torchvision.models.<name> with random weights, without downloading anything."""
    try:
        import torchvision
    except ImportError as error:
        raise ExportError(
            "--torchvision needs the torchvision package, which is not importable; "
            "install Debian's python3-torchvision or export without --torchvision"
        ) from error

    builder = getattr(torchvision.models, name, None)
    if not callable(builder):
        raise ExportError(f"torchvision.models has no model builder named {name!r}")
    # NOTE: both calls below were tested only against a stand-in torchvision
    # module, because python3-torchvision was not installed where this was written.
    try:
        return builder(weights=None)
    except TypeError:
        # torchvision before 0.13 takes pretrained= instead of weights=.
        return builder(pretrained=False)


def select_tensors(state_dict, keep_num_batches_tracked, strip_prefix):
    """Return the tensors to export by name, applying --strip-prefix and the skips."""
    selected = {}
    for name, tensor in state_dict.items():
        if not torch.is_tensor(tensor):
            print(f"skipping {name!r}: not a tensor ({type(tensor).__name__})", file=sys.stderr)
            continue
        if name.endswith("num_batches_tracked") and not keep_num_batches_tracked:
            continue
        if tensor.is_complex() or tensor.is_quantized:
            raise ExportError(f"tensor {name!r} has dtype {tensor.dtype}, which safetensors F32/F16/BF16/F64 cannot hold")
        if strip_prefix and name.startswith(strip_prefix):
            name = name[len(strip_prefix) :]
        if name in selected:
            raise ExportError(f"two tensors are named {name!r} after removing the prefix {strip_prefix!r}")
        selected[name] = tensor.detach().cpu().contiguous()
    if not selected:
        raise ExportError("the state_dict contains no tensors to export")
    return selected


def verify_export(path, tensors, dtype):
    """Read `path` back and raise ExportError unless it matches torch's conversion of `tensors`."""
    stored, stored_dtypes, _ = safetensors_io.read_safetensors(path)
    if list(stored) != list(tensors):
        raise ExportError(f"{path}: tensor names read back differ from the ones written")
    for name, tensor in tensors.items():
        if stored_dtypes[name] != dtype or list(stored[name].shape) != list(tensor.shape):
            raise ExportError(f"{path}: tensor {name!r} read back with a different dtype or shape")
        expected = tensor.to(TORCH_DTYPES[dtype]).to(torch.float64).numpy()
        actual = stored[name].astype(np.float64)
        if not np.array_equal(actual, expected, equal_nan=True):
            raise ExportError(f"{path}: tensor {name!r} read back with different values")


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        description="Export PyTorch weights (a state_dict, checkpoint or pickled module) to safetensors for lunet."
    )
    parser.add_argument("input", help="file written by torch.save")
    parser.add_argument("output", help="safetensors file to write; replaced only after the export is verified")
    parser.add_argument(
        "--torchvision",
        metavar="NAME",
        help="build torchvision.models.NAME (for example vgg16) without pretrained weights, load INPUT into it "
        "strictly, and export its state_dict; checks that the weights fit the architecture",
    )
    parser.add_argument("--key", help="checkpoint dict entry that contains the state_dict or module")
    parser.add_argument(
        "--dtype", choices=sorted(TORCH_DTYPES), default="F32", help="dtype of every stored tensor (default: F32)"
    )
    parser.add_argument(
        "--strip-prefix",
        metavar="PREFIX",
        help='remove PREFIX from tensor names that start with it, for example "module." from DataParallel',
    )
    parser.add_argument(
        "--keep-num-batches-tracked",
        action="store_true",
        help="also export batch norm's integer num_batches_tracked counters, which inference never reads",
    )
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="load files that contain arbitrary pickled objects, such as a whole nn.Module; "
        "this runs code from the file, so use it only for files you trust",
    )
    return parser.parse_args(argv)


def export(args):
    checkpoint = load_checkpoint(args.input, args.allow_pickle)
    state_dict = extract_state_dict(checkpoint, args.key)

    if args.torchvision:
        model = build_torchvision_model(args.torchvision)
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as error:
            raise ExportError(f"the weights in {args.input} do not fit torchvision's {args.torchvision}: {error}") from error
        state_dict = model.state_dict()

    tensors = select_tensors(state_dict, args.keep_num_batches_tracked, args.strip_prefix)
    metadata = {
        "format": "pt",
        "source": Path(args.input).name,
        "torch_version": torch.__version__,
    }
    if args.torchvision:
        metadata["torchvision_model"] = args.torchvision

    output = Path(args.output)
    partial = output.with_name(output.name + ".partial")
    try:
        safetensors_io.write_safetensors(partial, tensors, metadata, dtype=args.dtype)
        verify_export(partial, tensors, args.dtype)
        os.replace(partial, output)
    finally:
        if partial.exists():
            partial.unlink()

    element_count = sum(tensor.numel() for tensor in tensors.values())
    print(
        f"wrote {len(tensors)} tensors ({element_count} values as {args.dtype}, "
        f"{output.stat().st_size} bytes) to {output}"
    )


def main(argv=None):
    args = parse_arguments(argv)
    try:
        export(args)
    except (ExportError, safetensors_io.SafetensorsError, OSError) as error:
        print(f"export_torch: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
