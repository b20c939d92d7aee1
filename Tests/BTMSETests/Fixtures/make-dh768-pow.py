# Regenerates dh768-pow.txt: 768-bit modular exponentiation vectors from Python's own pow(), the
# straightforward reference the hand-written Montgomery arithmetic is checked against.
import random
P = int("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563", 16)
r = random.Random(6229)
lines = ["# 768-bit modular exponentiation vectors from Python's pow(base, exponent, P) over the MSE prime P.",
         "# base (96 bytes hex) exponent (20 bytes hex) result (96 bytes hex)"]
cases = [(2, 1), (2, 2**160 - 1), (P - 2, 2**160 - 1), (P - 2, 2), (3, 0x10000), (2, 1 << 159)]
for _ in range(24):
    cases.append((r.randrange(2, P - 1), r.getrandbits(160)))
for _ in range(6):
    cases.append((2, r.getrandbits(160)))
for b, e in cases:
    lines.append("%0192x %040x %0192x" % (b, e, pow(b, e, P)))
open("dh768-pow.txt", "w").write("\n".join(lines) + "\n")
