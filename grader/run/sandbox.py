"""The sandbox of the child that runs student code, configured in this one place.

A forked child calls `apply_in_child` before it imports any student code. The layers, weakest
first; each one that works on this machine is used (`probe` finds out once, at worker start):

- process: a new session and process group (the zygote kills the whole group at a time limit),
  resource limits (address space, CPU time, file size, open files, no core files; not RLIMIT_NPROC,
  which counts every process of the user and would starve a laptop's threads, and which root
  ignores: seccomp stops forks and threads),
  no capabilities (a grader run as root, as on Gradescope, gives its children none, now or after exec),
  an empty scratch folder as the working directory, a scrubbed environment, stdin from
  /dev/null, stdout/stderr into a capture file. Always on.
- namespaces: no network at all (a network namespace with nothing in it but a loopback device,
  down: the zygote's, made once at its start and entered by its children one at a time, none with a
  capability in it), a scratch folder that is a size-limited tmpfs in a mount namespace of the
  child's own (gone with the child, whatever it wrote), and an IPC namespace of its own: no System
  V or POSIX queues, shared memory or semaphores shared with anyone, the previous child included. Refused inside Docker's
  default profile and on Ubuntu >= 23.10: then the zygote measures the scratch folder instead
  (`scratch_usage`), every look at the child, and stops a child that writes more than its share.
- landlock: the child may read only the system's and Python's folders, its own /proc entry and
  its own submission,
  write only its scratch folder, use no TCP, and signal or ptrace nothing outside itself.
- seccomp: no sockets, no new processes or threads (clone, fork, exec), no kill/ptrace/process_vm_*,
  no change to any file's mode, owner, times, extended attributes or flags (chmod, chown, utimensat,
  setxattr, ioctl FS_IOC_SETFLAGS: Landlock does not cover them), no timers that signal (alarm,
  setitimer, timer_create), no namespace, mount, bpf, io_uring, keyring or System V IPC calls.
  x86_64 only.

The environment: the zygote itself is started with a few fixed variables (`zygote_environment`),
so neither `os.environ` nor the process's original environment block (`/proc/self/environ`, and
the copy of it on the stack, which every forked child inherits) holds anything of the grader's.

The mode is "strong" when landlock and seccomp both work, "partial" when one does, "minimal"
when neither does; `describe` says what each missing layer leaves open. Where the zygote cannot
run (no os.fork, not Linux, no prctl), the portable worker's child sets the resource limits this
platform has (`set_limits`, `PORTABLE_LIMITS`) and nothing else: the "portable" mode
(`describe_portable`). Nothing here loads libc or imports `resource` until a layer needs it, so that
this module imports on macOS and Windows too.
"""
from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
import signal
import site
import socket
import stat
import sys
import tempfile
from dataclasses import dataclass

LAYERS = ("namespaces", "landlock", "seccomp")

OUTPUT_FILE_LIMIT = 1 << 20          # bytes a child may write to any file, its printed output included
OPEN_FILES = 256
DISK_FILES = 10_000                  # files and folders a child may make in its scratch folder
LIMITS = ("memory", "cpu", "file size", "open files")    # the resource limits a child can have (`set_limits`)

# What a missing layer leaves open, for the report.
GAPS = {
    "landlock": "student code can read any file the grader's user can (the reference, hidden cases, other submissions)",
    "seccomp": ("student code can open network connections, start processes and threads (a thread bomb takes every "
                "process id), signal other processes of this user and change the mode, owner or times of any file "
                "this user owns"),
}

_PR_SET_NO_NEW_PRIVS, _PR_SET_DUMPABLE, _PR_SET_SECCOMP = 38, 4, 22


@functools.lru_cache(maxsize=None)
def _libc():
    """The C library, loaded when a Linux layer first needs it, never at import (Windows has no
    `CDLL(None)`); None where it cannot be loaded."""
    try:
        return ctypes.CDLL(None, use_errno=True)
    except (OSError, TypeError):
        return None


def has_prctl() -> bool:
    """Whether this C library has prctl, which every layer of the zygote's children needs (macOS's has none)."""
    return getattr(_libc(), "prctl", None) is not None


