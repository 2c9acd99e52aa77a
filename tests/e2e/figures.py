# Readers the figure tests share (tests/e2e/test_figures.sh): PNG decoded with zlib alone,
# .npy parsed by hand, and the colorbar found by its pixels, so the checks depend on no
# constant of the drawing code.
import struct, zlib


def png_size(path):
    b = open(path, 'rb').read(24)
    assert b[:8] == b'\x89PNG\r\n\x1a\n', path + ' is not a PNG'
    return struct.unpack('>II', b[16:24])


def png_decode(path):
    """An 8-bit RGB non-interlaced PNG as (w, h, px) with px[y][x] = (r, g, b)."""
    b = open(path, 'rb').read()
    assert b[:8] == b'\x89PNG\r\n\x1a\n', path + ' is not a PNG'
    pos, idat, ihdr = 8, b'', None
    while pos < len(b):
        n, typ = struct.unpack('>I4s', b[pos:pos + 8])
        if typ == b'IHDR': ihdr = struct.unpack('>IIBBBBB', b[pos + 8:pos + 8 + n])
        elif typ == b'IDAT': idat += b[pos + 8:pos + 8 + n]
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype == 2 and interlace == 0, ihdr
    raw, stride, prev, px = zlib.decompress(idat), 3 * w, bytearray(3 * w), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a, up, c = (line[x - 3] if x >= 3 else 0), prev[x], (prev[x - 3] if x >= 3 else 0)
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + up) & 255
            elif f == 3: line[x] = (line[x] + (a + up) // 2) & 255
            elif f == 4:
                p = a + up - c; pa, pb, pc = abs(p - a), abs(p - up), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else up if pb <= pc else c)) & 255
            else: assert f == 0, f
        px.append([tuple(line[3 * x:3 * x + 3]) for x in range(w)]); prev = line
    return w, h, px


def colourful(p):
    return max(p) - min(p) > 40  # not white, black or grey


def colorbar(px, x_from, y0, y1):
    """The column right of x_from with the longest run of coloured pixels in [y0, y1): the
    colorbar. Returns its pixels bottom to top."""
    best, col = -1, None
    for x in range(x_from, len(px[0])):
        run = sum(1 for y in range(y0, y1) if colourful(px[y][x]))
        if run > best: best, col = run, x
    assert best > (y1 - y0) // 2, ('no colorbar', best)
    return [px[y][col] for y in range(y1 - 1, y0 - 1, -1) if colourful(px[y][col]) or px[y][col] == (255, 255, 255)]


def npy_load(path):
    """A little-endian float64 .npy as (shape, flat list)."""
    b = open(path, 'rb').read()
    assert b[:6] == b'\x93NUMPY', path
    hl = struct.unpack('<H', b[8:10])[0] if b[6] == 1 else struct.unpack('<I', b[8:12])[0]
    off = 10 if b[6] == 1 else 12
    header = b[off:off + hl].decode('latin1')
    assert "'<f8'" in header and "'fortran_order': False" in header, header
    shape = tuple(int(v) for v in header.split('(')[1].split(')')[0].split(',') if v.strip())
    n = 1
    for s in shape: n *= s
    return shape, list(struct.unpack('<%dd' % n, b[off + hl:off + hl + 8 * n]))
