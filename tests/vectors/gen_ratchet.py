#!/usr/bin/python3
"""Known-answer vectors for the Double Ratchet of lib/ratchet.c.

A second, independent implementation of docs/PROTOCOL.md §13: Signal's
Double Ratchet with header encryption (revision 1, section 4) written from
the specification's pseudo-code with Python's standard-library hmac/hashlib
(HKDF from RFC 5869 section 2) and PyNaCl (Debian python3-nacl) for X25519
and XChaCha20-Poly1305. It shares no code with the C library.

From fixed inputs and fixed "random" values (ratchet private keys and header
nonces, drawn in order from per-party lists, exactly as the C test hook
bc_ratchet_test_set_rng serves them) it plays this session:

    Alice -> Bob   m0, m1        (Alice's first sending chain)
    Bob            receives m1 at t=1000 (m0 is late: its key is skipped)
    Bob -> Alice   m2, m3        (Bob's first chain: DH step 1)
    Alice          receives m3, then m2 from her skipped keys
    Alice -> Bob   m4            (Alice's second chain: DH step 2)
    Bob            receives m4   -> states "alice_final", "bob_final"
    Bob            receives m0 from his skipped keys -> "bob_after_m0"

and writes every intermediate value of the three KDFs, every message byte
and the serialised states.

Usage (the default python3 here lacks nacl; use Debian's interpreter):
    /usr/bin/python3 tests/vectors/gen_ratchet.py
writes tests/vectors/ratchet.json and tests/vectors/ratchet_vectors.h next
to this script. Every input is fixed, so re-running reproduces both files
byte for byte.
"""
import hashlib
import hmac
import json
import os
import struct

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_scalarmult,
    crypto_scalarmult_base,
)

LABEL_ROOT = b"backchannel v1 ratchet root"
LABEL_MSG = b"backchannel v1 ratchet message"
LABEL_HDR = b"backchannel v1 ratchet header"
VERSION = 1
STATE_VERSION = 1
MAX_SKIP = 1000

F_SEND, F_RECV, F_DHR = 1, 2, 4

LOG = {"kdf_rk": [], "kdf_ck": [], "body_keys": []}


def fixed(name):
    """A fixed 32-byte input: SHA-256 of a readable name."""
    return hashlib.sha256(b"backchannel ratchet vectors: " + name.encode()).digest()


# ---- RFC 5869 ----------------------------------------------------------------

def hkdf_sha256(salt, ikm, info, length):
    if not salt:
        salt = bytes(32)
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:length]


# ---- section 5.2 with our labels ---------------------------------------------

def kdf_rk(rk, dh_out):
    okm = hkdf_sha256(rk, dh_out, LABEL_ROOT, 96)
    out = (okm[0:32], okm[32:64], okm[64:96])
    LOG["kdf_rk"].append({"rk": rk, "dh_out": dh_out, "out_rk": out[0],
                          "out_ck": out[1], "out_nhk": out[2]})
    return out


def kdf_ck(ck):
    mk = hmac.new(ck, b"\x01", hashlib.sha256).digest()
    nck = hmac.new(ck, b"\x02", hashlib.sha256).digest()
    LOG["kdf_ck"].append({"ck": ck, "out_ck": nck, "out_mk": mk})
    return nck, mk


def body_keys(mk):
    okm = hkdf_sha256(bytes(32), mk, LABEL_MSG, 56)
    LOG["body_keys"].append({"mk": mk, "key": okm[:32], "nonce": okm[32:]})
    return okm[:32], okm[32:]


def dh(sk, pk):
    out = crypto_scalarmult(sk, pk)
    assert out != bytes(32), "all-zero DH output"
    return out


def encrypt_body(mk, pt, ad):
    key, nonce = body_keys(mk)
    return crypto_aead_xchacha20poly1305_ietf_encrypt(pt, ad, nonce, key)


def decrypt_body(mk, ct, ad):
    key, nonce = body_keys(mk)
    return crypto_aead_xchacha20poly1305_ietf_decrypt(ct, ad, nonce, key)


def header_bytes(dh_pub, pn, n):
    return dh_pub + struct.pack(">II", pn, n)