@dataclass(frozen=True)
class Policy:
    """Everything one child is allowed: limits from the spec, and the folders it may read or write."""

    memory: int                       # bytes of address space
    cpu_seconds: int                  # CPU time backstop; the wall-clock kill is the zygote's
    submission_dir: str               # read-only
    scratch: str                      # read-write; the working directory
    disk: int                         # bytes it may write into its scratch folder, in all
    read_only: tuple = ()             # more folders it may read: the assignment's support files


# One thread per math library: every child's timings alike, and a zygote with one thread (numpy's
# BLAS would start a pool at import, and the kernel makes no user namespace for a threaded process).
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def zygote_environment(scratch_root: str) -> dict:
    """All the environment a worker gets: nothing of the grader's (a CI token, say) may reach the
    student, and a forked child can read the environment its zygote was started with."""
    if os.name == "nt":              # the portable worker's: Windows' Python needs its system folders to start
        kept = {k: os.environ[k] for k in ("SYSTEMROOT", "WINDIR", "PATH") if k in os.environ}
        return {**kept, "TEMP": scratch_root, "TMP": scratch_root, "TMPDIR": scratch_root}
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TMPDIR": scratch_root, **_ONE_THREAD}


def child_environment(scratch: str) -> dict:
    """os.environ in a child, before student code runs: its scratch folder as home and temporary
    folder, and one thread per math library."""
    home = {"USERPROFILE": scratch} if os.name == "nt" else {"HOME": scratch}
    return {**zygote_environment(scratch), **home, **_ONE_THREAD}


MODES = ("strong", "partial", "minimal", "portable")


def mode_of(layers: tuple) -> str:
    strong = sum(layer in layers for layer in ("landlock", "seccomp"))
    return ("minimal", "partial", "strong")[strong]


def describe(layers: tuple, landlock_abi: int = 0) -> str:
    """'strong: process+namespaces+landlock(abi 7)+seccomp'"""
    names = ["process"] + [f"landlock(abi {landlock_abi})" if layer == "landlock" else layer for layer in layers]
    return f"{mode_of(layers)}: " + "+".join(names)


def disk_cap(layers: tuple, disk: int) -> str:
    """How much a run may write, and how that is held: '64 MiB, 10,000 files per run: ...'"""
    from grader.run.supervise import _SAMPLE         # the looks' interval (supervise imports this module)
    how = ("a tmpfs in the run's own mount namespace, gone with the run" if "namespaces" in layers else
           f"its scratch folder measured every {_SAMPLE * 1000:g} ms and before each answer is taken, and the run "
           "stopped past it (no tmpfs without namespaces)")
    where = "" if "landlock" in layers else "; writes outside the scratch folder are not counted (no Landlock)"
    return f"{disk >> 20} MiB, {DISK_FILES:,} files per run: {how}{where}"


def warning(layers: tuple) -> str:
    """One sentence for a weaker mode; empty when strong."""
    missing = [layer for layer in ("landlock", "seccomp") if layer not in layers]
    if not missing:
        return ""
    return (f"sandbox is {mode_of(layers)}: {' and '.join(missing)} unavailable here, so "
            + "; ".join(GAPS[m] for m in missing) + ".")


def portable_limits() -> tuple:
    """Which of LIMITS the portable worker's child sets here: none without `resource` (Windows), and
    no memory limit on macOS, whose kernel accepts RLIMIT_AS and does not enforce it."""
    try:
        import resource  # noqa: F401 - only whether it exists
    except ImportError:
        return ()
    return tuple(name for name in LIMITS if not (name == "memory" and sys.platform == "darwin"))


def describe_portable(limits: tuple) -> str:
    """'portable: process+limits(memory, cpu, file size, open files)'; 'portable: process' on Windows."""
    return "portable: process" + (f"+limits({', '.join(limits)})" if limits else "")


def portable_warning(limits: tuple) -> str:
    """What the portable mode is for, and what it is not, in one sentence."""
    held = "a time limit per case, crashes kept to their case, a cap on what it writes in its scratch folder"
    if limits:
        names = [{"cpu": "CPU time"}.get(name, name) for name in limits]
        held += ", and limits on " + (", ".join(names[:-1]) + " and " if len(names) > 1 else "") + names[-1]
    if not limits:
        held += "; no memory, CPU time or file limits here"
    elif "memory" not in limits:
        held += "; macOS does not enforce a memory limit"
    return (f"sandbox is portable: it guards your own machine against mistakes ({held}), not the grader "
            "against hostile code: student code can read and write any file this user can, use the network "
            "and start processes.")


