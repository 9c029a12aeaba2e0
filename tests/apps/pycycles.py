# pycycles.py [REQUESTS=1500] [KIB=1024]: garbage only the cycle collector can free:
# each request makes two objects that refer to each other, one holding a KIB KiB
# buffer, and drops them. CPython frees them at its next generation-0 collection,
# which it starts after 700 container allocations, not after so many bytes: about
# 175 requests, 175 MiB of buffers, wait for it. Prints the bytes it made.
import sys


class Node:
    pass


requests = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
size = (int(sys.argv[2]) if len(sys.argv) > 2 else 1024) << 10
total = 0
for i in range(requests):
    a, b = Node(), Node()
    a.peer, b.peer = b, a
    a.data = bytes([97 + i % 26]) * size  # malloc'd and written: resident
    total += len(a.data)
    del a, b
print(total)
