"""Which split a document belongs to: a pure function of its id and the seed.

Hashing the id (not drawing from a generator in reading order) keeps a document in its split
when other documents are added, removed or renamed around it.
"""

import hashlib

SPLITS = ("train", "val", "test")


def assign_split(doc_id: str, *, seed: int, val: float, test: float) -> str:
    digest = hashlib.sha256(f"{seed}\0{doc_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    if position < test:
        return "test"
    if position < test + val:
        return "val"
    return "train"