# ---------------------------------------------------------------------------------------------
# Applying the sandbox in the child


def apply_in_child(policy: Policy, layers: tuple, capture_path: str, keep_fds: tuple) -> None:
    """Confine the calling (freshly forked, single-threaded) process. Raises if a layer fails."""
    os.setsid()
    redirect_and_scrub(policy, capture_path)
    _close_fds_except(keep_fds + (tuple(fd for fd, _ in _fixed_rules()) if "landlock" in layers else ()))
    set_limits(policy, LIMITS)
    if "namespaces" in layers:
        enter_namespaces(policy)
    os.chdir(policy.scratch)                   # after the tmpfs is mounted on it
    drop_capabilities()
    if "landlock" in layers or "seccomp" in layers:
        _prctl(_PR_SET_NO_NEW_PRIVS, 1)
    if "landlock" in layers:
        apply_landlock(policy)
    if "seccomp" in layers:
        apply_seccomp()


O_BINARY = getattr(os, "O_BINARY", 0)    # Windows: no newline translation in the capture file


def redirect_and_scrub(policy: Policy, capture_path: str) -> None:
    """What every child does before student code runs, forked or started afresh, on any platform:
    stdin from the null device, its printed output into the capture file, and an environment of
    its own (tempfile forgets its parent's folder: it now uses TMPDIR, the scratch folder)."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    out = os.open(capture_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | O_BINARY, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    for fd in (devnull, out):
        if fd > 2:
            os.close(fd)
    wanted = child_environment(policy.scratch)
    for key in [k for k in os.environ if k not in wanted]:
        del os.environ[key]
    for key, value in wanted.items():               # only what differs: each change is a call into libc
        if os.environ.get(key) != value:
            os.environ[key] = value
    tempfile.tempdir = None


_PR_CAPBSET_DROP, _PR_SET_SECUREBITS, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 24, 28, 47, 4
# root keeps no capabilities through exec or setuid, and may not change that again
_SECBITS = 0b101111                  # NOROOT, NOROOT_LOCKED, NO_SETUID_FIXUP, NO_SETUID_FIXUP_LOCKED, KEEP_CAPS_LOCKED
_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """No capabilities at all: root's (CAP_SYS_PTRACE would open the grader's /proc/<pid>/environ
    and memory, CAP_DAC_OVERRIDE every file) nor, after an exec, any regained from the bounding set.
    The bounding set and securebits need CAP_SETPCAP, which only a privileged process has: for any
    other, those calls fail and there is nothing to drop."""
    if not _BOUNDING_EMPTY:
        _empty_bounding_set()
    _libc().prctl(_PR_SET_SECUREBITS, _SECBITS, 0, 0, 0)
    _libc().prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if _libc().capset(ctypes.byref(_CapHeader(_CAPABILITY_VERSION_3, 0)), (_CapData * 2)()) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


_BOUNDING_EMPTY = False              # the zygote emptied its bounding set, and its children inherit it (share_namespaces)


def _empty_bounding_set() -> bool:
    """Drop every capability from this process's bounding set; whether each drop took."""
    for cap in range(64):
        if _libc().prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if ctypes.get_errno() == errno.EINVAL:
                return cap > 0                                # past the kernel's last capability
            return False
    return True


def protect_self() -> None:
    """Make this (trusted) process non-dumpable: a same-user child cannot read its memory or /proc files.
    Nothing to do without prctl (macOS, Windows): there the portable worker runs, which protects nobody
    from a hostile student."""
    prctl = getattr(_libc(), "prctl", None)
    if prctl is not None:
        prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """SIGKILL this (forked) process when its parent, the zygote, dies, even by kill -9. The zygote
    kills its children itself when the grader goes away; this covers the zygote's own death."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:       # it died before the line above
        os._exit(1)


def _close_fds_except(keep: tuple) -> None:
    top = min(os.sysconf("SC_OPEN_MAX"), 4096)
    low = 3
    for fd in sorted(keep):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, top)


def set_limits(policy: Policy, names: tuple) -> None:
    """Lower the resource limits named (of LIMITS) to the policy's, and allow no core files."""
    import resource
    which = {"memory": (resource.RLIMIT_AS, policy.memory), "cpu": (resource.RLIMIT_CPU, policy.cpu_seconds),
             "file size": (resource.RLIMIT_FSIZE, OUTPUT_FILE_LIMIT), "open files": (resource.RLIMIT_NOFILE, OPEN_FILES)}
    for name in names:
        _limit(*which[name])
    _limit(resource.RLIMIT_CORE, 0)


