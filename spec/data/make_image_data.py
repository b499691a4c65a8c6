"""Write the small images and the transform fixture that spec/image_spec.lua reads.

Run from the repository root with Debian's Python (python3-pil and
python3-torch):

    /usr/bin/python3 spec/data/make_image_data.py

The images are tiny files with known pixels; image_pixels.safetensors holds
PIL's decoding of each. image_transforms.safetensors holds inputs and the expected outputs of resize, center crop and normalize.
torchvision is not packaged in Debian 12, so the expected values come from
what torchvision calls on tensors: torch.nn.functional.interpolate
(bilinear, align_corners=False, antialias=False) for resize, and for center
crop the same steps as torchvision.transforms.functional.center_crop (pad
with zeros when the crop is larger, then an offset of round((size - crop) / 2),
Python's round).
"""

import json
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import safetensors_io  # noqa: E402

# A 3 x 4 RGB image (height 3, width 4) whose channels differ everywhere.
RGB = np.array(
    [
        [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]],
        [[0, 0, 0], [10, 20, 30], [100, 150, 200], [251, 252, 253]],
        [[1, 2, 3], [128, 64, 32], [7, 77, 177], [90, 180, 45]],
    ],
    dtype=np.uint8,
)


def write_images():
    Image.fromarray(RGB, "RGB").save(os.path.join(HERE, "rgb.png"))
    Image.fromarray(RGB, "RGB").save(os.path.join(HERE, "rgb.bmp"))

    grey = np.array([[0, 128, 255], [17, 34, 51]], dtype=np.uint8)
    Image.fromarray(grey, "L").save(os.path.join(HERE, "grey.png"))

    rgba = np.array(
        [[[255, 0, 0, 0], [0, 255, 0, 128]], [[0, 0, 255, 255], [10, 20, 30, 40]]], dtype=np.uint8
    )
    Image.fromarray(rgba, "RGBA").save(os.path.join(HERE, "rgba.png"))

    grey_alpha = Image.fromarray(np.array([[[200, 10], [50, 255]]], dtype=np.uint8), "LA")
    grey_alpha.save(os.path.join(HERE, "grey_alpha.png"))

    palette = Image.fromarray(RGB, "RGB").convert("P", palette=Image.ADAPTIVE, colors=16)
    palette.save(os.path.join(HERE, "palette.png"))

    # 16-bit grey: values that 8 bits cannot hold.
    grey16 = np.array([[0, 65535], [1000, 32768]], dtype=np.uint16)
    Image.fromarray(grey16, "I;16").save(os.path.join(HERE, "grey16.png"))

    # 16 x 16 JPEGs of four flat 8 x 8 blocks: flat blocks survive the
    # transform with little error, so the decoded values are predictable.
    blocks = np.zeros((16, 16, 3), dtype=np.uint8)
    blocks[:8, :8] = [200, 30, 40]
    blocks[:8, 8:] = [20, 180, 60]
    blocks[8:, :8] = [50, 60, 220]
    blocks[8:, 8:] = [128, 128, 128]
    Image.fromarray(blocks, "RGB").save(os.path.join(HERE, "blocks.jpg"), quality=100, subsampling=0)
    Image.fromarray(blocks, "RGB").save(
        os.path.join(HERE, "blocks_progressive.jpg"), quality=95, progressive=True
    )
    Image.fromarray(blocks[:, :, 1], "L").save(os.path.join(HERE, "grey.jpg"), quality=100)


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def write_huge_headers():
    """Headers that claim huge images and hold no pixels."""
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    with open(os.path.join(HERE, "huge.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b""))
    # BITMAPINFOHEADER: 30000 x 30000 pixels of 24 bits, pixel data at byte 54.
    info = struct.pack("<IiiHHIIiiII", 40, 30000, 30000, 1, 24, 0, 0, 2835, 2835, 0, 0)
    with open(os.path.join(HERE, "huge.bmp"), "wb") as f:
        f.write(b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + info)


IMAGE_FILES = [
    "rgb.png",
    "rgb.bmp",
    "grey.png",
    "rgba.png",
    "grey_alpha.png",
    "palette.png",
    "blocks.jpg",
    "blocks_progressive.jpg",
    "grey.jpg",
]


def write_pixels():
    """Store PIL's RGB decoding of each image as a 3 x H x W tensor in [0, 1]."""
    tensors = {}
    for name in IMAGE_FILES:
        with Image.open(os.path.join(HERE, name)) as image:
            rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        tensors[name] = torch.from_numpy(rgb).permute(2, 0, 1).contiguous()
    metadata = {"source": "PIL " + Image.__version__ + ", Image.open(path).convert('RGB') / 255"}
    safetensors_io.write_safetensors(os.path.join(HERE, "image_pixels.safetensors"), tensors, metadata)


def center_crop(image, height, width):
    """Follow torchvision's center_crop on tensors step by step."""
    image_height, image_width = image.shape[-2:]
    if width > image_width or height > image_height:
        left = (width - image_width) // 2 if width > image_width else 0
        top = (height - image_height) // 2 if height > image_height else 0
        right = (width - image_width + 1) // 2 if width > image_width else 0
        bottom = (height - image_height + 1) // 2 if height > image_height else 0
        image = F.pad(image, [left, right, top, bottom], value=0.0)
        image_height, image_width = image.shape[-2:]
        if width == image_width and height == image_height:
            return image
    top = int(round((image_height - height) / 2.0))
    left = int(round((image_width - width) / 2.0))
    return image[..., top : top + height, left : left + width]


def resized_shape(height, width, size):
    """torchvision's output size for Resize(size) with an int size."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def resize(image, height, width):
    batched = image if image.dim() == 4 else image.unsqueeze(0)
    out = F.interpolate(batched, size=[height, width], mode="bilinear", align_corners=False)
    return out if image.dim() == 4 else out.squeeze(0)


def write_transforms():
    torch.manual_seed(0)
    tensors = {}
    cases = {}
    image = torch.rand(3, 7, 10)
    tall = torch.rand(3, 9, 4)
    batch = torch.rand(2, 3, 5, 6)
    tensors["image"] = image
    tensors["tall"] = tall
    tensors["batch"] = batch

    resize_cases = [
        ("down", "image", [4, 5]),
        ("up", "image", [15, 23]),
        ("same", "image", [7, 10]),
        ("mixed", "image", [3, 17]),
        ("one_pixel", "image", [1, 1]),
        ("shorter", "image", 5),
        ("shorter_up", "image", 13),
        ("tall_shorter", "tall", 3),
        ("batch", "batch", [4, 4]),
    ]
    for name, source, size in resize_cases:
        values = tensors[source]
        height, width = resized_shape(*values.shape[-2:], size) if isinstance(size, int) else size
        tensors[f"resize.{name}"] = resize(values, height, width)
        cases[f"resize.{name}"] = {"input": source, "size": size}

    crop_cases = [
        ("odd", "image", [4, 4]),
        ("ties", "image", [5, 5]),
        ("by_one", "image", [6, 9]),
        ("square", "image", 3),
        ("larger", "image", [9, 13]),
        ("larger_odd", "image", [10, 11]),
        ("mixed", "image", [9, 4]),
        ("batch", "batch", [2, 3]),
    ]
    for name, source, size in crop_cases:
        height, width = (size, size) if isinstance(size, int) else size
        tensors[f"center_crop.{name}"] = center_crop(tensors[source], height, width).contiguous()
        cases[f"center_crop.{name}"] = {"input": source, "size": size}

    mean = [0.485, 0.456, 0.406]
    std = [0.229, 0.224, 0.225]
    shape = (-1, 1, 1)
    tensors["normalize.image"] = (image - torch.tensor(mean).view(shape)) / torch.tensor(std).view(shape)
    tensors["normalize.batch"] = (batch - torch.tensor(mean).view(shape)) / torch.tensor(std).view(shape)
    cases["normalize"] = {"mean": mean, "std": std}

    metadata = {"cases": json.dumps(cases)}
    safetensors_io.write_safetensors(os.path.join(HERE, "image_transforms.safetensors"), tensors, metadata)


if __name__ == "__main__":
    write_images()
    write_huge_headers()
    write_pixels()
    write_transforms()
