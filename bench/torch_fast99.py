"""PyTorch's side of the time-to-99% row of `make bench`: the fastest
published MNIST recipe, on the CPU with a given thread count, from process
start to a saved model, then the test accuracy.

  network  conv5x5x24 - maxpool2 - ReLU - conv3x3x32 - maxpool2 - ReLU
           - fc256 - ReLU - fc10
  training Adam lr 1e-2, betas (0.7, 0.9), one-cycle schedule, batch 256,
           one epoch over the 60,000 training images held in memory

    torch_fast99.py THREADS MNIST_DIR OUT SEED
Prints "key value" lines: train_seconds (process start to saved model) and
test_accuracy."""
import os, sys, time

t_start = time.perf_counter()
import torch
import torch.nn as nn
import torch.nn.functional as F

threads, mnist, out, seed = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(seed)


def load(prefix, n):
    with open(os.path.join(mnist, prefix + "-images-idx3-ubyte"), "rb") as f:
        f.read(16)
        px = bytearray(f.read(784 * n))
    with open(os.path.join(mnist, prefix + "-labels-idx1-ubyte"), "rb") as f:
        f.read(8)
        lb = bytearray(f.read(n))
    x = torch.frombuffer(px, dtype=torch.uint8).float().div_(255).reshape(n, 1, 28, 28)
    return (x - 0.1307) / 0.3081, torch.frombuffer(lb, dtype=torch.uint8).long()


x, y = load("train", 60000)
model = nn.Sequential(nn.Conv2d(1, 24, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(24, 32, 3),
                      nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(800, 256), nn.ReLU(),
                      nn.Linear(256, 10))
batch = 256
steps = (60000 + batch - 1) // batch
opt = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.7, 0.9))
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=steps)
perm = torch.randperm(60000)
model.train()
for b in range(steps):
    idx = perm[b * batch:(b + 1) * batch]
    opt.zero_grad()
    F.cross_entropy(model(x[idx]), y[idx]).backward()
    opt.step()
    sched.step()
torch.save(model.state_dict(), out)
t_saved = time.perf_counter()
xt, yt = load("t10k", 10000)
model.eval()
with torch.no_grad():
    correct = sum(int((model(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum())
                  for i in range(0, 10000, 1000))
print("train_seconds %.3f" % (t_saved - t_start))
print("test_accuracy %.4f" % (correct / 10000))