def _limit(which: int, value: int) -> None:
    """Lower a limit, soft and hard; never above the hard limit we inherited (that would fail).

    For CPU time the hard limit is one second later: SIGXCPU at the soft limit, SIGKILL at the hard.
    """
    import resource
    _, hard = resource.getrlimit(which)
    new_hard = value + 1 if which == resource.RLIMIT_CPU else value
    if hard != resource.RLIM_INFINITY:
        value, new_hard = min(value, hard), min(new_hard, hard)
    resource.setrlimit(which, (value, new_hard))


def _prctl(option: int, arg: int) -> None:
    if _libc().prctl(option, arg, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


# ---------------------------------------------------------------------------------------------
# Namespaces


_CLONE_NEWUSER, _CLONE_NEWNET, _CLONE_NEWNS, _CLONE_NEWIPC = 0x10000000, 0x40000000, 0x00020000, 0x08000000
_MS_NOSUID, _MS_NODEV, _MS_REC, _MS_PRIVATE = 0x2, 0x4, 0x4000, 0x40000


_SHARED_NAMESPACES = False           # the zygote's own user and network namespaces are there to share


def share_namespaces() -> bool:
    """In the zygote, once: a user namespace and a network namespace of its own, which its children
    then share, one at a time, instead of each making both (a network namespace costs about a
    millisecond of CPU to make and to clean up). That network namespace is empty: a loopback device,
    down, and nothing else; no child has a capability in it. False where the kernel refuses (a
    threaded process, no unprivileged user namespaces): each child then makes its own."""
    global _SHARED_NAMESPACES, _BOUNDING_EMPTY
    uid, gid = os.getuid(), os.getgid()
    _libc().prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)      # else /proc/self/uid_map is not ours to write
    try:
        if _libc().unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
            return False
        _map_ids(uid, gid)
    finally:
        protect_self()
    _SHARED_NAMESPACES = True
    # The bounding set only limits what an exec may gain: emptied here, once, with every capability
    # this process holds in its namespace kept for its children's mounts. They inherit it empty, as
    # long as they make no user namespace of their own (which would fill it again).
    _BOUNDING_EMPTY = _empty_bounding_set()
    return True


def own_network() -> bool:
    """In a zygote forked from another (zygote._spawn): a network namespace of its own for its
    children, where they would share the first zygote's (`share_namespaces`) with its children.
    False where the kernel refuses."""
    if not _SHARED_NAMESPACES:
        return True                  # each child makes its own
    return _libc().unshare(_CLONE_NEWNET) == 0


def enter_namespaces(policy: Policy) -> None:
    """A mount and an IPC namespace of the child's own, and a tmpfs of `policy.disk` bytes on the
    scratch folder (and on /dev/shm): what the child writes there is counted against that size,
    and is gone when the child is (the namespace, and so the tmpfs, dies with its last process).
    Also a user and a network namespace, unless the zygote made them for all its children
    (`share_namespaces`)."""
    uid, gid = os.getuid(), os.getgid()
    _libc().prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)      # else /proc/self/uid_map is not ours to write
    own = _CLONE_NEWNS | _CLONE_NEWIPC
    if not _SHARED_NAMESPACES:
        own |= _CLONE_NEWUSER | _CLONE_NEWNET
    if _libc().unshare(own) != 0:
        raise OSError(ctypes.get_errno(), "unshare failed")
    if not _SHARED_NAMESPACES:
        _map_ids(uid, gid)
    _mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE)          # nothing propagates back to the grader's mounts
    _tmpfs(policy.scratch, policy.disk, DISK_FILES)
    if os.path.isdir("/dev/shm"):
        _tmpfs("/dev/shm", 1 << 20, 64)


