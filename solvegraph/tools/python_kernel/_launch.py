"""Kernel entry point that caps the process's address space before ipykernel starts.

Setting RLIMIT_AS here, inside the child, turns a memory bomb into a MemoryError in
the cell instead of the host's OOM killer, and avoids a ``preexec_fn`` in a
multi-threaded parent (the warm pool starts kernels from a thread).
"""

import os
import resource


def main() -> None:
    limit_mb = int(os.environ.pop("SOLVEGRAPH_KERNEL_MEMORY_MB", "0") or 0)
    if limit_mb > 0:
        limit = limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
