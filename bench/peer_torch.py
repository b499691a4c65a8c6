"""PyTorch's side of `make bench`: the workloads of bench/run.lua in PyTorch.

    /usr/bin/python3 bench/peer_torch.py threads [group ...]  time the workloads
    /usr/bin/python3 bench/peer_torch.py --rss threads        peak RSS of VGG16

The groups are those of bench/run.lua: vgg16, simple_vgg, rows and train
(all when none is given).

Prints one "key<TAB>value" line per result on stdout (seconds per call, or
"ERROR: message"), under the keys bench/run.lua uses; progress goes to
stderr. The sizes repeat bench/shapes.lua; change both together. Timing
follows bench/timing.lua: warm-up calls, then the median of blocks of calls
that each last at least min_block seconds.
"""

import ctypes
import math
import os
import sys
import time

import torch
from torch import nn

VGG16_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M"]
ROW_OPERATIONS = ["softmax", "log_softmax", "sum"]
ROW_SIZES = [(64, 1000), (4096, 10), (16, 1000000)]
COPY_ELEMENTS = 16 * 2**20
TRAIN_BATCH = 64


def emit(key, value):
    text = " ".join(str(value).split())
    print(f"{key}\t{text}", flush=True)


def progress(message):
    print(f"[torch] {message}", file=sys.stderr, flush=True)


last_fastest = None


def measure(fn, warmup=2, samples=9, min_block=0.02):
    """Median seconds per call of fn, as bench/timing.lua measures it."""
    global last_fastest
    once = math.inf
    for _ in range(max(1, warmup)):
        start = time.perf_counter()
        fn()
        once = time.perf_counter() - start
    inner = max(1, math.ceil(min_block / max(once, 1e-9)))
    per_call = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        per_call.append((time.perf_counter() - start) / inner)
    per_call.sort()
    last_fastest = per_call[0]
    n = len(per_call)
    return per_call[n // 2] if n % 2 else (per_call[n // 2 - 1] + per_call[n // 2]) / 2


def cpu_counters():
    """CPU clock ticks: the machine's busy and total time, and this process's."""
    with open("/proc/stat") as stat:
        fields = [int(n) for n in stat.readline().split()[1:9]]
    with open("/proc/self/stat") as own:
        after_name = own.read().rsplit(")", 1)[1].split()
    idle = fields[3] + fields[4]
    total = sum(fields)
    # utime and stime are fields 14 and 15, the 12th and 13th after the name.
    return {"busy": total - idle, "total": total,
            "self": int(after_name[11]) + int(after_name[12])}


def others_share(before, after):
    """Share (0..1) of all CPUs' time that other processes used between two samples."""
    if after["total"] <= before["total"]:
        return 0.0
    others = (after["busy"] - before["busy"]) - (after["self"] - before["self"])
    return max(0.0, others / (after["total"] - before["total"]))


def run(key, fn):
    """Emits fn()'s seconds per call under key (and the fastest block's under
    key.fastest), or the error it raised."""
    global last_fastest
    last_fastest = None
    try:
        emit(key, f"{fn():.9g}")
        if last_fastest is not None:
            emit(f"{key}.fastest", f"{last_fastest:.9g}")
    except Exception as error:  # one failing workload must not stop the others
        progress(f"{key} failed: {error}")
        emit(key, f"ERROR: {type(error).__name__}: {error}")


class VGG16(nn.Module):
    """VGG16 in torchvision's layout: features, avgpool, classifier."""

    def __init__(self, num_classes=1000):
        super().__init__()
        layers = []
        channels = 3
        for v in VGG16_CONFIG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1),
                           nn.ReLU(inplace=True)]
                channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg16_convs():
    """(name, in_channels, size) of each VGG16 convolution, as in bench/shapes.lua."""
    convs = []
    index, channels, size = 0, 3, 224
    for v in VGG16_CONFIG:
        if v == "M":
            size //= 2
            index += 1
        else:
            convs.append((f"features.{index}", channels, size))
            channels = v
            index += 2
    return convs


def fashion_vgg(width=32, hidden=256, dropout=0.3, num_classes=10):
    """The network of models/fashion_vgg.lua."""
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.MaxPool2d(2)]
    return nn.Sequential(*block(1, width), *block(width, 2 * width), nn.Flatten(),
                         nn.Linear(2 * width * 7 * 7, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, num_classes))


def openblas():
    """The OpenBLAS library that PyTorch loaded, or None."""
    torch.randn(8, 8) @ torch.randn(8, 8)
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line and "/" in line}
    for path in sorted(paths):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def set_threads(threads):
    """Sets PyTorch's threads and, since PyTorch leaves them alone, OpenBLAS's."""
    torch.set_num_threads(threads)
    blas = openblas()
    if blas is not None and hasattr(blas, "openblas_set_num_threads"):
        blas.openblas_set_num_threads(threads)
    return blas