def _map_ids(uid: int, gid: int) -> None:
    """In a new user namespace: the same user and group ids as outside it, and no setgroups."""
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def _tmpfs(path: str, size: int, files: int) -> None:
    options = f"size={max(size, 4096)},nr_inodes={files},mode=0700,uid={os.getuid()},gid={os.getgid()}"
    _mount(b"grader", os.fsencode(path), b"tmpfs", _MS_NOSUID | _MS_NODEV, options.encode())


def _mount(source: bytes, target: bytes, kind: bytes | None, flags: int, data: bytes | None = None) -> None:
    mount = _libc().mount
    mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    if mount(source, target, kind, flags, data) != 0:
        raise OSError(ctypes.get_errno(), f"mount on {os.fsdecode(target)} failed")


def scratch_usage(scratch: str, files: int = DISK_FILES) -> tuple[int, int]:
    """(bytes, entries) under the scratch folder, counting no further than `files` entries: the
    zygote's measure where no tmpfs bounds it. Files removed while open are not seen: each holds
    at most OUTPUT_FILE_LIMIT, and a child holds at most OPEN_FILES of them."""
    used, seen, stack = 0, 0, [scratch]
    while stack and seen <= files:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    seen += 1
                    try:
                        used += _allocated(entry.stat(follow_symlinks=False))
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                    except OSError:
                        continue
        except OSError:
            continue
    return used, seen


def _allocated(st: os.stat_result) -> int:
    """Bytes a file takes on disk; its size where the system does not say (Windows)."""
    blocks = getattr(st, "st_blocks", None)
    return st.st_size if blocks is None else blocks * 512


# ---------------------------------------------------------------------------------------------
# Landlock (Linux >= 5.13), by raw system calls: no dependency


