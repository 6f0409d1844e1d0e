"""The child side of :mod:`ekklesia.tools.sandbox`: contain this process, then run the script.

Started only by the sandbox, as ``python -s -P -B _sandbox_child.py NAME=VALUE...`` in the sandbox
directory, with a minimal environment and the write end of a status pipe open (its number is in
the config). It imports only the standard library: it runs in a bare interpreter that may not be
able to import ekklesia.

The steps run in this order because each needs a privilege that a later one gives up:

1. a new network namespace (``unshare(CLONE_NEWNET)`` as root; for other users together with a
   new user namespace); best effort: if that fails the run goes on without it;
2. resource limits (CPU, address space, file size, open files, core dumps, processes), soft = hard
   so that the script cannot raise them back;
3. as root, the drop to the sandbox's uid and gid (with no supplementary groups); where the
   interpreter's own files are not readable by that uid (an interpreter under ``/root``), the
   capability to read and search any file is kept, and only that one;
4. ``no_new_privs`` (no setuid binary can give privileges back) and a parent-death SIGKILL (set
   after the drop, because a change of credentials clears it);
5. the audit hook (:func:`_install_audit_hook`).

A step that must hold (2, 3, 4) aborts the run with a message on stderr and exit status 1, before
any of the script runs. Only when every step is done does the child write one line on the status
pipe, saying which layers engaged (``network=netns limits=1 uid=65534 audit=1``), and close it:
the parent tells a failed setup from a failed script by whether that line came, and the script
cannot forge it (the pipe is closed by then).

The audit hook is a tripwire that makes hostile code fail visibly (a ``PermissionError`` naming
the refused event); it is not the boundary. Code in the same interpreter can in principle get past
a Python-level hook (``_posixsubprocess.fork_exec`` for instance raises no audit event); what holds
then is the kernel: the uid, the network namespace and the limits, and the parent killing every
process of the sandbox once it ends.
"""

from __future__ import annotations

import builtins
import ctypes
import os
import posix
import resource
import sys
import types

# Not typing.TYPE_CHECKING: importing typing (and signal, which imports enum) would cost more than
# a short script takes to run. Type checkers read this name as true all the same.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_SIGKILL = 9  # the same on every Linux architecture

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_PR_SET_KEEPCAPS = 8
_PR_SET_NO_NEW_PRIVS = 38
_CAP_DAC_READ_SEARCH = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# Events refused whatever their arguments: new processes, links that could point out of the
# sandbox, network look-ups and connections, native code, and the introspection that could reach
# the hook's own state.
_ALWAYS_REFUSED = frozenset(
    {
        "os.exec",
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "subprocess.Popen",
        "os.killpg",
        "os.link",
        "os.symlink",
        "os.mknod",
        "socket.bind",
        "socket.connect",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
        "socket.sethostname",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "sys.settrace",
        "sys.setprofile",
        "resource.setrlimit",
        "resource.prlimit",
    }
)
# Events whose arguments at these positions are paths the script would change: each must lie
# inside the sandbox directory.
_WRITE_PATHS = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.rename": (0, 1),
    "os.mkdir": (0,),
    "os.mkfifo": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.chflags": (0,),
    "os.utime": (0,),
    "os.truncate": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.rmtree": (0,),
    "shutil.copyfile": (1,),
    "shutil.copymode": (1,),
    "shutil.copystat": (1,),
    "shutil.copytree": (1,),
    "shutil.move": (0, 1),
    "shutil.chown": (0,),
    "shutil.unpack_archive": (1,),
}
_WRITABLE_DEVICES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})


