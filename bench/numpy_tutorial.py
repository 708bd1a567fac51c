"""numpy's side of the tutorial row of `make bench`: the classic from-scratch
tutorial network (784-10-10, ReLU, softmax, full-batch gradient descent) in
float32, X held as 784 x m as the tutorial does, on the first 55,000 MNIST
training images. Prints "key value" lines: ms per iteration (forward and
backward over the whole batch and the update), median of the timed ones.

    numpy_tutorial.py MNIST_DIR ITERATIONS"""
import os, sys, time
import numpy as np

mnist, iters = sys.argv[1], int(sys.argv[2])
with open(os.path.join(mnist, "train-images-idx3-ubyte"), "rb") as f:
    f.read(16)
    X = np.frombuffer(f.read(784 * 55000), dtype=np.uint8).reshape(55000, 784).T
with open(os.path.join(mnist, "train-labels-idx1-ubyte"), "rb") as f:
    f.read(8)
    y = np.frombuffer(f.read(55000), dtype=np.uint8)
X = np.ascontiguousarray(X, dtype=np.float32) / np.float32(255)
m = X.shape[1]
rng = np.random.default_rng(1)
W1 = (rng.random((10, 784), dtype=np.float32) - 0.5)
b1 = (rng.random((10, 1), dtype=np.float32) - 0.5)
W2 = (rng.random((10, 10), dtype=np.float32) - 0.5)
b2 = (rng.random((10, 1), dtype=np.float32) - 0.5)
Y = np.zeros((10, m), dtype=np.float32)
Y[y, np.arange(m)] = 1
lr = np.float32(0.5)
times = []
for i in range(iters):
    t0 = time.perf_counter()
    Z1 = W1 @ X + b1
    A1 = np.maximum(Z1, 0)
    Z2 = W2 @ A1 + b2
    E = np.exp(Z2 - Z2.max(axis=0))
    A2 = E / E.sum(axis=0)
    dZ2 = A2 - Y
    dW2 = dZ2 @ A1.T / m
    db2 = dZ2.sum(axis=1, keepdims=True) / m
    dZ1 = (W2.T @ dZ2) * (Z1 > 0)
    dW1 = dZ1 @ X.T / m
    db1 = dZ1.sum(axis=1, keepdims=True) / m
    W1 -= lr * dW1; b1 -= lr * db1; W2 -= lr * dW2; b2 -= lr * db2
    times.append(time.perf_counter() - t0)
times = sorted(times[2:])
print("tutorial_ms %.3f" % (1000 * times[len(times) // 2]))
print("accuracy_train %.4f" % float((A2.argmax(axis=0) == y).mean()))
