"""Page-cache helpers for the benchmark and the tests. Standard library only: the tests also
run this file's source as the server's OS user, outside the project's virtualenv."""
import os
import subprocess


def drop(path):
    """Asks the kernel to drop `path`'s pages from the page cache. DONTNEED skips dirty pages and
    pages under writeback, so they are written back first; pages a process maps stay."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def resident(files):
    """(resident bytes, file bytes) of `files` in the page cache, by fincore(1) (mincore)."""
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES,SIZE", *map(str, files)],
                         capture_output=True, text=True, check=True).stdout.split()
    return sum(map(int, out[0::2])), sum(map(int, out[1::2]))


def mapped_rss(smaps_text, path):
    """Bytes of `path` that a process has mapped into its page tables (the sum of `Rss:` over its
    mappings of `path`), from the text of /proc/<pid>/smaps. Unlike page-cache residency, this
    counts only pages that process itself touched (plus the kernel's fault-around neighbours), so
    it shows what a process read whether or not the pages were cached before."""
    total, ours = 0, False
    for line in smaps_text.splitlines():
        head = line.split(None, 5)
        if head and "-" in head[0] and len(head) >= 5 and ":" in head[3]:
            ours = len(head) == 6 and head[5].strip() == path
        elif ours and line.startswith("Rss:"):
            total += int(line.split()[1]) * 1024
    return total
