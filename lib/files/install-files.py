# Writes the files of a JSON bundle read from stdin, atomically, with their mode and owner.
# Runs on the target VM as root (python3 ships with Ubuntu 24.04). A file marked "keep" is only
# written when absent, so data published later (e.g. a chart index) is never overwritten.
#
# Some folders belong to a service user (the registry's, the chart server's), who may rename,
# replace or link anything inside them while this runs. So nothing here works by path once a
# folder is reached: each folder is opened component by component without following links
# (O_NOFOLLOW), the new file is created exclusively in it, and its mode and owner are set on the
# open file (fchmod, fchown), never on a name that may by then point elsewhere.
import grp, json, os, pwd, secrets, stat, sys

DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_directory(path):
    """An fd of the folder `path`, made where missing; refuses a link anywhere on the way."""
    if not os.path.isabs(path):
        raise SystemExit(f"install-files: {path} is not an absolute path")
    fd = os.open("/", DIRECTORY_FLAGS)
    for part in [p for p in path.split("/") if p]:
        if part in (".", ".."):
            os.close(fd)
            raise SystemExit(f"install-files: {path} has a . or .. component")
        try:
            child = os.open(part, DIRECTORY_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            os.mkdir(part, 0o755, dir_fd=fd)
            child = os.open(part, DIRECTORY_FLAGS, dir_fd=fd)
        except OSError as error:
            os.close(fd)
            raise SystemExit(f"install-files: {path}: {part} is not a folder (or is a link): {error.strerror}")
        os.close(fd)
        fd = child
    return fd


def exists(name, directory):
    try:
        os.stat(name, dir_fd=directory, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def install(entry):
    path = entry["path"]
    name = os.path.basename(path)
    directory = open_directory(os.path.dirname(path))
    try:
        if entry.get("keep") and exists(name, directory):
            return False
        uid = pwd.getpwnam(entry.get("owner", "root")).pw_uid
        gid = grp.getgrnam(entry.get("group", "root")).gr_gid
        temporary = f".erpdc-{secrets.token_hex(8)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=directory)
        try:
            os.fchown(fd, uid, gid)
            os.fchmod(fd, int(entry.get("mode", "0644"), 8))
            with os.fdopen(os.dup(fd), "w") as out:
                out.write(entry["content"])
                out.flush()
                os.fsync(out.fileno())
            # The name must still be the file written: one replaced meanwhile is not installed.
            # (Whoever can replace it owns the folder and could write the target themselves.)
            replaced = SystemExit(f"install-files: {path}: the file being written was replaced; not installed")
            try:
                written, named = os.fstat(fd), os.stat(temporary, dir_fd=directory, follow_symlinks=False)
                if (written.st_dev, written.st_ino) != (named.st_dev, named.st_ino) or not stat.S_ISREG(named.st_mode):
                    raise replaced
                os.rename(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
            except FileNotFoundError:
                raise replaced
        except BaseException:
            try:
                os.unlink(temporary, dir_fd=directory)
            except OSError:
                pass
            raise
        finally:
            os.close(fd)
        return True
    finally:
        os.close(directory)


bundle = json.load(sys.stdin)
for entry in bundle["files"]:
    if install(entry):
        print("wrote " + entry["path"])
