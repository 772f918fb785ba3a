#!/usr/bin/python3
"""Draws govsim's DSI registry faces and the face-compare test fixtures.

Every face is a drawn cartoon portrait (no real person): face shape, skin tone, hair, eyes,
glasses, mouth, clothes and a patterned background differ from one resident to the next, and
a little grain and blur make it photo-ish. The output is deterministic (fixed seeds), so
running it again rewrites the same pictures.

    python3 scripts/make-faces.py        # from the repository root; needs python3-pil

Writes sim/faces/*.jpg (480x600, the registry named by demo/people.json) and
tests/fixtures/faces/ (variants of wong.jpg that must still match, and one unrelated scene).
"""
import io
import math
import os
import random
import sys

from PIL import Image, ImageDraw, ImageFilter

W, H = 480, 600
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
FACES = os.path.join(ROOT, 'sim', 'faces')
FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'faces')

# One entry per registered resident. Colours are RGB; positions are in pixels of the 480x600 frame.
PEOPLE = {
    'wong': dict(seed=11, bg=(196, 222, 240), bg2=(120, 160, 200), pattern='vgrad',
                 skin=(238, 200, 170), face=(240, 300, 150, 190), hair=(30, 24, 20), hair_style='short',
                 eyes=(38, 'round'), glasses='square', mouth='smile', shirt=(40, 60, 110), collar='tie',
                 tie=(170, 30, 40)),
    'chan': dict(seed=22, bg=(60, 60, 70), bg2=(140, 120, 90), pattern='diag',
                 skin=(200, 150, 110), face=(250, 290, 170, 170), hair=(90, 60, 30), hair_style='bald',
                 eyes=(44, 'narrow'), glasses='none', mouth='flat', shirt=(230, 230, 225), collar='open',
                 tie=None),
    'lei': dict(seed=33, bg=(250, 230, 180), bg2=(230, 150, 120), pattern='circles',
                skin=(250, 220, 200), face=(230, 320, 130, 180), hair=(20, 20, 25), hair_style='long',
                eyes=(34, 'big'), glasses='round', mouth='open', shirt=(150, 40, 90), collar='round',
                tie=None),
    'ctt03': dict(seed=44, bg=(120, 180, 120), bg2=(30, 80, 40), pattern='hstripes',
                  skin=(170, 120, 90), face=(220, 280, 160, 200), hair=(200, 200, 205), hair_style='fringe',
                  eyes=(40, 'round'), glasses='none', mouth='smile', shirt=(20, 20, 20), collar='tie',
                  tie=(230, 200, 40)),
    'ho': dict(seed=55, bg=(90, 40, 40), bg2=(230, 120, 60), pattern='hgrad',
               skin=(225, 175, 140), face=(260, 300, 140, 175), hair=(60, 40, 25), hair_style='spiky',
               eyes=(42, 'narrow'), glasses='square', mouth='flat', shirt=(90, 140, 200), collar='open',
               tie=None),
    'cheong': dict(seed=66, bg=(200, 200, 230), bg2=(60, 50, 120), pattern='checks',
                   skin=(245, 210, 185), face=(240, 310, 135, 185), hair=(110, 50, 30), hair_style='bun',
                   eyes=(36, 'big'), glasses='none', mouth='smile', shirt=(240, 140, 160), collar='round',
                   tie=None),
}


def mix(a, b, t):
    return tuple(int(round(a[i] + (b[i] - a[i]) * t)) for i in range(3))


def shade(c, f):
    return tuple(max(0, min(255, int(round(v * f)))) for v in c)


