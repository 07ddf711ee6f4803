#!/usr/bin/python3
"""gen_envelope.py - known-answer vectors for sealed envelopes (lib/envelope.c)
and for the way the end-to-end engine (lib/e2e.c) seals a message, from a
second, independent implementation.

Written from the documentation only: lib/envelope.h (body, inner plaintext,
buckets), lib/e2e.h (the typed content byte, the setup header repeated
until the session is confirmed), the comment on body_ad() in lib/e2e.c
(AD = session AD || setup header), docs/PROTOCOL.md §15 §2-§3 (meta,
content hash, link hash), docs/PROTOCOL.md §1-§2 (integers big-endian,
`bytes` = u32 length || bytes). docs/PROTOCOL.md §14 states all of it in
one place, byte for byte; this script is its executable form.

What is written here: bucket rule, inner encoding and decoding (with the
padding and minimality rules), body encoding and decoding, meta encoding,
audience id, content hash, link hash, the engine's typed content, its AD
and the order of the sealing steps. What is reused: the X3DH of
gen_x3dh.py (fixed identities A and B, B's signed prekey 1, one-time
prekey 1, ephemeral ek1: the "x1" session of x3dh_vectors.h) and the Double
Ratchet of gen_ratchet.py (Party), both themselves independent of the C
code; the primitives (X25519, XChaCha20-Poly1305, ChaCha20-Poly1305) come
from PyNaCl, i.e. libsodium, as in C.

The session played (every "random" value fixed, served to the C code by the
test hooks bc_x3dh_initiate_with_ephemeral and bc_ratchet_test_set_rng in
the order the ratchet draws them):

    A -> B  m1  kind SETUP  "We propose an exchange."      A's seq 1
    B opens m1 (responder side of X3DH, ratchet DH step)
    A -> B  m2  kind SETUP  (A has heard nothing: setup repeated) seq 2
    B opens m2 on the session it now holds
    B -> A  m3  kind MSG    "Agreed, subject to review."   B's seq 1
    A opens m3 (ratchet DH step; A's session is now confirmed)

Run with Debian's interpreter (python3-nacl):

    /usr/bin/python3 tests/vectors/gen_envelope.py > tests/vectors/envelope_vectors.h
    /usr/bin/python3 tests/vectors/gen_envelope.py --check   # committed file current?
    /usr/bin/python3 tests/vectors/gen_envelope.py --dump    # readable hex of m1

Every input is fixed, so the output is reproducible byte for byte.
"""
import hashlib
import os
import struct
import sys

sys.dont_write_bytecode = True  # import the sibling generators without leaving __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_ratchet as rt  # noqa: E402  (Party: the Double Ratchet)
import gen_x3dh as x3     # noqa: E402  (Identity, x3dh, bundle, supply)

from nacl.bindings import crypto_scalarmult_base  # noqa: E402

# ---- envelope constants (lib/envelope.h) -----------------------------------
ENV_VERSION = 1
KIND_SETUP = 1
KIND_MSG = 2
MAX_SETUP = 1024
MAX_META = 8192
MAX_CONTENT = 4 << 20
MAX_BODY = 8 << 20
BUCKETS = (256, 1024, 4096, 16384, 65536)
INNER_FIXED = 1 + 4 + 4 + 4  # version, and the three u32 length prefixes

# ---- engine constants (lib/e2e.h) --------------------------------------------
CT_APP = 1
CT_CHECKPOINT = 2

# ---- transcript labels (docs/PROTOCOL.md §15 §2) -------------------------
L_AUDIENCE = b"backchannel v1 audience"
L_CONTENT = b"backchannel v1 content"
L_CHAIN = b"backchannel v1 chain"


class Malformed(Exception):
    pass


class BadVersion(Exception):
    pass


def u16(v):
    return struct.pack(">H", v)


def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


