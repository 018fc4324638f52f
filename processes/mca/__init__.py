"""MCA 3.0 interface (B1): envelope verification, interface catalogue and services, nonce store, call audit."""
