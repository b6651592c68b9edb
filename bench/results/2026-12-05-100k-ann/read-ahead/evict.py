"""Drop a folder's files from the page cache (POSIX_FADV_DONTNEED): a cold start without root.

    python evict.py <folder>
"""

import os
import sys
from pathlib import Path

n = 0
for p in Path(sys.argv[1]).rglob("*"):
    if p.is_file():
        fd = os.open(p, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
        n += 1
print("evicted", n, "files")