def main() -> None:
    # The config is NAME=VALUE arguments rather than JSON: importing json would cost more
    # than a fifth of a short run's time.
    config = dict(str.partition(item, "=")[::2] for item in sys.argv[1:])
    layers = []
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        layers.append(f"network={_enter_network_namespace(libc)}")
        _set_limits({k[6:]: int(v) for k, v in config.items() if k.startswith("limit.")})
        layers.append("limits=1")
        if config["uid"]:
            uid, gid, keep_read = int(config["uid"]), int(config["gid"]), config["keep_read"] == "1"
            layers.append(f"uid={_drop_privileges(libc, uid, gid, keep_read=keep_read)}")
        _prctl(libc, _PR_SET_NO_NEW_PRIVS, 1)
        _prctl(libc, _PR_SET_PDEATHSIG, _SIGKILL)
        if os.getppid() != int(config["parent"]):
            os._exit(1)  # the parent died before the death signal was armed
    except OSError as exc:
        print(f"ekklesia sandbox: setup failed: {exc}", file=sys.stderr, flush=True)
        os._exit(1)
    root, script = config["root"], os.path.join(config["root"], config["script"])
    sys.path.insert(0, root)  # so that the script can import the files given with it
    sys.argv = [script]
    if config["audit"] == "1":
        _install_audit_hook(root)
        layers.append("audit=1")
    with os.fdopen(int(config["status_fd"]), "w") as status:
        status.write(" ".join(layers) + "\n")
    _run_script(script)


def _prctl(libc: ctypes.CDLL, option: int, value: int) -> None:
    zero = ctypes.c_ulong(0)
    if libc.prctl(option, ctypes.c_ulong(value), zero, zero, zero) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _enter_network_namespace(libc: ctypes.CDLL) -> str | None:
    """Leave the host's network: as root directly, else inside a new user namespace."""
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        # Not through a user namespace: root's drop to the sandbox uid would find it unmapped.
        return "netns" if libc.unshare(_CLONE_NEWNET) == 0 else None
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        return None
    # Map our own ids into the new user namespace so the script still sees who it is; failing
    # that it sees the overflow id, which changes nothing outside.
    maps = (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1"))
    for name, text in maps:
        try:
            with open(f"/proc/self/{name}", "w") as file:
                file.write(text)
        except OSError:
            break
    # Inside its own user namespace the process holds every capability there: give them up.
    _capset(libc, 0)
    return "userns+netns"


def _set_limits(limits: dict[str, int]) -> None:
    for name, value in limits.items():
        which = getattr(resource, f"RLIMIT_{name}", None)
        if which is None:
            continue  # a limit this platform does not have
        # CPU: SIGXCPU at the soft limit, then SIGKILL a second later if that was caught.
        hard = value + 1 if name == "CPU" else value
        resource.setrlimit(which, (value, hard))


def _drop_privileges(libc: ctypes.CDLL, uid: int, gid: int, *, keep_read: bool) -> str:
    if keep_read:
        _prctl(libc, _PR_SET_KEEPCAPS, 1)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)  # as root this sets the real, effective and saved ids: there is no way back
    if not keep_read:
        return f"{uid}"
    _capset(libc, 1 << _CAP_DAC_READ_SEARCH)
    _prctl(libc, _PR_SET_KEEPCAPS, 0)
    return f"{uid}+cap_dac_read_search"