def emit_config(blas):
    emit("threads", torch.get_num_threads())
    emit("torch_version", torch.__version__)
    config = torch.__config__.show()
    capability = next((line.split(":", 1)[1].strip() for line in config.splitlines()
                       if "CPU capability usage" in line), "unknown")
    emit("cpu_capability", capability)
    emit("mkldnn", "oneDNN" if torch.backends.mkldnn.is_available() else "off")
    if blas is not None:
        blas.openblas_get_corename.restype = ctypes.c_char_p
        blas.openblas_get_config.restype = ctypes.c_char_p
        emit("blas_core", blas.openblas_get_corename().decode())
        emit("blas_config", blas.openblas_get_config().decode())
    else:
        emit("blas_core", "not OpenBLAS")


def vmhwm_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM line in /proc/self/status")


def peak_rss(threads):
    """Peak RSS of building VGG16 and one batch-1 forward, and the RSS of PyTorch alone."""
    set_threads(threads)
    emit("rss.baseline_bytes", vmhwm_bytes())
    model = VGG16().eval()
    with torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    emit("rss.peak_bytes", vmhwm_bytes())


def time_vgg16():
    progress("building VGG16")
    model = VGG16().eval()
    with torch.no_grad():
        x1 = torch.randn(1, 3, 224, 224)
        progress("VGG16 forward, batch 1")
        run("vgg16_b1", lambda: measure(lambda: model(x1), warmup=2, samples=15))
        x8 = torch.randn(8, 3, 224, 224)
        progress("VGG16 forward, batch 8")
        run("vgg16_b8", lambda: measure(lambda: model(x8), warmup=1, samples=7))
        for name, channels, size in vgg16_convs():
            progress(f"VGG16 {name} alone, {channels}x{size}x{size}")
            layer = model.features[int(name.split(".")[1])]
            x = torch.randn(1, channels, size, size)
            run(f"conv.{name}", lambda: measure(lambda: layer(x), warmup=2, samples=15))


def time_simple_vgg():
    progress("simple_vgg call, 1x3x32x32")
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16 * 16 * 16, 10)).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        run("simple_vgg", lambda: measure(lambda: model(x), warmup=50, samples=25))


def time_row_operations():
    operations = {
        "softmax": lambda x: torch.softmax(x, -1),
        "log_softmax": lambda x: torch.log_softmax(x, -1),
        "sum": lambda x: torch.sum(x, -1),
    }
    for op in ROW_OPERATIONS:
        for rows, columns in ROW_SIZES:
            progress(f"{op} over {rows}x{columns}")
            x = torch.randn(rows, columns)
            fn = operations[op]
            run(f"{op}.{rows}x{columns}", lambda: measure(lambda: fn(x), warmup=3, samples=25))

    progress(f"copy_ of {COPY_ELEMENTS * 4 // 2**20} MiB")
    source = torch.randn(COPY_ELEMENTS)
    destination = torch.zeros(COPY_ELEMENTS)
    run("copy", lambda: measure(lambda: destination.copy_(source), warmup=3, samples=25))


def time_train_step():
    progress(f"fashion_vgg training step, batch {TRAIN_BATCH}")
    model = fashion_vgg().train()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    x = torch.rand(TRAIN_BATCH, 1, 28, 28)
    target = torch.tensor([(i * 7) % 10 for i in range(1, TRAIN_BATCH + 1)])

    def step():
        loss = criterion(model(x), target)
        loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    run("train_step", lambda: measure(step, warmup=3, samples=25))


GROUPS = {
    "vgg16": time_vgg16,
    "simple_vgg": time_simple_vgg,
    "rows": time_row_operations,
    "train": time_train_step,
}


def main(argv):
    rss = "--rss" in argv
    rest = [a for a in argv if a != "--rss"]
    try:
        threads = int(rest[0]) if rest else 2
        if threads < 1:
            raise ValueError
    except ValueError:
        print(f"peer_torch.py: thread count must be a positive integer, got {rest[0]!r}",
              file=sys.stderr)
        return 2
    selected = rest[1:] or list(GROUPS)
    unknown = [name for name in selected if name not in GROUPS]
    if unknown:
        print(f"peer_torch.py: unknown group {unknown[0]!r} (expected {', '.join(GROUPS)})",
              file=sys.stderr)
        return 2

    torch.manual_seed(0)
    if rss:
        peak_rss(threads)
        return 0

    emit_config(set_threads(threads))
    for name in selected:
        cpu_start = cpu_counters()
        GROUPS[name]()
        emit(f"cpu.others.{name}", f"{others_share(cpu_start, cpu_counters()):.4f}")
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
