#!/bin/sh
# camctl on a bare edge box: install, upgrade and roll back camctl beside the units of this
# folder. Each version gets its own virtual environment, /opt/camctl/versions/VERSION/venv;
# the link /opt/camctl/current is what camctl.service runs, /opt/camctl/previous the one
# before it. Installing is offline, from the wheels given. MediaMTX is never restarted: its
# API-made paths would be lost, and video with them.
#
# Usage: camctl-host.sh COMMAND [--root DIR] [--wheels DIR] [--version VERSION]
#   install   the units, MediaMTX's configuration (only if it has none), the documents
#             folder, and camctl VERSION as current; starts what is not running, restarts
#             camctl only if its version or unit changed. Running it again changes nothing.
#   upgrade   camctl VERSION beside the current one, made current; restarts camctl.
#   rollback  the previous version made current again (the current one becomes previous);
#             restarts camctl.
#   status    the current and previous versions, and those installed.
# Options:
#   --wheels DIR       camctl's wheel and every dependency's (pip wheel -w DIR ...)
#   --version VERSION  which camctl wheel of DIR; needed only if it holds several
#   --root DIR         prefix every path this script touches with DIR (for tests)
# Environment: PYTHON (python3) makes the virtual environments; SYSTEMCTL (systemctl) and
# SYSTEMD_SYSUSERS (systemd-sysusers) are the commands it runs for systemd.
set -eu
umask 022

PYTHON=${PYTHON:-python3}
SYSTEMCTL=${SYSTEMCTL:-systemctl}
SYSTEMD_SYSUSERS=${SYSTEMD_SYSUSERS:-systemd-sysusers}
here=$(cd "$(dirname "$0")" && pwd)

say() { printf 'camctl-host: %s\n' "$*"; }
die() {
    printf 'camctl-host: %s\n' "$*" >&2
    exit 1
}
usage() { sed -n '/^# Usage:/,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p;}' "$0"; }

# --- arguments ------------------------------------------------------------------------
command=${1:-}
[ $# -eq 0 ] || shift
root="" wheels="" version=""
while [ $# -gt 0 ]; do
    case $1 in
    --root | --wheels | --version)
        [ $# -ge 2 ] || die "$1 needs a value"
        case $1 in
        --root) root=$2 ;;
        --wheels) wheels=$2 ;;
        --version) version=$2 ;;
        esac
        shift 2
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *) die "unknown argument: $1 (see --help)" ;;
    esac
done
if [ -n "$root" ]; then
    root=$(cd "$root" && pwd) || die "--root $root: no such directory"
    [ "$root" != / ] || root=""
fi
base=$root/opt/camctl
versions=$base/versions

# --- versions and links ---------------------------------------------------------------
valid_version() {
    case $1 in
    '' | .* | *[!A-Za-z0-9.+!_-]*) return 1 ;;
    esac
}

# The version a link (current, previous) points to; nothing if it does not exist.
link_version() {
    lv_target=$(readlink "$base/$1" 2>/dev/null) || return 0
    lv_version=${lv_target#versions/}
    printf '%s\n' "${lv_version%/venv}"
}

# Point a link at a version's venv; a rename, so the link is never missing.
set_link() {
    ln -sfn "versions/$2/venv" "$base/.$1.new"
    mv -fT "$base/.$1.new" "$base/$1"
}

# The camctl version of the wheels: --version, or the only camctl wheel in the folder.
pick_version() {
    [ -n "$wheels" ] || die "$command needs --wheels DIR (camctl's wheel and its dependencies)"
    [ -d "$wheels" ] || die "--wheels $wheels: no such directory"
    wheels=$(cd "$wheels" && pwd)
    pv_found="" pv_count=0
    for pv_wheel in "$wheels"/camctl-*.whl; do
        [ -e "$pv_wheel" ] || continue
        pv_version=${pv_wheel##*/camctl-}
        pv_found="$pv_found ${pv_version%%-*}"
        pv_count=$((pv_count + 1))
    done
    if [ -z "$version" ]; then
        [ "$pv_count" -eq 1 ] || die "$wheels holds ${pv_count} camctl wheels (${pv_found# }): say which with --version"
        version=${pv_found# }
    fi
    case " $pv_found " in
    *" $version "*) ;;
    *) die "no camctl $version wheel in $wheels (found: ${pv_found:- none})" ;;
    esac
    valid_version "$version" || die "not a version: $version"
}

# A version is installed when its marker is there and its camctl starts.
installed() {
    [ -f "$versions/$1/installed" ] && "$versions/$1/venv/bin/camctl" --version >/dev/null 2>&1
}

# Build versions/VERSION/venv from the wheels, offline; kept if already complete.
install_version() {
    iv_dir=$versions/$1
    if installed "$1"; then
        say "camctl $1 is already installed in $iv_dir"
        return 0
    fi
    rm -rf "$iv_dir" # what an interrupted run left
    mkdir -p "$iv_dir"
    say "installing camctl $1 into $iv_dir/venv from $wheels (no index: offline)"
    if ! build_venv "$iv_dir/venv" "$1"; then
        rm -rf "$iv_dir"
        die "installing camctl $1 failed; nothing else was changed"
    fi
    printf '%s\n' "$1" >"$iv_dir/installed"
}

# (set -e does not apply in a function called as a condition: each step says so itself.)
build_venv() {
    "$PYTHON" -m venv "$1" || return 1
    "$1/bin/python" -m pip install --quiet --no-index --no-cache-dir \
        --disable-pip-version-check --find-links "$wheels" "camctl==$2" || return 1
    "$1/bin/camctl" --version >/dev/null || return 1 # it starts: nothing is missing
}

# Make a version current, the one it replaces previous; sets switched=1 if it changed.
make_current() {
    mc_old=$(link_version current)
    switched=0
    [ "$mc_old" != "$1" ] || return 0
    [ -z "$mc_old" ] || set_link previous "$mc_old"
    set_link current "$1"
    switched=1
    say "camctl $1 is current${mc_old:+ (previous: $mc_old)}"
    prune
}

# Keep the current and the previous version; remove the others.
prune() {
    pr_keep=" $(link_version current) $(link_version previous) "
    for pr_dir in "$versions"/*; do
        [ -d "$pr_dir" ] || continue
        case $pr_keep in
        *" ${pr_dir##*/} "*) ;;
        *)
            say "removing camctl ${pr_dir##*/} (neither current nor previous)"
            rm -rf "$pr_dir"
            ;;
        esac
    done
}