def _capset(libc: ctypes.CDLL, bits: int) -> None:
    """Make ``bits`` (capabilities 0-31) the effective and permitted sets; none inheritable."""
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)(bits, bits, 0, 0, 0, 0)  # effective, permitted, inheritable x2
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _install_audit_hook(root: str) -> None:
    """Refuse processes, network, native code and writes outside ``root``; reads stay allowed.

    Everything the hook calls is bound here, from C functions and builtin types, so that the
    script cannot change the hook's behaviour by patching a module (``os.path``, ``builtins``).
    """
    refused = _ALWAYS_REFUSED
    write_paths = _WRITE_PATHS
    devices = _WRITABLE_DEVICES
    fspath, stat_, own_pid = posix.fspath, posix.stat, posix.getpid()
    str_, bytes_, int_, isinstance_, len_ = str, bytes, int, isinstance, len
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    af_unix = getattr(posix, "AF_UNIX", 1)
    prefix = root.rstrip("/") + "/"
    # Pre-imported so that later imports of it get this neutered copy: its fork_exec raises no
    # audit event of its own.
    import _posixsubprocess

    def _no_fork_exec(*args: object) -> None:
        raise PermissionError("ekklesia sandbox: starting processes is not allowed")

    _posixsubprocess.fork_exec = _no_fork_exec  # type: ignore[assignment]

    def refuse(event: str, detail: object = "") -> PermissionError:
        return PermissionError(f"ekklesia sandbox: {event} is not allowed {detail}".rstrip())

    def as_text(path: object) -> str | None:
        """The path as text; None for a file descriptor (or anything else that is no path)."""
        if not isinstance_(path, (str_, bytes_)):
            try:
                path = fspath(path)  # type: ignore[call-overload]
            except TypeError:
                return None
        if isinstance_(path, bytes_):
            return bytes_.decode(path, "utf-8", "surrogateescape")  # type: ignore[arg-type]
        return path if isinstance_(path, str_) else None  # type: ignore[return-value]

    def inside(path: str) -> bool:
        """Whether changing ``path`` cannot touch anything outside the sandbox directory.

        A relative path is resolved from the working directory or from a directory descriptor
        (``dir_fd``), which the hook cannot see; both are inside (``os.chdir`` and directory
        opens outside are refused), so a relative path is inside unless it climbs with ``..``.
        An absolute one is folded lexically; links cannot help, since none can be made.
        """
        parts = str_.split(path, "/")
        if not str_.startswith(path, "/"):
            return ".." not in parts
        kept: list[str] = []
        for part in parts:
            if part == "..":
                if kept:
                    kept.pop()
            elif part not in ("", "."):
                kept.append(part)
        return str_.startswith("/" + "/".join(kept) + "/", prefix)

    def is_directory(path: str) -> bool:
        try:
            return (stat_(path).st_mode & 0o170000) == 0o040000
        except OSError:
            return False

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in refused:
            raise refuse(event)
        if event == "open":
            path = as_text(args[0])
            if path is None:
                return
            mode, flags = args[1], args[2]
            writes = bool(isinstance_(flags, int_) and flags & write_flags)
            if isinstance_(mode, str_):
                writes = writes or "w" in mode or "a" in mode or "x" in mode or "+" in mode
            if writes:
                if path in devices or inside(path):
                    return
                raise refuse("writing", path)
            # A directory outside could serve as dir_fd for a write the hook cannot place.
            if not inside(path) and is_directory(path):
                raise refuse("opening a directory outside the sandbox", path)
            return
        positions = write_paths.get(event)
        if positions is not None:
            for at in positions:
                if at >= len_(args):
                    continue
                path = as_text(args[at])
                if path is None:
                    if event == "os.truncate":
                        continue  # ftruncate needs a descriptor open for writing: inside
                    raise refuse(event, "on a file descriptor")
                if not inside(path):
                    raise refuse(event, path)
            return
        if event == "os.chdir":
            path = as_text(args[0])
            if path is not None and not inside(path):
                raise refuse(event, path)
        elif event == "os.kill":
            if args[0] != own_pid:
                raise refuse(event, args[0])
        elif event == "socket.__new__":
            if len_(args) > 1 and args[1] != af_unix:
                raise refuse("creating a network socket")
        elif str_.startswith(event, "ctypes."):
            raise refuse(event)

    sys.addaudithook(hook)


def _run_script(path: str) -> None:
    """Run ``path`` as ``__main__``, its traceback showing the script's frames only."""
    with open(path, "rb") as file:
        source = file.read()
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    excepthook: Callable[..., object] = sys.excepthook
    try:
        code = compile(source, path, "exec")
    except (SyntaxError, ValueError) as exc:
        # The display reads the exception's own traceback, so that is what must be trimmed.
        excepthook(type(exc), exc.with_traceback(None), None)
        sys.exit(1)
    try:
        exec(code, module.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:
        trace = exc.__traceback__
        exc = exc.with_traceback(trace.tb_next if trace is not None else None)
        excepthook(type(exc), exc, exc.__traceback__)
        sys.exit(1)


if __name__ == "__main__":
    main()
