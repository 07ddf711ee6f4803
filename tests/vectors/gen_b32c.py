#!/usr/bin/env python3
"""gen_b32c.py - an independent implementation of Backchannel's "b32c"
checksummed base32 (docs/PROTOCOL.md §9), used to generate the
known-answer vectors pasted into tests/unit/test_encoding.c.

Standard library only. Written from the specification, not from
lib/encoding.c: it treats the payload as one big integer instead of
streaming bits, and decodes with a dictionary instead of arithmetic.

    python3 tests/vectors/gen_b32c.py            # print the C vector tables
    python3 tests/vectors/gen_b32c.py --check    # self-test only

The output is deterministic (no randomness): data bytes come from SHA-256
of a counter.
"""
import hashlib
import sys

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
LABEL = b"backchannel b32c v1"
CHECK_LEN = 5
PREFIX_MAX = 16
DATA_MAX = 4096
IGNORABLE = set("- \t\r\n")

DECODE = {c: i for i, c in enumerate(ALPHABET)}
DECODE.update({"o": 0, "i": 1, "l": 1})


class B32cError(Exception):
    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind  # "malformed", "invalid", "toobig", "checksum"


def valid_prefix(prefix):
    return 1 <= len(prefix) <= PREFIX_MAX and all("a" <= c <= "z" for c in prefix)


def checksum_input(prefix, data):
    p = prefix.encode("ascii")
    return (LABEL + b"\x00" + bytes([len(p)]) + p + b":" +
            len(data).to_bytes(4, "big") + data)


def checksum(prefix, data):
    return hashlib.blake2b(checksum_input(prefix, data),
                           digest_size=32).digest()[:CHECK_LEN]


def encode(prefix, data):
    assert valid_prefix(prefix) and len(data) <= DATA_MAX
    payload = data + checksum(prefix, data)
    nbits = 8 * len(payload)
    nchars = -(-nbits // 5)
    value = int.from_bytes(payload, "big") << (5 * nchars - nbits)
    chars = [ALPHABET[(value >> (5 * (nchars - 1 - k))) & 31]
             for k in range(nchars)]
    groups = ["".join(chars[k:k + 5]) for k in range(0, nchars, 5)]
    return prefix + ":" + "-".join(groups)


def decode(prefix, s, maxlen):
    assert valid_prefix(prefix)
    maxlen = min(maxlen, DATA_MAX)
    t = "".join(c for c in s if c not in IGNORABLE)
    if ":" not in t:
        raise B32cError("malformed")
    head, body = t.split(":", 1)
    head = "".join(c.lower() if "A" <= c <= "Z" else c for c in head)
    if not valid_prefix(head):
        raise B32cError("malformed")
    if head != prefix:
        raise B32cError("invalid")
    maxchars = -(-8 * (maxlen + CHECK_LEN) // 5)
    vals = []
    for c in body:
        if "A" <= c <= "Z":
            c = c.lower()
        if c not in DECODE:
            raise B32cError("malformed")
        vals.append(DECODE[c])
        if len(vals) > maxchars:
            raise B32cError("toobig")
    nchars = len(vals)
    nbytes = 5 * nchars // 8
    if nbytes < CHECK_LEN or -(-8 * nbytes // 5) != nchars:
        raise B32cError("malformed")
    value = 0
    for v in vals:
        value = value << 5 | v
    pad = 5 * nchars - 8 * nbytes
    if value & ((1 << pad) - 1):
        raise B32cError("malformed")
    payload = (value >> pad).to_bytes(nbytes, "big")
    data, check = payload[:-CHECK_LEN], payload[-CHECK_LEN:]
    if checksum(prefix, data) != check:
        raise B32cError("checksum")
    return data


def det_bytes(seed, n):
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"b32c vector %d/%d" % (seed, i)).digest()
        i += 1
    return out[:n]


def c_str(s):
    out = []
    for ch in s:
        if ch == "\\" or ch == '"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif 0x20 <= ord(ch) < 0x7f:
            out.append(ch)
        else:
            for b in ch.encode("utf-8"):
                out.append("\\x%02x\"\"" % b)
    return '"' + "".join(out) + '"'


def positive_vectors():
    cases = [
        ("bck", b""),
        ("bck", b"\x00"),
        ("bck", b"\xff"),
        ("bck", b"\x00" * 5),
        ("bck", bytes(range(32))),
        ("bck", b"\xff" * 32),
        ("bci", b"hello, world"),
        ("bcr", b"127.0.0.1:7878"),
        ("a", b""),
        ("abcdefghijklmnop", b"\x01\x02\x03"),
    ]
    for i, n in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 31, 33, 64, 100]):
        cases.append(("bci" if i % 2 else "bck", det_bytes(i, n)))
    return cases


def forgiving_vectors(pos):
    """(prefix, input string, hex data) that must decode."""
    out = []
    for prefix, data in pos[:8]:
        canon = encode(prefix, data)
        out.append((prefix, canon.upper(), data))
        out.append((prefix, "  " + canon.replace("-", " ") + "\n", data))
        out.append((prefix, canon.replace("-", ""), data))
        swapped = canon.split(":", 1)[1].replace("0", "o").replace("1", "l")
        out.append((prefix, prefix.upper() + " : " + swapped, data))
        out.append((prefix, canon.replace("1", "I").replace("0", "O"), data))
        out.append((prefix, "-".join(canon), data))
        out.append((prefix, "\t" + canon.replace("-", "\r\n") + "\r\n", data))
    return out