# One run at a time.
lock() {
    mkdir -p "$versions"
    exec 9>"$base/.lock"
    flock -n 9 || die "another camctl-host runs ($base/.lock)"
}

# Copy a file (mode, source, destination) if it differs; sets wrote=1 if it did.
install_file() {
    wrote=0
    if [ -f "$3" ] && cmp -s "$2" "$3"; then
        return 0
    fi
    mkdir -p "$(dirname "$3")"
    cp "$2" "$3.new"
    chmod "$1" "$3.new"
    mv -f "$3.new" "$3"
    wrote=1
    say "wrote $3"
}

# --- commands -------------------------------------------------------------------------
cmd_install() {
    pick_version
    [ -x "$root/usr/local/bin/mediamtx" ] ||
        die "$root/usr/local/bin/mediamtx is missing: install MediaMTX v1.20.1 from its releases first"
    lock
    install_version "$version"

    units=$root/etc/systemd/system
    install_file 0644 "$here/camctl.service" "$units/camctl.service"
    camctl_unit=$wrote
    # A changed mediamtx.service applies at MediaMTX's next restart, which is not ours to do.
    install_file 0644 "$here/mediamtx.service" "$units/mediamtx.service"
    reload=$((wrote + camctl_unit))
    install_file 0644 "$here/camctl.sysusers" "$root/etc/sysusers.d/camctl.conf"
    # MediaMTX reloads a changed configuration and drops camctl's paths: never overwritten.
    if [ ! -e "$root/etc/mediamtx/mediamtx.yml" ]; then
        install_file 0644 "$here/../base/mediamtx.yml" "$root/etc/mediamtx/mediamtx.yml"
    fi
    mkdir -p "$root/etc/camctl/documents"
    # `camctl status` and the other commands for people: the current version's.
    cli=$root/usr/local/bin/camctl cli_target=../../../opt/camctl/current/bin/camctl
    if [ ! -e "$cli" ] && [ ! -L "$cli" ]; then
        mkdir -p "$root/usr/local/bin"
        ln -s "$cli_target" "$cli"
        say "linked $cli to /opt/camctl/current/bin/camctl"
    elif [ "$(readlink "$cli")" != "$cli_target" ]; then
        say "left $cli alone (not camctl-host's link): the service runs /opt/camctl/current/bin/camctl"
    fi

    if [ -n "$root" ]; then
        "$SYSTEMD_SYSUSERS" --root="$root" "$root/etc/sysusers.d/camctl.conf"
    else
        "$SYSTEMD_SYSUSERS" /etc/sysusers.d/camctl.conf
    fi
    make_current "$version"
    [ "$reload" -eq 0 ] || "$SYSTEMCTL" daemon-reload
    "$SYSTEMCTL" enable mediamtx.service camctl.service
    "$SYSTEMCTL" start mediamtx.service
    if [ "$switched" -eq 1 ] || [ "$camctl_unit" -eq 1 ]; then
        "$SYSTEMCTL" restart camctl.service
    else
        "$SYSTEMCTL" start camctl.service
    fi
}

cmd_upgrade() {
    pick_version
    lock
    [ -n "$(link_version current)" ] || die "nothing is installed in $base: run install first"
    install_version "$version"
    make_current "$version"
    if [ "$switched" -eq 1 ]; then
        "$SYSTEMCTL" restart camctl.service
    else
        say "camctl $version is already current: nothing to do"
    fi
}

cmd_rollback() {
    lock
    rb_current=$(link_version current)
    rb_previous=$(link_version previous)
    if [ -z "$rb_previous" ] || [ "$rb_previous" = "$rb_current" ]; then
        die "no previous version to roll back to (current: ${rb_current:-none})"
    fi
    installed "$rb_previous" || die "camctl $rb_previous in $versions/$rb_previous does not start"
    # current first: if the second step fails, the box still runs the version asked for.
    set_link current "$rb_previous"
    set_link previous "$rb_current"
    say "camctl $rb_previous is current (previous: $rb_current)"
    "$SYSTEMCTL" restart camctl.service
}

cmd_status() {
    printf 'current: %s\nprevious: %s\ninstalled:' \
        "$(link_version current)" "$(link_version previous)"
    for st_dir in "$versions"/*; do
        [ -d "$st_dir" ] && printf ' %s' "${st_dir##*/}"
    done
    printf '\n'
}

case $command in
install | upgrade | rollback | status) "cmd_$command" ;;
-h | --help)
    usage
    exit 0
    ;;
*)
    usage >&2
    exit 2
    ;;
esac
