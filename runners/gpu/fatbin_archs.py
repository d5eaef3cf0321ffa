"""Lists the kinds (cubin or PTX) and SM architectures of the CUDA kernels in a shared library's .nv_fatbin section.

Usage: python3 fatbin_archs.py libnd4jcuda.so OFFSET SIZE   (hex, from `readelf -S -W libnd4jcuda.so | grep nv_fatbin`)
A GPU of compute capability X.Z can run a cubin for sm_XY with Y <= Z; without PTX nothing is compiled for newer GPUs.
"""
import collections
import struct
import sys

path, off, size = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3], 16)
with open(path, 'rb') as f:
    f.seek(off)
    data = f.read(size)
pos, counts = 0, collections.Counter()
while pos + 16 <= len(data):
    magic, version, hsize, fsize = struct.unpack_from('<IHHQ', data, pos)
    if magic != 0xBA55ED50:
        pos += 8
        continue
    e, end = pos + hsize, pos + hsize + fsize
    while e < end:
        kind, _, ehdr, esize = struct.unpack_from('<HHIQ', data, e)
        arch = struct.unpack_from('<I', data, e + 28)[0]
        counts[('PTX' if kind == 1 else 'cubin' if kind == 2 else kind, arch)] += 1
        e += ehdr + esize
    pos = end
for k, v in sorted(counts.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])): print(k[0], 'sm_%d' % k[1], v)