def background(p, rnd):
    img = Image.new('RGB', (W, H), p['bg'])
    d = ImageDraw.Draw(img)
    a, b = p['bg'], p['bg2']
    kind = p['pattern']
    if kind == 'vgrad':
        for y in range(H):
            d.line([(0, y), (W, y)], fill=mix(a, b, y / H))
    elif kind == 'hgrad':
        for x in range(W):
            d.line([(x, 0), (x, H)], fill=mix(a, b, x / W))
    elif kind == 'diag':
        for k in range(0, W + H, 40):
            d.polygon([(k, 0), (k + 20, 0), (k + 20 - H, H), (k - H, H)], fill=b)
    elif kind == 'hstripes':
        for y in range(0, H, 60):
            d.rectangle([0, y, W, y + 25], fill=b)
    elif kind == 'checks':
        for y in range(0, H, 80):
            for x in range(0, W, 80):
                if (x // 80 + y // 80) % 2 == 0:
                    d.rectangle([x, y, x + 79, y + 79], fill=b)
    elif kind == 'circles':
        for _ in range(14):
            cx, cy, r = rnd.randrange(W), rnd.randrange(H), rnd.randrange(30, 90)
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=mix(a, b, rnd.random()))
    return img


def draw_hair_back(d, p, cx, cy, rx, ry):
    hc = p['hair']
    if p['hair_style'] == 'long':
        d.rounded_rectangle([cx - rx - 30, cy - ry - 20, cx + rx + 30, cy + ry + 120], radius=90, fill=hc)
    elif p['hair_style'] == 'bun':
        d.ellipse([cx - 60, cy - ry - 110, cx + 60, cy - ry + 10], fill=hc)


def draw_hair_front(d, p, cx, cy, rx, ry):
    hc = p['hair']
    s = p['hair_style']
    if s == 'short':
        d.chord([cx - rx - 8, cy - ry - 15, cx + rx + 8, cy + ry * 0.4], 180, 360, fill=hc)
        d.rectangle([cx - rx - 8, cy - ry * 0.3, cx - rx + 14, cy + 10], fill=hc)
        d.rectangle([cx + rx - 14, cy - ry * 0.3, cx + rx + 8, cy + 10], fill=hc)
    elif s == 'fringe':
        d.chord([cx - rx - 12, cy - ry - 25, cx + rx + 12, cy + ry * 0.1], 180, 360, fill=hc)
        d.rectangle([cx - rx + 5, cy - ry * 0.7, cx + rx - 5, cy - ry * 0.45], fill=hc)
    elif s == 'long':
        d.chord([cx - rx - 10, cy - ry - 20, cx + rx + 10, cy + ry * 0.2], 180, 360, fill=hc)
        d.polygon([(cx - rx, cy - ry * 0.5), (cx + 20, cy - ry * 0.9), (cx - 10, cy - ry * 0.4)], fill=hc)
    elif s == 'spiky':
        for i in range(9):
            x = cx - rx + i * (2 * rx) / 8
            d.polygon([(x - 28, cy - ry * 0.55), (x + 28, cy - ry * 0.55), (x + 6, cy - ry - 55)], fill=hc)
    elif s == 'bun':
        d.chord([cx - rx - 6, cy - ry - 10, cx + rx + 6, cy + ry * 0.3], 180, 360, fill=hc)
    elif s == 'bald':
        d.arc([cx - rx + 10, cy - ry + 10, cx + rx - 10, cy + ry], 200, 340, fill=shade(p['skin'], 1.08), width=6)
        d.rectangle([cx - rx - 4, cy - 30, cx - rx + 12, cy + 10], fill=hc)
        d.rectangle([cx + rx - 12, cy - 30, cx + rx + 4, cy + 10], fill=hc)


def draw_eyes(d, p, cx, cy, rx, ry):
    sp, kind = p['eyes']
    ey = cy - ry * 0.12
    for sx in (-1, 1):
        ex = cx + sx * sp * 1.6
        if kind == 'round':
            d.ellipse([ex - 16, ey - 12, ex + 16, ey + 12], fill=(250, 250, 250))
            d.ellipse([ex - 8, ey - 8, ex + 8, ey + 8], fill=(50, 35, 25))
        elif kind == 'narrow':
            d.ellipse([ex - 20, ey - 6, ex + 20, ey + 6], fill=(245, 245, 245))
            d.ellipse([ex - 6, ey - 6, ex + 6, ey + 6], fill=(30, 20, 15))
        else:  # big
            d.ellipse([ex - 20, ey - 17, ex + 20, ey + 17], fill=(255, 255, 255))
            d.ellipse([ex - 11, ey - 11, ex + 11, ey + 11], fill=(70, 45, 30))
            d.ellipse([ex - 3, ey - 7, ex + 3, ey - 1], fill=(255, 255, 255))
        brow = shade(p['hair'], 0.8) if p['hair_style'] != 'bald' else (60, 45, 35)
        d.line([(ex - 22, ey - 30 + sx * 2), (ex + 22, ey - 30 - sx * 2)], fill=brow, width=7)
        if p['glasses'] == 'round':
            d.ellipse([ex - 30, ey - 27, ex + 30, ey + 27], outline=(40, 40, 40), width=5)
        elif p['glasses'] == 'square':
            d.rectangle([ex - 32, ey - 22, ex + 32, ey + 22], outline=(20, 20, 20), width=6)
    if p['glasses'] != 'none':
        d.line([(cx - sp * 1.6 + 30, ey), (cx + sp * 1.6 - 30, ey)], fill=(30, 30, 30), width=5)