def hencrypt(hk, hdr, nonce):
    return nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(hdr, LABEL_HDR, nonce, hk)


def hdecrypt(hk, enc):
    if hk is None:
        return None
    try:
        h = crypto_aead_xchacha20poly1305_ietf_decrypt(enc[24:], LABEL_HDR, enc[:24], hk)
    except Exception:
        return None
    dh_pub = h[:32]
    pn, n = struct.unpack(">II", h[32:40])
    return dh_pub, pn, n


# ---- section 4 ----------------------------------------------------------------

class Party:
    def __init__(self, name, dh_privs, nonces):
        self.name = name
        self.dh_privs = list(dh_privs)   # served in order, like the C hook
        self.nonces = list(nonces)
        self.skipped = []                # [(hk, n, mk, t)], oldest first

    def generate_dh(self):
        sk = self.dh_privs.pop(0)
        return sk, crypto_scalarmult_base(sk)

    def init_alice(self, sk, bob_pub, hka, nhkb):
        self.DHs = self.generate_dh()
        self.DHr = bob_pub
        self.RK, self.CKs, self.NHKs = kdf_rk(sk, dh(self.DHs[0], self.DHr))
        self.CKr = None
        self.Ns = self.Nr = self.PN = 0
        self.HKs = hka
        self.HKr = None
        self.NHKr = nhkb

    def init_bob(self, sk, bob_priv, hka, nhkb):
        self.DHs = (bob_priv, crypto_scalarmult_base(bob_priv))
        self.DHr = None
        self.RK = sk
        self.CKs = self.CKr = None
        self.Ns = self.Nr = self.PN = 0
        self.HKs = None
        self.NHKs = nhkb
        self.HKr = None
        self.NHKr = hka

    def encrypt(self, pt, ad):
        self.CKs, mk = kdf_ck(self.CKs)
        hdr = header_bytes(self.DHs[1], self.PN, self.Ns)
        enc = hencrypt(self.HKs, hdr, self.nonces.pop(0))
        self.Ns += 1
        msg = bytes([VERSION]) + enc + encrypt_body(mk, pt, ad + enc)
        return msg, hdr, mk

    def decrypt(self, msg, ad, now):
        assert msg[0] == VERSION
        enc, ct = msg[1:81], msg[81:]
        for i, (hk, n, mk, t) in enumerate(self.skipped):
            h = hdecrypt(hk, enc)
            if h is not None and h[2] == n:
                del self.skipped[i]
                return decrypt_body(mk, ct, ad + enc)
        h = hdecrypt(self.HKr, enc)
        step = False
        if h is None:
            h = hdecrypt(self.NHKr, enc)
            step = True
        assert h is not None, "no header key opens it"
        dh_pub, pn, n = h
        if step:
            self.skip(pn, now)
            self.dh_ratchet(dh_pub)
        self.skip(n, now)
        self.CKr, mk = kdf_ck(self.CKr)
        self.Nr += 1
        return decrypt_body(mk, ct, ad + enc)

    def skip(self, until, now):
        assert self.Nr + MAX_SKIP >= until
        if self.CKr is not None:
            while self.Nr < until:
                self.CKr, mk = kdf_ck(self.CKr)
                self.skipped.append((self.HKr, self.Nr, mk, now))
                self.Nr += 1

    def dh_ratchet(self, dh_pub):
        self.PN = self.Ns
        self.Ns = 0
        self.Nr = 0
        self.DHr = dh_pub
        self.HKs = self.NHKs
        self.HKr = self.NHKr
        self.RK, self.CKr, self.NHKr = kdf_rk(self.RK, dh(self.DHs[0], self.DHr))
        self.DHs = self.generate_dh()
        self.RK, self.CKs, self.NHKs = kdf_rk(self.RK, dh(self.DHs[0], self.DHr))

    def serialize(self):
        """docs/PROTOCOL.md §13 section 6."""
        flags = 0
        if self.CKs is not None:
            flags |= F_SEND
        if self.CKr is not None:
            flags |= F_RECV
        if self.DHr is not None:
            flags |= F_DHR
        z = bytes(32)
        out = bytes([STATE_VERSION, flags])
        for v in (self.DHs[0], self.DHr, self.RK, self.CKs, self.CKr, self.HKs,
                  self.HKr, self.NHKs, self.NHKr):
            out += v if v is not None else z
        out += struct.pack(">IIIH", self.Ns, self.Nr, self.PN, len(self.skipped))
        for hk, n, mk, t in self.skipped:
            out += hk + struct.pack(">I", n) + mk + struct.pack(">Q", t)
        return out