_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_TRUNCATE, _IOCTL_DEV = 1 << 14, 1 << 15
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is not available."""
    abi = _libc().syscall(_SYS_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION)
    return max(abi, 0)


@functools.lru_cache(maxsize=None)
def _system_roots() -> tuple:
    """The system's and Python's folders that exist, resolved: the same for every child, so worked
    out once in the zygote (`prepare`) rather than in each child."""
    roots = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/sys/devices/system/cpu",
             sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()]
    roots = {os.path.realpath(r) for r in roots if os.path.isdir(r)}
    for config in _CONFIG_ROOTS:
        if os.path.isdir(config) and os.path.realpath(config) not in roots:
            roots.update(readable_by_all(os.path.realpath(config)))
    return tuple(sorted(roots))


# The system's configuration: what a child may need there (the time zone, the loader's cache, the
# users' names, fonts) is readable by every user; what only root or a group may read (/etc/shadow,
# ssh host keys, /etc/ssl/private, a database's passwords) is a secret. A child keeps the grader's
# user id (root's, on Gradescope: root reads its own 0600 files without any capability), so only
# the parts every user may read are allowed, not the folder.
_CONFIG_ROOTS = ("/etc",)
_SCAN_CAP = 20_000                   # entries looked at under one root; past that, the rest is not allowed


def readable_by_all(root: str, cap: int = _SCAN_CAP) -> list[str]:
    """The fewest files and folders under `root` that together hold everything there every user may
    read, and nothing else: a folder whose whole tree is readable by all is one entry; in any other,
    its readable files and the readable parts of its sub-folders. Symbolic links are left out (their
    targets are allowed, or not, where they lie); so is whatever lies past `cap` entries."""
    seen = [0]

    def public(st: os.stat_result) -> bool:
        need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(st.st_mode) else 0)
        return st.st_mode & need == need

    def walk(folder: str) -> tuple[bool, list[str]]:
        whole, parts = True, []
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return False, []
        for entry in entries:
            seen[0] += 1
            if seen[0] > cap:
                return False, parts
            try:
                if entry.is_symlink():
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                whole = False
                continue
            if not public(st):
                whole = False
            elif stat.S_ISDIR(st.st_mode):
                all_of_it, inside = walk(entry.path)
                parts += [entry.path] if all_of_it else inside
                whole = whole and all_of_it
            elif stat.S_ISREG(st.st_mode):
                parts.append(entry.path)
            else:
                whole = False            # a device, a socket, a pipe: not a child's to open
        return whole, parts

    try:
        if not public(os.stat(root)):
            return []
    except OSError:
        return []
    whole, parts = walk(root)
    return [root] if whole else parts


def prepare(layers: tuple) -> None:
    """Work out in the zygote, once, what every child's layers need: the folders Landlock lets it
    read and the seccomp filter. A child then only makes the system calls."""
    if "landlock" in layers:
        _fixed_rules()
    if "seccomp" in layers:
        _seccomp_filter()


def apply_landlock(policy: Policy) -> None:
    abi = min(landlock_abi(), 6)
    if abi < 1:
        raise OSError(errno.ENOSYS, "Landlock is not available")
    fs = _FS_BY_ABI[min(abi, 5)]
    attr = _RulesetAttr(handled_access_fs=fs,
                        handled_access_net=(_NET_BIND_TCP | _NET_CONNECT_TCP) if abi >= 4 else 0,
                        scoped=(_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL) if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _libc().syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for fd, access in _fixed_rules():
            _landlock_rule(ruleset, fd, access & fs)
        _landlock_allow(ruleset, f"/proc/{os.getpid()}", (_EXECUTE | _READ_FILE | _READ_DIR) & fs)   # its own, no other
        _landlock_allow(ruleset, policy.submission_dir, (_READ_FILE | _READ_DIR) & fs)
        for path in policy.read_only:
            _landlock_allow(ruleset, path, (_READ_FILE | _READ_DIR) & fs)
        _landlock_allow(ruleset, policy.scratch, fs)
        if _libc().syscall(_SYS_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
        for fd, _ in _fixed_rules():     # the zygote's descriptors, inherited: this process needs them no more
            os.close(fd)
        _fixed_rules.cache_clear()       # closed: a later ruleset here would open them again


@functools.lru_cache(maxsize=None)
def _fixed_rules() -> tuple:
    """The rules of every child's ruleset that are the same for all, as (descriptor, access): the
    system's and Python's folders, the null device, and a few device and /proc files. Each path is
    opened (O_PATH) once, in the zygote (`prepare`), not in each child; a child closes its copies
    of the descriptors once its ruleset is made (apply_in_child keeps them open until then)."""
    read = _EXECUTE | _READ_FILE | _READ_DIR
    paths = [(root, read) for root in _system_roots()] + [(os.devnull, _READ_FILE | _WRITE_FILE)]
    paths += [(path, _READ_FILE) for path in ("/dev/urandom", "/dev/random", "/dev/zero", "/proc/cpuinfo",
                                              "/proc/meminfo", "/proc/stat") if os.path.exists(path)]
    rules = []
    for path, access in paths:
        try:
            rules.append(_opened(path, access))
        except OSError:                  # gone since it was found: nothing to allow there
            continue
    return tuple(rules)


def _opened(path: str, access: int) -> tuple[int, int]:
    """(an O_PATH descriptor of path, the access a rule on it may grant: a file's rights only, for a file)."""
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    return fd, access if stat.S_ISDIR(os.fstat(fd).st_mode) else access & _FILE_RIGHTS


def _landlock_allow(ruleset: int, path: str, access: int) -> None:
    fd, access = _opened(path, access)
    try:
        _landlock_rule(ruleset, fd, access, path)
    finally:
        os.close(fd)


def _landlock_rule(ruleset: int, fd: int, access: int, path: str = "") -> None:
    rule = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
    if _libc().syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
        raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path or os.readlink(f'/proc/self/fd/{fd}')}")


# ---------------------------------------------------------------------------------------------
# seccomp, as a small BPF program: no dependency


