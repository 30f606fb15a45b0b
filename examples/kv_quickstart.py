"""The key-value engine in a few lines: writes, batches, scans, snapshots, request counts.

python examples/kv_quickstart.py [URL]      # default: a temporary local directory
"""

from __future__ import annotations

import sys
import tempfile

from kvengine import DB, WriteBatch


def main(url: str) -> None:
    with DB.open(url) as db:
        db.put(b"user:1", b"ada")  # durable: returns once its WAL object is stored
        db.write(WriteBatch().put(b"user:2", b"grace").put(b"user:3", b"alan"))  # atomic
        with db.snapshot() as before:
            db.delete(b"user:3")
            print("now:     ", [k.decode() for k, _ in db.scan_prefix(b"user:")])
            print("snapshot:", [k.decode() for k, _ in before.scan_prefix(b"user:")])
        for i in range(1000):
            db.put(b"event:%04d" % i, b"payload", durable=False)  # rides on a later PUT
        db.flush()  # memtable -> SST
        print(
            "last 3 events:", [k.decode() for k, _ in db.scan_prefix(b"event:", reverse=True)][:3]
        )
        stats = db.stats()
        print(
            f"requests: {stats['requests']}, about ${stats['cost_usd']['gcs-standard']:.6f} on GCS"
        )
    with DB.open(url, read_only=True) as reader:
        print("reopened, user:1 =", reader.get(b"user:1"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="strata-"))