def main():
    sk = fixed("SK")
    hka = fixed("shared_hka")
    nhkb = fixed("shared_nhkb")
    bob_spk = fixed("bob signed prekey")
    alice_dh = [fixed("alice ratchet %d" % i) for i in range(2)]
    bob_dh = [fixed("bob ratchet %d" % i) for i in range(2)]
    alice_nonces = [fixed("alice nonce %d" % i)[:24] for i in range(3)]
    bob_nonces = [fixed("bob nonce %d" % i)[:24] for i in range(2)]

    alice = Party("alice", alice_dh, alice_nonces)
    bob = Party("bob", bob_dh, bob_nonces)
    alice.init_alice(sk, crypto_scalarmult_base(bob_spk), hka, nhkb)
    bob.init_bob(sk, bob_spk, hka, nhkb)

    plan = [  # (sender, plaintext, ad)
        ("alice", b"We accept the venue.", b"ad: channel 7"),
        ("alice", b"", b""),
        ("bob", b"Agreed; two delegates each.", b"ad: channel 7"),
        ("bob", bytes(range(64)), b"x"),
        ("alice", b"Confirmed." * 7, b"ad: channel 7, the last"),
    ]
    msgs = []
    for sender, pt, ad in plan[:2]:
        m, hdr, mk = alice.encrypt(pt, ad)
        msgs.append({"sender": sender, "ad": ad, "plaintext": pt, "header": hdr,
                     "mk": mk, "message": m})

    # (receiver, message index, now) in delivery order
    deliveries = []

    def deliver(party, i, now):
        m = msgs[i]
        pt = party.decrypt(m["message"], m["ad"], now)
        assert pt == m["plaintext"]
        deliveries.append({"receiver": party.name, "index": i, "now": now})

    deliver(bob, 1, 1000)
    for sender, pt, ad in plan[2:4]:
        m, hdr, mk = bob.encrypt(pt, ad)
        msgs.append({"sender": sender, "ad": ad, "plaintext": pt, "header": hdr,
                     "mk": mk, "message": m})
    deliver(alice, 3, 1500)
    deliver(alice, 2, 1600)
    sender, pt, ad = plan[4]
    m, hdr, mk = alice.encrypt(pt, ad)
    msgs.append({"sender": sender, "ad": ad, "plaintext": pt, "header": hdr,
                 "mk": mk, "message": m})
    deliver(bob, 4, 2000)
    states = {"alice_final": alice.serialize(), "bob_final": bob.serialize()}
    deliver(bob, 0, 2100)
    states["bob_after_m0"] = bob.serialize()
    assert not alice.dh_privs and not bob.dh_privs
    assert not alice.nonces and not bob.nonces

    doc = {
        "description": "Backchannel Double Ratchet (header encryption) vectors; "
                       "generated by tests/vectors/gen_ratchet.py; hex strings",
        "inputs": {
            "sk": sk, "shared_hka": hka, "shared_nhkb": nhkb,
            "bob_spk_priv": bob_spk, "bob_spk_pub": crypto_scalarmult_base(bob_spk),
            "alice_dh_priv": alice_dh, "bob_dh_priv": bob_dh,
            "alice_nonces": alice_nonces, "bob_nonces": bob_nonces,
        },
        "kdf_rk": LOG["kdf_rk"],
        "kdf_ck": LOG["kdf_ck"],
        "body_keys": LOG["body_keys"],
        "messages": msgs,
        "deliveries": deliveries,
        "states": states,
    }
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "ratchet.json"), "w") as f:
        json.dump(hexify(doc), f, indent=1, sort_keys=False)
        f.write("\n")
    with open(os.path.join(here, "ratchet_vectors.h"), "w") as f:
        f.write(c_header(doc))


def hexify(v):
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {k: hexify(x) for k, x in v.items()}
    if isinstance(v, list):
        return [hexify(x) for x in v]
    return v


