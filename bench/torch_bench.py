"""PyTorch's side of `make bench`: the same networks, batch size, optimiser
(SGD with momentum) and MNIST training images as bench/bench.c, on the CPU
with a given thread count. Prints "key value" lines.

    torch_bench.py THREADS SECONDS MNIST_DIR"""
import os, sys, time
import torch
import torch.nn as nn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
secs = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
mnist = sys.argv[3] if len(sys.argv) > 3 else "data/mnist"
torch.set_num_threads(threads)
torch.manual_seed(1)


def mnist_train(n):
    """The first n training images (floats in [0, 1], N x 1 x 28 x 28) and labels."""
    with open(os.path.join(mnist, "train-images-idx3-ubyte"), "rb") as f:
        f.read(16)
        px = bytearray(f.read(784 * n))
    with open(os.path.join(mnist, "train-labels-idx1-ubyte"), "rb") as f:
        f.read(8)
        lb = bytearray(f.read(n))
    x = torch.frombuffer(px, dtype=torch.uint8).float().div_(255).reshape(n, 1, 28, 28)
    return x, torch.frombuffer(lb, dtype=torch.uint8).long()

def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64),
                         nn.ReLU(), nn.Linear(64, 10))

def lenet5():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))

def torchcnn():  # the PyTorch MNIST example network
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128),
                         nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))

def cnn():  # digitnet's "cnn" preset
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]
    return nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64),
                         *block(64, 64), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 256),
                         nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.4), nn.Linear(256, 10))

def train_rate(make, n):
    model = make()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = mnist_train(n)
    lossf = nn.CrossEntropyLoss()
    done, t0, p = 0, None, 0
    while True:
        for b in range(0, n - 63, 64):
            if p == 0 and b == 4 * 64:
                t0, done = time.perf_counter(), 0
            opt.zero_grad()
            loss = lossf(model(x[b:b + 64]), y[b:b + 64])
            loss.backward()
            opt.step()
            done += 64
        p += 1
        if t0 is not None and time.perf_counter() - t0 > secs:
            return done / (time.perf_counter() - t0)

def infer(make):
    model = make().eval()
    x, _ = mnist_train(1000)
    with torch.no_grad():
        model(x)
        t0, reps = time.perf_counter(), 0
        while time.perf_counter() - t0 < 1.0:
            model(x)
            reps += 1
        rate = reps * 1000 / (time.perf_counter() - t0)
        one = x[:1]
        for _ in range(100):
            model(one)
        t0, reps = time.perf_counter(), 0
        while time.perf_counter() - t0 < 1.0:
            model(one)
            reps += 1
        lat = (time.perf_counter() - t0) / reps * 1e6
    return rate, lat

print("threads", threads)
print("train_mlp %.0f" % train_rate(mlp, 6400))
print("train_lenet5 %.0f" % train_rate(lenet5, 6400))
print("train_torchcnn %.0f" % train_rate(torchcnn, 1280))
print("train_cnn %.0f" % train_rate(cnn, 1280))
r, l = infer(cnn)
print("infer_batch_cnn %.0f\nlatency_us_cnn %.1f" % (r, l))
r, l = infer(mlp)
print("infer_batch_mlp %.0f\nlatency_us_mlp %.1f" % (r, l))