def draw_mouth(d, p, cx, cy, ry):
    my = cy + ry * 0.5
    lip = (170, 60, 60)
    if p['mouth'] == 'smile':
        d.arc([cx - 45, my - 35, cx + 45, my + 20], 20, 160, fill=lip, width=8)
    elif p['mouth'] == 'flat':
        d.line([(cx - 35, my), (cx + 35, my)], fill=lip, width=8)
    else:
        d.ellipse([cx - 25, my - 12, cx + 25, my + 20], fill=(110, 30, 40))


def portrait(p):
    rnd = random.Random(p['seed'])
    img = background(p, rnd)
    d = ImageDraw.Draw(img)
    cx, cy, rx, ry = p['face']
    skin = p['skin']
    # Shoulders and clothes.
    d.rounded_rectangle([cx - 200, cy + ry + 40, cx + 200, H + 120], radius=110, fill=p['shirt'])
    d.rectangle([cx - 35, cy + ry - 30, cx + 35, cy + ry + 60], fill=shade(skin, 0.9))  # neck
    if p['collar'] == 'tie':
        d.polygon([(cx - 45, cy + ry + 40), (cx, cy + ry + 80), (cx + 45, cy + ry + 40)], fill=(245, 245, 245))
        d.polygon([(cx - 12, cy + ry + 70), (cx + 12, cy + ry + 70), (cx + 20, H), (cx - 20, H)], fill=p['tie'])
    elif p['collar'] == 'open':
        d.polygon([(cx - 50, cy + ry + 40), (cx, cy + ry + 110), (cx + 50, cy + ry + 40)], fill=shade(skin, 0.9))
    else:
        d.chord([cx - 60, cy + ry + 10, cx + 60, cy + ry + 80], 0, 180, fill=shade(skin, 0.9))
    draw_hair_back(d, p, cx, cy, rx, ry)
    # Ears, face, cheeks, nose.
    for sx in (-1, 1):
        ex = cx + sx * rx
        d.ellipse([ex - 22, cy - 30, ex + 22, cy + 35], fill=shade(skin, 0.92))
    d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=skin)
    for sx in (-1, 1):
        d.ellipse([cx + sx * rx * 0.55 - 22, cy + ry * 0.2 - 12, cx + sx * rx * 0.55 + 22, cy + ry * 0.2 + 12],
                  fill=mix(skin, (230, 120, 120), 0.3))
    d.polygon([(cx, cy - ry * 0.05), (cx - 16, cy + ry * 0.28), (cx + 12, cy + ry * 0.3)], fill=shade(skin, 0.82))
    draw_hair_front(d, p, cx, cy, rx, ry)
    draw_eyes(d, p, cx, cy, rx, ry)
    draw_mouth(d, p, cx, cy, ry)
    # Photo-ish: soften the cartoon edges, add grain and a lighting falloff.
    img = img.filter(ImageFilter.GaussianBlur(1.6))
    return grain(img, rnd, 7)


def grain(img, rnd, amp):
    """Adds deterministic low-amplitude noise and a soft vignette."""
    px = img.load()
    w, h = img.size
    for y in range(h):
        vy = ((y - h / 2) / (h / 2)) ** 2
        for x in range(w):
            vx = ((x - w / 2) / (w / 2)) ** 2
            f = 1.0 - 0.12 * (vx + vy)
            n = rnd.gauss(0, amp)
            r, g, b = px[x, y]
            px[x, y] = (max(0, min(255, int(r * f + n))), max(0, min(255, int(g * f + n))),
                        max(0, min(255, int(b * f + n))))
    return img