def c_str(b):
    return '"' + b.hex() + '"'


def c_header(doc):
    inp = doc["inputs"]
    o = []
    o.append("/*\n * ratchet_vectors.h - GENERATED by tests/vectors/gen_ratchet.py;"
             " do not edit.\n *\n * The same values as tests/vectors/ratchet.json"
             " (hex strings), from an\n * independent Python implementation of"
             " docs/PROTOCOL.md §13.\n */\n")
    o.append("#ifndef BC_RATCHET_VECTORS_H\n#define BC_RATCHET_VECTORS_H\n\n")
    for k in ("sk", "shared_hka", "shared_nhkb", "bob_spk_priv", "bob_spk_pub"):
        o.append("static const char *const rv_%s = %s;\n" % (k, c_str(inp[k])))
    for k in ("alice_dh_priv", "bob_dh_priv", "alice_nonces", "bob_nonces"):
        o.append("static const char *const rv_%s[] = {\n" % k)
        for x in inp[k]:
            o.append("\t%s,\n" % c_str(x))
        o.append("};\n")
    o.append("\nstruct rv_kdf_rk { const char *rk, *dh_out, *out_rk, *out_ck, *out_nhk; };\n")
    o.append("static const struct rv_kdf_rk rv_kdf_rk[] = {\n")
    for e in doc["kdf_rk"]:
        o.append("\t{ %s,\n\t  %s,\n\t  %s,\n\t  %s,\n\t  %s },\n" % tuple(
            c_str(e[k]) for k in ("rk", "dh_out", "out_rk", "out_ck", "out_nhk")))
    o.append("};\n\nstruct rv_kdf_ck { const char *ck, *out_ck, *out_mk; };\n")
    o.append("static const struct rv_kdf_ck rv_kdf_ck[] = {\n")
    for e in doc["kdf_ck"]:
        o.append("\t{ %s,\n\t  %s,\n\t  %s },\n" % tuple(
            c_str(e[k]) for k in ("ck", "out_ck", "out_mk")))
    o.append("};\n\nstruct rv_body_keys { const char *mk, *key, *nonce; };\n")
    o.append("static const struct rv_body_keys rv_body_keys[] = {\n")
    for e in doc["body_keys"]:
        o.append("\t{ %s,\n\t  %s,\n\t  %s },\n" % tuple(
            c_str(e[k]) for k in ("mk", "key", "nonce")))
    o.append("};\n\n/* sender: 0 = Alice, 1 = Bob; in the order sent */\n")
    o.append("struct rv_message { int sender; const char *ad, *plaintext, *header, *mk, "
             "*message; };\n")
    o.append("static const struct rv_message rv_messages[] = {\n")
    for e in doc["messages"]:
        o.append("\t{ %d, %s,\n\t  %s,\n\t  %s,\n\t  %s,\n\t  %s },\n" % (
            0 if e["sender"] == "alice" else 1, c_str(e["ad"]), c_str(e["plaintext"]),
            c_str(e["header"]), c_str(e["mk"]), c_str(e["message"])))
    o.append("};\n\n/* receiver: 0 = Alice, 1 = Bob; index into rv_messages */\n")
    o.append("struct rv_delivery { int receiver; int index; unsigned long now; };\n")
    o.append("static const struct rv_delivery rv_deliveries[] = {\n")
    for e in doc["deliveries"]:
        o.append("\t{ %d, %d, %d },\n" % (0 if e["receiver"] == "alice" else 1,
                                           e["index"], e["now"]))
    o.append("};\n\n/* Serialised states (docs/PROTOCOL.md §13 section 6): after the delivery\n"
             " * of m4 (alice_final, bob_final) and after Bob's late m0 (bob_after_m0). */\n")
    for k in ("alice_final", "bob_final", "bob_after_m0"):
        o.append("static const char *const rv_state_%s =\n" % k)
        h = doc["states"][k].hex()
        for i in range(0, len(h), 64):
            o.append('\t"%s"%s\n' % (h[i:i + 64], ";" if i + 64 >= len(h) else ""))
    o.append("\n#endif\n")
    return "".join(o)


if __name__ == "__main__":
    main()
