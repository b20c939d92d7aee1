#!/usr/bin/env python3
"""OpenSSL's own 768-bit modular exponentiation on this machine, for Benchmarks/mse/run.

Calls libcrypto's BN_mod_exp (the same routine OpenSSL's DH uses) through ctypes with the MSE prime, a random
95-byte base and a random 160-bit exponent, for SECONDS (default 2) of CPU time (as `openssl speed`, which divides by user time). `openssl speed` has no 768-bit DH (its
ffdh tests start at 2048 bits), hence this. The ctypes call costs well under a microsecond, included.
"""
import ctypes, os, sys, time

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
lib = ctypes.CDLL("libcrypto.so.3")
lib.BN_new.restype = ctypes.c_void_p
lib.BN_CTX_new.restype = ctypes.c_void_p
lib.BN_bin2bn.restype = ctypes.c_void_p
lib.BN_bin2bn.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
lib.BN_mod_exp.argtypes = [ctypes.c_void_p] * 5
P = bytes.fromhex(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563")
ctx = lib.BN_CTX_new()
p = lib.BN_bin2bn(P, 96, None)
result = lib.BN_new()
for label, base_bytes in (("2^x", b"\x02"), ("y^x", os.urandom(95))):
    base = lib.BN_bin2bn(base_bytes, len(base_bytes), None)
    exponents = [lib.BN_bin2bn(os.urandom(20), 20, None) for _ in range(64)]
    n = 0
    start = time.process_time()
    while time.process_time() - start < seconds:
        lib.BN_mod_exp(result, base, exponents[n & 63], p, ctx)
        n += 1
    print("openssl BN_mod_exp %s (768-bit, 160-bit x) %8.1f us" % (label, (time.process_time() - start) / n * 1e6))