_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
# x86_64 numbers of the calls a child may not make (EPERM).
_DENY_X86_64 = {
    "socket": 41, "connect": 42, "accept": 43, "bind": 49, "listen": 50, "socketpair": 53, "accept4": 288,
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322,
    "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297,
    "pidfd_send_signal": 424, "pidfd_open": 434, "pidfd_getfd": 438,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "process_madvise": 440, "kcmp": 312,
    "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "keyctl": 250, "add_key": 248, "request_key": 249,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "kexec_load": 246, "init_module": 175, "finit_module": 313, "delete_module": 176, "reboot": 169,
    "swapon": 167, "swapoff": 168, "acct": 163, "mknod": 133, "mknodat": 259,
    "name_to_handle_at": 303, "open_by_handle_at": 304,
    # A file's mode, owner, times and extended attributes: Landlock does not cover them, and the child
    # owns every file the grader's user owns (all of them, for a grader run as root: a setuid bit).
    "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452, "chown": 92, "fchown": 93, "lchown": 94,
    "fchownat": 260, "utime": 132, "utimes": 235, "futimesat": 261, "utimensat": 280,
    "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197, "lremovexattr": 198,
    "fremovexattr": 199, "setxattrat": 463, "removexattrat": 466, "file_setattr": 469,
    # New threads as well as processes (clone, below): a thread bomb takes every process id of the
    # machine in seconds, and no limit counts threads for a grader run as root.
    "clone": 56,
    # Timers: their signal runs the student's handler wherever the grader's own code is when it comes,
    # after a call's clock has stopped and its watch has ended, before its outputs are read (with
    # kill denied, nothing else signals a child at a time of its choosing).
    "alarm": 37, "setitimer": 38, "timer_create": 222, "timer_settime": 223,
    # And no handler at all: signals the child can still bring on itself (SIGXCPU from a CPU limit it
    # lowers, SIGXFSZ, SIGPIPE) ran a ninth red team's handler inside the grader's reading of a call's
    # outputs, and a handler is given the frame it interrupts, from which the grader's own are reached.
    # The child's handlers are all set before it is confined (Python's, and SIGINT's in the zygote).
    "rt_sigaction": 13,
    # System V IPC lives outside any file (so Landlock cannot see it) and outlives the process.
    "shmget": 29, "shmat": 30, "shmctl": 31, "semget": 64, "semop": 65, "semctl": 66, "shmdt": 67,
    "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "semtimedop": 220,
}
_CLONE3 = 435                         # ENOSYS, not EPERM: the C library then falls back to clone
_IOCTL, _FCNTL = 16, 72
# ioctl requests that change a file's attributes (chattr's flags, FS_IOC_FSSETXATTR), which Landlock
# covers only on devices: FS_IOC_SETFLAGS, FS_IOC32_SETFLAGS, FS_IOC_FSSETXATTR; and the ones that
# make a file signal a process when it is ready (FIOSETOWN, SIOCSPGRP), as the fcntl commands below.
_DENY_IOCTLS = (0x40086602, 0x40046602, 0x401C5820, 0x8901, 0x8902)
# fcntl commands that choose who a file signals, and with what, when it can be read or written
# (F_SETOWN, F_SETSIG, F_SETOWN_EX): with O_ASYNC, a child could have its result pipe send any
# signal (SIGKILL) to the grader's process group whenever the grader reads it. kill() is denied
# above; Landlock's signal scoping (ABI 6, Linux 6.12) covers this too, but not on older kernels.
_DENY_FCNTLS = (8, 10, 15)
# The calls whose second argument (ioctl's request, fcntl's command) decides: those in the list are denied.
_DENY_BY_ARG = {_IOCTL: _DENY_IOCTLS, _FCNTL: _DENY_FCNTLS}

_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_JGE_K, _BPF_RET_K = 0x20, 0x15, 0x35, 0x06
_RET_ALLOW, _RET_ERRNO, _RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_supported() -> bool:
    return platform.machine() == "x86_64" and sys.byteorder == "little"