def b2b256(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def fixed(name, n=32):
    return hashlib.sha256(b"backchannel envelope vector: " + name.encode()).digest()[:n]


def pattern(n, mul, add):
    """Deterministic filler, reproduced in C: byte i = (i * mul + add) mod 256."""
    return bytes((i * mul + add) & 0xFF for i in range(n))


# ---- padding ---------------------------------------------------------------


def bucket(n):
    """Smallest bucket holding n bytes: 256, 1 Ki, 4 Ki, 16 Ki, 64 Ki, then
    the next multiple of 64 Ki."""
    for b in BUCKETS:
        if n <= b:
            return b
    return -(-n // 65536) * 65536


# ---- inner plaintext -------------------------------------------------------


def inner_encode(meta, content):
    """u8 version || bytes meta || bytes content || bytes pad. The size
    that selects the bucket is that of the encoding with an empty pad
    (its u32 length prefix included); pad fills it up with zero bytes."""
    if len(meta) > MAX_META or len(content) > MAX_CONTENT:
        raise ValueError("too big")
    base = INNER_FIXED + len(meta) + len(content)
    padlen = bucket(base) - base
    out = (bytes([ENV_VERSION]) + u32(len(meta)) + meta + u32(len(content)) + content
           + u32(padlen) + bytes(padlen))
    assert len(out) == bucket(base)
    return out


class Reader:
    def __init__(self, b):
        self.b, self.pos = b, 0

    def take(self, n):
        if n > len(self.b) - self.pos:
            raise Malformed("truncated")
        v = self.b[self.pos:self.pos + n]
        self.pos += n
        return v

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def bytes(self, cap):
        n = struct.unpack(">I", self.take(4))[0]
        if n > cap:
            raise Malformed("over cap")
        return self.take(n)

    def end(self):
        if self.pos != len(self.b):
            raise Malformed("trailing bytes")


def inner_decode(b):
    if len(b) != bucket(len(b)):
        raise Malformed("size is not a bucket")
    r = Reader(b)
    if r.u8() != ENV_VERSION:
        raise BadVersion()
    meta = r.bytes(MAX_META)
    content = r.bytes(MAX_CONTENT)
    pad = r.bytes(len(b))
    r.end()
    if any(pad):
        raise Malformed("non-zero padding")
    if bucket(INNER_FIXED + len(meta) + len(content)) != len(b):
        raise Malformed("bucket not minimal")
    return meta, content


# ---- body ------------------------------------------------------------------


def body_encode(kind, setup, rmsg):
    """u8 version || u8 kind || [bytes setup, kind SETUP only] || bytes rmsg."""
    assert kind in (KIND_SETUP, KIND_MSG)
    assert (kind == KIND_SETUP) == (setup is not None)
    out = bytes([ENV_VERSION, kind])
    if kind == KIND_SETUP:
        assert len(setup) <= MAX_SETUP
        out += u32(len(setup)) + setup
    return out + u32(len(rmsg)) + rmsg


def body_decode(b):
    r = Reader(b)
    ver, kind = r.u8(), r.u8()
    if ver != ENV_VERSION:
        raise BadVersion()
    setup = None
    if kind == KIND_SETUP:
        setup = r.bytes(MAX_SETUP)
    elif kind != KIND_MSG:
        raise Malformed("kind")
    rmsg = r.bytes(MAX_BODY)
    r.end()
    return kind, setup, rmsg


# ---- transcript meta (docs/PROTOCOL.md §15 §2, §3) -----------------------


def audience_id(ids):
    ids = sorted(ids)
    return b2b256(L_AUDIENCE + u16(len(ids)) + b"".join(ids))


def content_hash(pt):
    return b2b256(L_CONTENT + pt)


class Meta:
    def __init__(self, msg_id, sender, audience, seq, prev, chash, ts):
        self.msg_id, self.sender = msg_id, sender
        self.audience = sorted(audience)
        self.seq, self.prev, self.chash, self.ts = seq, prev, chash, ts
        assert sender in self.audience and 2 <= len(self.audience) <= 16
        assert 1 <= seq < 1 << 63 and (seq > 1 or prev == bytes(32))

    def encode(self):
        return (self.msg_id + self.sender + u16(len(self.audience)) + b"".join(self.audience)
                + u64(self.seq) + self.prev + self.chash + u64(self.ts))

    def link(self):
        return b2b256(L_CHAIN + audience_id(self.audience) + self.sender + u64(self.seq)
                      + self.prev + self.msg_id + self.chash + u64(self.ts))

    @staticmethod
    def decode(b):
        r = Reader(b)
        msg_id, sender = r.take(16), r.take(32)
        n = r.u16()
        ids = [r.take(32) for _ in range(n)]
        if ids != sorted(set(ids)):
            raise Malformed("audience order")
        seq, prev, chash, ts = r.u64(), r.take(32), r.take(32), r.u64()
        r.end()
        m = Meta(msg_id, sender, ids, seq, prev, chash, ts)
        assert m.encode() == b
        return m


# ---- the engine's sealing and opening (lib/e2e.h, e2e.c body_ad) -------------


def typed(ctype, content):
    return bytes([ctype]) + content


def body_ad(session_ad, setup):
    """The ratchet AD of a body: the session's AD (145 bytes), followed by
    the setup header when the body carries one."""
    return session_ad + (setup if setup is not None else b"")


class Session:
    """One side's view of a pairwise session, as the engine keeps it."""

    def __init__(self, party, ad, setup, confirmed):
        self.party, self.ad, self.setup, self.confirmed = party, ad, setup, confirmed


def seal(sess, chain, msg_id, sender, readers, ctype, content, now):
    """One reader's copy, in the order of e2e.c seal(): typed content, its
    hash, the transcript position, meta, inner, ratchet, body. chain is the
    sender's chain state for this audience: {"seq": last seq, "head": link}."""
    tc = typed(ctype, content)
    h = content_hash(tc)
    meta = Meta(msg_id, sender, [sender] + readers, chain["seq"] + 1, chain["head"], h, now)
    chain["seq"], chain["head"] = meta.seq, meta.link()
    inner = inner_encode(meta.encode(), tc)
    setup = None if sess.confirmed else sess.setup
    ad = body_ad(sess.ad, setup)
    rmsg, rhdr, mk = sess.party.encrypt(inner, ad)
    body = body_encode(KIND_MSG if sess.confirmed else KIND_SETUP, setup, rmsg)
    return {"typed": tc, "content_hash": h, "meta": meta, "meta_enc": meta.encode(),
            "link": meta.link(), "inner": inner, "ad": ad, "ratchet_header": rhdr,
            "mk": mk, "rmsg": rmsg, "body": body, "kind": body[1]}


def open_body(sess, body, expect_sender, now):
    """What a reader does once it knows the session (e2e.c bc_e2e_open):
    body decode, ratchet decrypt under AD (|| setup), inner decode, meta
    decode, sender and content-hash checks. Returns (meta, typed content)."""
    kind, setup, rmsg = body_decode(body)
    pt = sess.party.decrypt(rmsg, body_ad(sess.ad, setup), now)
    meta_enc, tc = inner_decode(pt)
    meta = Meta.decode(meta_enc)
    assert meta.sender == expect_sender
    assert len(tc) >= 1 and content_hash(tc) == meta.chash
    return meta, tc


# ---- the vectors -------------------------------------------------------------


def inner_cases():
    """(name, meta, content): sizes 0, 1, the 256-byte edge (243 / 244
    bytes of meta + content), 1000, 70000 (past the last fixed bucket), and
    the same edge with a meta of the size of a real two-member meta."""
    cases = []
    for n in (0, 1, 243, 244, 1000, 65523, 65524, 70000):
        cases.append(("c%d" % n, b"", pattern(n, 167, 13)))
    for n in (49, 50):
        cases.append(("m194c%d" % n, pattern(194, 29, 101), pattern(n, 167, 13)))
    return cases


def inner_rejects():
    """(name, bytes, error): inputs a reader MUST refuse."""
    good = inner_encode(b"", b"")           # 256 bytes, pad 243
    r = []
    r.append(("short", good[:-1], "MALFORMED"))                 # 255: not a bucket
    r.append(("long", good + b"\x00", "MALFORMED"))             # 257: not a bucket
    r.append(("version2", b"\x02" + good[1:], "VERSION"))
    r.append(("version0", b"\x00" + good[1:], "VERSION"))
    r.append(("pad_nonzero_last", good[:-1] + b"\x01", "MALFORMED"))
    r.append(("pad_nonzero_first", good[:13] + b"\x80" + good[14:], "MALFORMED"))
    # Not minimal: empty meta and content in the 1024 bucket, well padded.
    r.append(("not_minimal", bytes([1]) + u32(0) + u32(0) + u32(1024 - 13) + bytes(1011),
              "MALFORMED"))
    # The pad length one short: a zero byte is left over.
    r.append(("pad_len_short", good[:9] + u32(242) + good[13:], "MALFORMED"))
    r.append(("pad_len_long", good[:9] + u32(244) + good[13:], "MALFORMED"))
    # A content length that runs past the end.
    r.append(("content_overrun", good[:5] + u32(300) + good[9:], "MALFORMED"))
    # A meta over its cap (8193) in a bucket big enough for it.
    big = bucket(INNER_FIXED + MAX_META + 1)
    m = bytes([1]) + u32(MAX_META + 1) + bytes(MAX_META + 1) + u32(0)
    m += u32(big - len(m) - 4)
    m += bytes(big - len(m))
    r.append(("meta_over_cap", m, "MALFORMED"))
    for name, b, err in r:
        try:
            inner_decode(b)
        except Malformed:
            assert err == "MALFORMED", name
            continue
        except BadVersion:
            assert err == "VERSION", name
            continue
        raise AssertionError("accepted " + name)
    return r


def body_cases():
    return [
        ("msg_empty", KIND_MSG, None, b""),
        ("msg", KIND_MSG, None, pattern(97, 59, 3)),
        ("setup", KIND_SETUP, pattern(187, 83, 5), pattern(353, 59, 3)),
        ("setup_empty", KIND_SETUP, b"", b""),
    ]


def body_rejects():
    ok = body_encode(KIND_MSG, None, b"abc")
    st = body_encode(KIND_SETUP, b"S", b"abc")
    r = [
        ("empty", b"", "MALFORMED"),
        ("one_byte", b"\x01", "MALFORMED"),
        ("no_rmsg", b"\x01\x02", "MALFORMED"),
        ("version2", b"\x02" + ok[1:], "VERSION"),
        ("kind0", b"\x01\x00" + ok[2:], "MALFORMED"),
        ("kind3", b"\x01\x03" + ok[2:], "MALFORMED"),
        ("trailing", ok + b"\x00", "MALFORMED"),
        ("truncated", ok[:-1], "MALFORMED"),
        ("rmsg_len_long", ok[:2] + u32(4) + ok[6:], "MALFORMED"),
        ("setup_trailing", st + b"\x00", "MALFORMED"),
        ("setup_as_msg", b"\x01\x02" + st[2:], "MALFORMED"),  # setup read as rmsg, rest trails
        ("setup_over_cap", b"\x01\x01" + u32(MAX_SETUP + 1) + bytes(MAX_SETUP + 1) + u32(0),
         "MALFORMED"),
    ]
    for name, b, err in r:
        try:
            body_decode(b)
        except Malformed:
            assert err == "MALFORMED", name
            continue
        except BadVersion:
            assert err == "VERSION", name
            continue
        raise AssertionError("accepted " + name)
    return r


def session_vectors():
    A, B = x3.Identity("A"), x3.Identity("B")
    created = 1700000000
    spk_id, spk_priv = 1, x3.seed(b"B spk 1")
    spk_pub = x25519_pub(spk_priv)
    spk_sig = x3.spk_sig(B, spk_id, spk_pub, created)
    opks = [(1, x3.seed(b"B opk 1")), (2, x3.seed(b"B opk 2"))]
    ek = x3.seed(b"A ek 1")
    v = x3.x3dh(A, B, spk_id, spk_priv, ek, opks[0])

    # The ratchets' fixed randomness, in the order it is drawn.
    a_dh = [fixed("A ratchet %d" % i) for i in range(2)]
    a_nonce = [fixed("A header nonce %d" % i, 24) for i in range(2)]
    b_dh = [fixed("B ratchet %d" % i) for i in range(1)]
    b_nonce = [fixed("B header nonce %d" % i, 24) for i in range(1)]
    alice = rt.Party("A", a_dh, a_nonce)
    bob = rt.Party("B", b_dh, b_nonce)
    alice.init_alice(v["sk"], spk_pub, v["hka"], v["nhkb"])
    bob.init_bob(v["sk"], spk_priv, v["hka"], v["nhkb"])
    st = {"a_init": alice.serialize(), "b_init": bob.serialize()}

    a_sess = Session(alice, v["ad"], v["header"], confirmed=False)
    b_sess = Session(bob, v["ad"], None, confirmed=True)  # a responder never sends setup
    fa, fb = A.fingerprint(), B.fingerprint()
    a_chain = {"seq": 0, "head": bytes(32)}
    b_chain = {"seq": 0, "head": bytes(32)}
    msgs = {}
    t1, t2, t3 = created + 100, created + 160, created + 400

    msgs["m1"] = seal(a_sess, a_chain, fixed("msg 1", 16), fa, [fb], CT_APP,
                      b"We propose an exchange.", t1)
    st["a_m1"] = alice.serialize()
    meta, tc = open_body(b_sess, msgs["m1"]["body"], fa, t1 + 5)
    assert tc == msgs["m1"]["typed"] and meta.encode() == msgs["m1"]["meta_enc"]
    st["b_m1"] = bob.serialize()

    msgs["m2"] = seal(a_sess, a_chain, fixed("msg 2", 16), fa, [fb], CT_APP,
                      b"We also propose a second meeting on Thursday.", t2)
    st["a_m2"] = alice.serialize()
    meta, tc = open_body(b_sess, msgs["m2"]["body"], fa, t2 + 5)
    assert meta.prev == msgs["m1"]["link"] and tc == msgs["m2"]["typed"]
    st["b_m2"] = bob.serialize()

    msgs["m3"] = seal(b_sess, b_chain, fixed("msg 3", 16), fb, [fa], CT_APP,
                      b"Agreed, subject to review.", t3)
    st["b_m3"] = bob.serialize()
    meta, tc = open_body(a_sess, msgs["m3"]["body"], fb, t3 + 5)
    assert tc == msgs["m3"]["typed"]
    a_sess.confirmed = True
    st["a_m3"] = alice.serialize()
    assert not alice.dh_privs and not alice.nonces and not bob.dh_privs and not bob.nonces

    assert msgs["m1"]["kind"] == KIND_SETUP and msgs["m2"]["kind"] == KIND_SETUP
    assert msgs["m3"]["kind"] == KIND_MSG
    assert msgs["m1"]["ad"] == v["ad"] + v["header"] and msgs["m3"]["ad"] == v["ad"]

    inputs = {
        "a_sign_seed": A.sign_seed, "a_dh_priv": A.dh_priv,
        "b_sign_seed": B.sign_seed, "b_dh_priv": B.dh_priv,
        "a_fingerprint": fa, "b_fingerprint": fb,
        "b_bundle": x3.bundle(B, spk_id, spk_pub, created, spk_sig),
        "b_opk1_blob": x3.onetime_blob(opks[0][0], x25519_pub(opks[0][1])),
        "b_supply": x3.supply(B, (spk_id, created, spk_priv, spk_sig), None, 2, opks, []),
        "ek_priv": ek,
    }
    setup = {"session_ad": v["ad"], "header": v["header"], "sk": v["sk"], "hka": v["hka"],
             "nhkb": v["nhkb"]}
    rng = {"a_dh": a_dh, "a_nonce": a_nonce, "b_dh": b_dh, "b_nonce": b_nonce}
    times = {"created": created, "t1": t1, "t2": t2, "t3": t3}
    return inputs, setup, rng, times, st, msgs, (fa, fb)


def x25519_pub(priv):
    return crypto_scalarmult_base(priv)


# ---- C output --------------------------------------------------------------


def c_bytes(name, b):
    if len(b) == 0:
        return "static const uint8_t %s[1] = { 0 }; /* empty */\n#define %s_LEN 0\n" % (
            name, name.upper())
    lines = []
    for i in range(0, len(b), 12):
        lines.append("\t" + " ".join("0x%02x," % x for x in b[i:i + 12]))
    return "static const uint8_t %s[%d] = {\n%s\n};\n#define %s_LEN %d\n" % (
        name, len(b), "\n".join(lines), name.upper(), len(b))


def c_list(name, items, n):
    o = ["static const uint8_t %s[%d][%d] = {\n" % (name, len(items), n)]
    for it in items:
        assert len(it) == n
        o.append("\t{ " + ", ".join("0x%02x" % x for x in it) + " },\n")
    o.append("};\n")
    return "".join(o)


def generate():
    o = []
    o.append("/*\n * envelope_vectors.h - GENERATED by tests/vectors/gen_envelope.py; do not edit.\n"
             " * Known answers for tests/unit/test_envelope_vectors.c from an independent\n"
             " * Python implementation of docs/PROTOCOL.md §14 (see the script's\n"
             " * docstring). Filler bytes: ev_pattern(i, mul, add) = (i * mul + add) & 0xff.\n"
             " */\n")
    o.append("#ifndef BC_ENVELOPE_VECTORS_H\n#define BC_ENVELOPE_VECTORS_H\n\n")
    o.append("#include <stddef.h>\n#include <stdint.h>\n\n")

    o.append("/* ---- bucket rule: n (encoding with an empty pad) -> padded size ---- */\n")
    ns = [13, 256, 257, 1024, 1025, 4096, 4097, 16384, 16385, 65536, 65537, 131072, 131073,
          4 << 20, (4 << 20) + 8192 + 14]
    o.append("static const struct { size_t n, bucket; } ev_buckets[] = {\n")
    for n in ns:
        o.append("\t{ %d, %d },\n" % (n, bucket(n)))
    o.append("};\n\n")

    o.append("/* ---- inner plaintexts: meta = ev_pattern(i, 29, 101), content =\n"
             " * ev_pattern(i, 167, 13); full bytes when at most 1024, always SHA-256 ---- */\n")
    rows = []
    for name, meta, content in inner_cases():
        enc = inner_encode(meta, content)
        assert inner_decode(enc) == (meta, content)
        full = len(enc) <= 1024
        if full:
            o.append(c_bytes("ev_inner_%s" % name, enc))
        rows.append((len(meta), len(content), "ev_inner_%s" % name if full else "NULL",
                     len(enc), hashlib.sha256(enc).digest()))
    o.append("struct ev_inner { size_t mlen, clen; const uint8_t *enc; size_t len; "
             "uint8_t sha256[32]; };\n")
    o.append("static const struct ev_inner ev_inner[] = {\n")
    for mlen, clen, ref, ln, d in rows:
        o.append("\t{ %d, %d, %s, %d,\n\t  { %s } },\n" % (
            mlen, clen, ref, ln, ", ".join("0x%02x" % x for x in d)))
    o.append("};\n\n")

    o.append("/* ---- inner plaintexts a reader MUST refuse (1 = MALFORMED, 2 = VERSION) ---- */\n")
    rej = inner_rejects()
    for name, b, _ in rej:
        if len(b) <= 1100:
            o.append(c_bytes("ev_inner_bad_%s" % name, b))
    o.append("struct ev_reject { const char *name; const uint8_t *in; size_t len; int err; };\n")
    o.append("/* ev_inner_bad_meta_over_cap is built by the test: u8 1 || u32 8193 || 8193\n"
             " * zero bytes || u32 0 || u32 pad || zero pad, 16384 bytes in all. */\n")
    o.append("static const struct ev_reject ev_inner_rejects[] = {\n")
    for name, b, err in rej:
        if len(b) <= 1100:
            o.append('\t{ "%s", ev_inner_bad_%s, %d, %d },\n' % (
                name, name, len(b), 1 if err == "MALFORMED" else 2))
    o.append("};\n\n")

    o.append("/* ---- bodies: setup = ev_pattern(i, 83, 5), rmsg = ev_pattern(i, 59, 3) ---- */\n")
    o.append("struct ev_body { const char *name; uint8_t kind; int has_setup; size_t slen, rlen;\n"
             "\tconst uint8_t *enc; size_t len; };\n")
    bc = body_cases()
    for name, kind, setup, rmsg in bc:
        enc = body_encode(kind, setup, rmsg)
        assert body_decode(enc) == (kind, setup, rmsg)
        o.append(c_bytes("ev_body_%s" % name, enc))
    o.append("static const struct ev_body ev_bodies[] = {\n")
    for name, kind, setup, rmsg in bc:
        o.append('\t{ "%s", %d, %d, %d, %d, ev_body_%s, EV_BODY_%s_LEN },\n' % (
            name, kind, setup is not None, len(setup or b""), len(rmsg), name, name.upper()))
    o.append("};\n")
    rej = body_rejects()
    for name, b, _ in rej:
        o.append(c_bytes("ev_body_bad_%s" % name, b))
    o.append("static const struct ev_reject ev_body_rejects[] = {\n")
    for name, b, err in rej:
        o.append('\t{ "%s", ev_body_bad_%s, %d, %d },\n' % (
            name, name, len(b), 1 if err == "MALFORMED" else 2))
    o.append("};\n\n")

    inputs, setup, rng, times, st, msgs, _ = session_vectors()
    o.append("/* ---- the session: inputs (A and B, B's prekeys: the x1 case of\n"
             " * x3dh_vectors.h) ---- */\n")
    for k, b in inputs.items():
        o.append(c_bytes("ev_%s" % k, b))
    for k, t in times.items():
        o.append("static const uint64_t ev_%s = %d;\n" % (k, t))
    o.append("/* Ratchet randomness, served in order by the test hook. */\n")
    o.append(c_list("ev_a_rng_dh", rng["a_dh"], 32))
    o.append(c_list("ev_a_rng_nonce", rng["a_nonce"], 24))
    o.append(c_list("ev_b_rng_dh", rng["b_dh"], 32))
    o.append(c_list("ev_b_rng_nonce", rng["b_nonce"], 24))
    o.append("\n/* ---- session setup (X3DH) ---- */\n")
    for k, b in setup.items():
        o.append(c_bytes("ev_%s" % k, b))
    o.append("\n/* ---- serialised ratchet states (docs/PROTOCOL.md §13.6) ---- */\n")
    for k, b in st.items():
        o.append(c_bytes("ev_state_%s" % k, b))
    for m in ("m1", "m2", "m3"):
        d = msgs[m]
        o.append("\n/* ---- %s: %s -> %s, kind %s ---- */\n" % (
            m, "B" if m == "m3" else "A", "A" if m == "m3" else "B",
            "MSG" if d["kind"] == KIND_MSG else "SETUP"))
        mt = d["meta"]
        o.append(c_bytes("ev_%s_msg_id" % m, mt.msg_id))
        o.append("static const uint64_t ev_%s_seq = %d;\n" % (m, mt.seq))
        o.append("static const uint64_t ev_%s_timestamp = %d;\n" % (m, mt.ts))
        o.append(c_bytes("ev_%s_typed" % m, d["typed"]))
        o.append(c_bytes("ev_%s_audience_id" % m, audience_id(mt.audience)))
        for k in ("content_hash", "meta_enc", "link", "inner", "ad", "ratchet_header", "mk",
                  "rmsg", "body"):
            o.append(c_bytes("ev_%s_%s" % (m, k), d[k]))
    o.append("\n#endif\n")
    return "".join(o)


def dump():
    """A readable breakdown of m1 (used for docs/PROTOCOL.md §14)."""
    inputs, setup, rng, times, st, msgs, (fa, fb) = session_vectors()
    d = msgs["m1"]
    body, inner = d["body"], d["inner"]
    slen = struct.unpack(">I", body[2:6])[0]

    def hx(b):
        return b.hex()

    print("session AD (%d)  %s" % (len(setup["session_ad"]), hx(setup["session_ad"])))
    print("setup header (%d) %s" % (len(setup["header"]), hx(setup["header"])))
    print("typed content (%d) %s" % (len(d["typed"]), hx(d["typed"])))
    print("content hash %s" % hx(d["content_hash"]))
    print("meta (%d) %s" % (len(d["meta_enc"]), hx(d["meta_enc"])))
    print("link %s" % hx(d["link"]))
    print("inner (%d): head %s" % (len(inner), hx(inner[:5])))
    ml = struct.unpack(">I", inner[1:5])[0]
    p = 5 + ml
    print("  content len field %s" % hx(inner[p:p + 4]))
    cl = struct.unpack(">I", inner[p:p + 4])[0]
    p += 4 + cl
    print("  pad len field at %d: %s (%d zero bytes follow)" % (
        p, hx(inner[p:p + 4]), struct.unpack(">I", inner[p:p + 4])[0]))
    print("ratchet header plaintext %s" % hx(d["ratchet_header"]))
    print("body (%d): %s | setup len %s | setup ... | rmsg len %s" % (
        len(body), hx(body[:2]), hx(body[2:6]), hx(body[6 + slen:10 + slen])))
    r = d["rmsg"]
    print("rmsg (%d): version %s enc_header %s" % (len(r), hx(r[:1]), hx(r[1:81])))
    print("  body ct head %s ... tag %s" % (hx(r[81:113]), hx(r[-16:])))
    print("body sha256 %s" % hashlib.sha256(body).hexdigest())
    print("m3 body (%d): %s" % (len(msgs["m3"]["body"]), hx(msgs["m3"]["body"][:6])))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--dump":
        dump()
        return
    text = generate()
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "envelope_vectors.h")
        with open(path) as f:
            ok = f.read() == text
        print("envelope_vectors.h is %s" % ("current" if ok else "STALE"))
        sys.exit(0 if ok else 1)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