def negative_vectors(pos):
    """(prefix, input string, maxlen, expected error)."""
    out = []
    good = encode("bck", bytes(range(32)))
    body = good.split(":", 1)[1]
    out.append(("bck", body, 64, "malformed"))                # no prefix
    out.append(("bck", ":" + body, 64, "malformed"))          # empty prefix
    out.append(("bck", "bck" + body, 64, "malformed"))        # no ':'
    out.append(("bck", "bc1:" + body, 64, "malformed"))       # digit in prefix
    out.append(("bck", "b" * 17 + ":" + body, 64, "malformed"))
    out.append(("bck", "bci:" + body, 64, "invalid"))         # other kind
    out.append(("bck", "bckk:" + body, 64, "invalid"))
    out.append(("bck", good + "u", 64, "malformed"))
    out.append(("bck", good.replace(body[3], "u", 1), 64, "malformed"))
    out.append(("bck", good + ":", 64, "malformed"))
    out.append(("bck", good + "_", 64, "malformed"))
    out.append(("bck", good + "\u00e9", 64, "malformed"))
    out.append(("bck", good + "\v", 64, "malformed"))
    out.append(("bck", good, 31, "toobig"))
    out.append(("bck", good, 0, "toobig"))
    out.append(("bck", good[:-1], 64, "malformed"))           # 59 chars
    out.append(("bck", "bck:", 64, "malformed"))
    out.append(("bck", "bck:0000000", 64, "malformed"))       # 7 chars
    out.append(("bck", "bck:000000000", 64, "malformed"))     # 9 chars
    # Last character with non-zero padding: 37 bytes = 296 bits, 60 chars,
    # 4 padding bits; flipping the low bit of the last character.
    last = body[-1]
    bad = ALPHABET[DECODE[last] ^ 1]
    out.append(("bck", good[:-1] + bad, 64, "malformed"))
    # Checksum errors.
    flip = ALPHABET[(DECODE[body[0]] + 1) % 32]
    out.append(("bck", "bck:" + flip + body[1:], 64, "checksum"))
    for prefix, data in pos[:4]:
        canon = encode(prefix, data)
        b = canon.split(":", 1)[1]
        t = b.replace("-", "")
        if t[0] != t[1]:
            t2 = t[1] + t[0] + t[2:]
            out.append((prefix, prefix + ":" + t2, 64, "checksum"))
    return out


def self_test():
    pos = positive_vectors()
    for prefix, data in pos:
        s = encode(prefix, data)
        assert decode(prefix, s, len(data)) == data
    for prefix, s, data in forgiving_vectors(pos):
        assert decode(prefix, s, 4096) == data, s
    for prefix, s, maxlen, kind in negative_vectors(pos):
        try:
            decode(prefix, s, maxlen)
        except B32cError as e:
            assert e.kind == kind, (s, e.kind, kind)
        else:
            raise AssertionError("accepted: " + s)
    # Every single-character substitution of one string is detected.
    s = encode("bci", det_bytes(99, 20))
    for i, c in enumerate(s):
        if i < 4 or c == "-":
            continue
        for r in ALPHABET:
            if r == c:
                continue
            try:
                decode("bci", s[:i] + r + s[i + 1:], 4096)
            except B32cError:
                pass
            else:
                raise AssertionError("undetected substitution")


def main():
    self_test()
    if "--check" in sys.argv:
        print("gen_b32c.py: self-test passed")
        return
    pos = positive_vectors()
    print("/* Generated by tests/vectors/gen_b32c.py - do not edit. */")
    print("static const struct b32c_kat b32c_kats[] = {")
    for prefix, data in pos:
        print("\t{%s,\n\t %s,\n\t %s},"
              % (c_str(prefix), c_str(data.hex()), c_str(encode(prefix, data))))
    print("};")
    print()
    print("static const struct b32c_forgiving b32c_forgiving[] = {")
    for prefix, s, data in forgiving_vectors(pos):
        print("\t{%s, %s,\n\t %s}," % (c_str(prefix), c_str(data.hex()), c_str(s)))
    print("};")
    print()
    print("static const struct b32c_bad b32c_bad[] = {")
    errs = {"malformed": "BC_ERR_MALFORMED", "invalid": "BC_ERR_INVALID",
            "toobig": "BC_ERR_TOOBIG", "checksum": "BC_ERR_CHECKSUM"}
    for prefix, s, maxlen, kind in negative_vectors(pos):
        print("\t{%s, %d, %s,\n\t %s}," % (c_str(prefix), maxlen, errs[kind], c_str(s)))
    print("};")
    print()
    # The checksum input of one vector, byte for byte, for reimplementers.
    data = b"hello, world"
    print("/* checksum input for (\"bci\", \"hello, world\"): */")
    print("static const char b32c_check_input_hex[] = %s;"
          % c_str(checksum_input("bci", data).hex()))
    print("static const char b32c_check_hex[] = %s;"
          % c_str(checksum("bci", data).hex()))


if __name__ == "__main__":
    main()