def landscape():
    """An unrelated picture: sky, sun, mountains, a lake."""
    rnd = random.Random(99)
    w, h = 640, 480
    img = Image.new('RGB', (w, h))
    d = ImageDraw.Draw(img)
    for y in range(h):
        d.line([(0, y), (w, y)], fill=mix((90, 150, 230), (250, 210, 160), y / (h * 0.6)) if y < h * 0.6 else
               mix((40, 90, 140), (20, 50, 80), (y - h * 0.6) / (h * 0.4)))
    d.ellipse([470, 60, 560, 150], fill=(255, 240, 170))
    d.polygon([(0, 300), (120, 160), (230, 290), (360, 120), (520, 290), (640, 200), (640, 300)], fill=(80, 90, 110))
    d.polygon([(320, 160), (360, 120), (400, 165)], fill=(245, 245, 250))
    d.polygon([(0, 300), (90, 250), (200, 290), (330, 240), (480, 295), (640, 260), (640, 300)], fill=(50, 110, 60))
    for i in range(12):
        x = 20 + i * 55 + rnd.randrange(20)
        d.polygon([(x, 300), (x + 14, 250 - rnd.randrange(30)), (x + 28, 300)], fill=(30, 70, 40))
    for i in range(30):
        y = 310 + rnd.randrange(160)
        x = rnd.randrange(w)
        d.line([(x, y), (x + 30 + rnd.randrange(50), y)], fill=(120, 160, 200), width=2)
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    return grain(img, rnd, 6)


def jpeg_bytes(img, quality):
    out = io.BytesIO()
    img.save(out, 'JPEG', quality=quality, optimize=True)
    return out.getvalue()


def save_jpeg(img, path, quality=85):
    data = jpeg_bytes(img, quality)
    with open(path, 'wb') as f:
        f.write(data)
    return len(data)


def main():
    os.makedirs(FACES, exist_ok=True)
    os.makedirs(FIXTURES, exist_ok=True)
    for name, p in PEOPLE.items():
        n = save_jpeg(portrait(p), os.path.join(FACES, name + '.jpg'))
        if n > 80 * 1024:
            sys.exit(f'{name}.jpg: {n} bytes, over 80 KB')
        print(f'sim/faces/{name}.jpg {n} bytes')
    # Variants of the registered face as it is stored (decoded from the JPEG), which must still match.
    wong = Image.open(os.path.join(FACES, 'wong.jpg')).convert('RGB')
    corner = wong.getpixel((4, 4))
    wong.save(os.path.join(FIXTURES, 'wong.png'), 'PNG', optimize=True)
    save_jpeg(wong.resize((round(W * 0.6), round(H * 0.6)), Image.LANCZOS),
              os.path.join(FIXTURES, 'wong_resized60.jpg'), 90)
    dx, dy = round(W * 0.06), round(H * 0.06)
    save_jpeg(wong.crop((dx, dy, W - dx, H - dy)), os.path.join(FIXTURES, 'wong_cropped6.jpg'), 90)
    for deg, tag in ((4, 'plus4'), (-4, 'minus4')):
        # PIL rotates counter-clockwise for positive angles; corners get the background colour.
        save_jpeg(wong.rotate(deg, resample=Image.BICUBIC, fillcolor=corner),
                  os.path.join(FIXTURES, f'wong_rot_{tag}.jpg'), 90)
    save_jpeg(wong, os.path.join(FIXTURES, 'wong_q70.jpg'), 70)
    save_jpeg(landscape(), os.path.join(FIXTURES, 'unrelated.jpg'), 85)
    print('tests/fixtures/faces/: wong.png wong_resized60.jpg wong_cropped6.jpg wong_rot_plus4.jpg '
          'wong_rot_minus4.jpg wong_q70.jpg unrelated.jpg')


if __name__ == '__main__':
    main()
