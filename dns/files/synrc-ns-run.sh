#!/bin/sh
# Starts the current synrc/ns release in the foreground as a lone Erlang node, with the
# configuration under /etc/synrc-ns (what relx's bin/erldns foreground runs, without the
# distribution it insists on: it refuses a vm.args without -name or -sname).
set -eu
. "${NS_ENV:-/etc/synrc-ns/synrc-ns.env}"
root=$NS_HOME/current
read -r erts release <"$root/releases/start_erl.data" || [ -n "${release:-}" ]
export ROOTDIR="$root" BINDIR="$root/erts-$erts/bin" EMU=beam PROGNAME=erl
exec "$BINDIR/erlexec" -noinput +Bd -boot "$root/releases/$release/start" -mode embedded \
    -boot_var SYSTEM_LIB_DIR "$root/lib" -config "$NS_CONFIG" -args_file "$NS_VM_ARGS"
