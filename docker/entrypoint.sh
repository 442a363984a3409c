#!/bin/sh
# energyd's container entrypoint.
#
# 1. Deploys the bundled provider plugins into $ENERGYD_CONFIG_DIR/providers/energy/ when that
#    folder holds no *_provider.py file (the daemon's own loader does it, so a user's plugin is
#    never overwritten and a folder with plugins in it is left alone).
# 2. When $ENERGYD_CONFIG names a file that does not exist, copies the example config
#    ($ENERGYD_EXAMPLE_CONFIG) there to edit later; without an example, runs on the
#    environment and defaults.
# 3. Runs the command:
#      (none)                          energyd run
#      run, check-config, fetch, ...   energyd <command> [args]   (an energyd subcommand)
#      -x / --option ...               energyd <options> run      (global options; `run` added
#                                                                  unless a subcommand follows)
#      anything else                   executed as given           (sh, a one-off tool)
set -eu

config_dir=${ENERGYD_CONFIG_DIR:-/config}

say() {
    echo "entrypoint: $*" >&2
}

if ! mkdir -p "$config_dir" 2>/dev/null || [ ! -w "$config_dir" ]; then
    say "$config_dir is not writable by uid $(id -u); give the volume to that user"
    exit 1
fi

python3 - "$config_dir" <<'PY'
import sys
from pathlib import Path

from energyd.exceptions import EnergydError
from energyd.log import configure_logging
from energyd.providers.loader import EnergyProviderLoader

configure_logging("warning")
try:
    copied = EnergyProviderLoader(Path(sys.argv[1])).deploy_bundled_if_empty()
except EnergydError as exc:
    sys.exit(f"entrypoint: {exc}")
if copied:
    print(f"entrypoint: deployed bundled providers: {', '.join(copied)}", file=sys.stderr)
PY

if [ -n "${ENERGYD_CONFIG:-}" ] && [ ! -e "$ENERGYD_CONFIG" ]; then
    example=${ENERGYD_EXAMPLE_CONFIG:-}
    if [ -n "$example" ] && [ -f "$example" ] \
        && cp "$example" "$ENERGYD_CONFIG.tmp.$$" 2>/dev/null \
        && mv "$ENERGYD_CONFIG.tmp.$$" "$ENERGYD_CONFIG"; then
        say "no $ENERGYD_CONFIG: copied the example config there; edit it and restart"
    else
        rm -f "$ENERGYD_CONFIG.tmp.$$"
        say "no $ENERGYD_CONFIG: running on ENERGYD_* variables and defaults"
        unset ENERGYD_CONFIG
    fi
fi

is_command() {
    case "$1" in
        run | check-config | fetch | prices | providers) return 0 ;;
        *) return 1 ;;
    esac
}

if [ "$#" -eq 0 ]; then
    set -- run
fi
if is_command "$1"; then
    exec energyd "$@"
fi
case "$1" in
    -*)
        for arg in "$@"; do
            if is_command "$arg"; then
                exec energyd "$@"
            fi
        done
        exec energyd "$@" run
        ;;
esac
exec "$@"