def seccomp_program() -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k). Jumps are relative to the next instruction.

    The calls it acts on are found by a binary search over their numbers, a few comparisons deep,
    not by one comparison each: the kernel runs the program for every system call number when a
    child installs it (to cache the ones always allowed), and a list of 90 took 0.2 ms of each child."""
    acts = sorted([(nr, "eperm") for nr in set(_DENY_X86_64.values())] + [(_CLONE3, "enosys")]
                  + [(nr, f"arg {nr}") for nr in _DENY_BY_ARG])
    body: list = [(_BPF_LD_W_ABS, 0, 0, 4),                              # arch
                  ("arch",),
                  (_BPF_RET_K, 0, 0, _RET_KILL_PROCESS),
                  (_BPF_LD_W_ABS, 0, 0, 0),                              # syscall number
                  ("jge", _X32_SYSCALL_BIT, "eperm")]
    at: dict = {}                                                        # label -> its instruction's index

    def search(items: list) -> None:
        if len(items) <= 6:
            body.extend(("jeq", nr, action) for nr, action in items)
            body.append(("ret", _RET_ALLOW))
            return
        mid = len(items) // 2
        upper = f"from {items[mid][0]}"
        body.append(("jge", items[mid][0], upper))                       # else on to the lower half
        search(items[:mid])
        at[upper] = len(body)
        search(items[mid:])

    search(acts)
    # BPF jumps only forward: the calls judged by their second argument, then the returns, come last
    for nr, denied in _DENY_BY_ARG.items():
        at[f"arg {nr}"] = len(body)
        body += [(_BPF_LD_W_ABS, 0, 0, 24)]                              # args[1]'s low 32 bits
        body += [("jeq", value, "eperm") for value in denied]
        body += [("ret", _RET_ALLOW)]
    at["eperm"], at["enosys"] = len(body), len(body) + 1
    body += [(_BPF_RET_K, 0, 0, _RET_ERRNO | errno.EPERM),
             (_BPF_RET_K, 0, 0, _RET_ERRNO | errno.ENOSYS)]
    program = []
    for i, ins in enumerate(body):
        rel = lambda label: at[label] - (i + 1)
        if ins[0] == "arch":
            program.append((_BPF_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64))       # right arch: skip the kill
        elif ins[0] == "jeq":
            program.append((_BPF_JEQ_K, rel(ins[2]), 0, ins[1]))
        elif ins[0] == "jge":
            program.append((_BPF_JGE_K, rel(ins[2]), 0, ins[1]))
        elif ins[0] == "ret":
            program.append((_BPF_RET_K, 0, 0, ins[1]))
        else:
            program.append(ins)
    assert all(0 <= jt <= 255 and 0 <= jf <= 255 for _, jt, jf, _ in program)
    return program


def apply_seccomp() -> None:
    if not seccomp_supported():
        raise OSError(errno.ENOSYS, "seccomp filter only written for x86_64")
    _, prog = _seccomp_filter()
    if _libc().prctl(_PR_SET_SECCOMP, 2, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")


@functools.lru_cache(maxsize=None)
def _seccomp_filter() -> tuple:
    """The program as the kernel takes it (its instructions, kept alive with it), built once."""
    program = seccomp_program()
    filters = (_SockFilter * len(program))(*[_SockFilter(*ins) for ins in program])
    return filters, _SockFprog(len(program), filters)


# ---------------------------------------------------------------------------------------------
# Probing, once per worker


def probe(wanted: tuple = LAYERS) -> tuple[tuple, int]:
    """(the layers that work here, Landlock ABI), each tried for real in a throwaway child."""
    abi = landlock_abi()
    works = []
    for layer in wanted:
        if layer == "landlock" and abi < 1 or layer == "seccomp" and not seccomp_supported():
            continue
        if _try_in_child(layer):
            works.append(layer)
    return tuple(works), abi


def _try_in_child(layer: str) -> bool:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            scratch = os.path.realpath(tempfile.gettempdir())
            if layer == "namespaces":
                enter_namespaces(Policy(memory=0, cpu_seconds=0, submission_dir="/usr", scratch=scratch, disk=1 << 20))
                stats = os.statvfs(scratch)                   # the tmpfs, and its size
                code = 0 if stats.f_blocks * stats.f_frsize <= 1 << 20 else 1
            else:
                _prctl(_PR_SET_NO_NEW_PRIVS, 1)
                if layer == "landlock":
                    apply_landlock(Policy(memory=0, cpu_seconds=0, submission_dir="/usr", scratch=scratch, disk=0))
                    try:
                        os.listdir("/")                       # only subtrees are allowed, never the root
                    except PermissionError:
                        code = 0
                else:
                    apply_seccomp()
                    code = 0 if _no_network() else 1
        except BaseException:  # noqa: BLE001 - a failed probe is just "not available"
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _no_network() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    except PermissionError:
        return True
    return False
