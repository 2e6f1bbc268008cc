# Writes the files of a JSON bundle read from stdin, atomically, with their mode and owner.
# Runs on the target VM as root (python3 ships with Ubuntu 24.04). A file marked "keep" is only
# written when absent, so data published later (e.g. a chart index) is never overwritten.
import grp, json, os, pwd, sys, tempfile

bundle = json.load(sys.stdin)
for entry in bundle["files"]:
    path = entry["path"]
    if entry.get("keep") and os.path.exists(path):
        continue
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".erpdc-")
    with os.fdopen(handle, "w") as out:
        out.write(entry["content"])
    os.chmod(temporary, int(entry.get("mode", "0644"), 8))
    os.chown(temporary, pwd.getpwnam(entry.get("owner", "root")).pw_uid, grp.getgrnam(entry.get("group", "root")).gr_gid)
    os.replace(temporary, path)
    print("wrote " + path)
