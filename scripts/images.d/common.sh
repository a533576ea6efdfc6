# Helpers shared by every step of scripts/images (sourced, not run).

say() { printf 'images: %s\n' "$*" >&2; }
die() { printf 'images: error: %s\n' "$*" >&2; exit 1; }

# The installed version of a Debian package, or nothing.
pkg_version() {
    dpkg-query -W -f='${db:Status-Status} ${Version}\n' "$1" 2>/dev/null |
        awk '$1 == "installed" { print $2 }'
}

# Install the Debian packages that are missing (we run as root on Debian 12).
ensure_pkgs() {
    local missing=() p
    for p in "$@"; do
        [[ -n $(pkg_version "$p") ]] || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    say "installing ${missing[*]}"
    apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
        { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; } ||
        die "could not install ${missing[*]}"
}

# key FILE... -- STRING...: a short hash naming an output by its inputs.
key() {
    local files=() strings=()
    while [[ $# -gt 0 && $1 != -- ]]; do files+=("$1"); shift; done
    [[ $# -gt 0 ]] && shift
    strings=("$@")
    { cat "${files[@]}"; printf '%s\n' "${strings[@]}"; } | sha256sum | cut -c1-12
}

# A fresh temporary directory inside the cache, so the final rename stays on
# one file system (and is therefore atomic).
cache_tmpdir() {
    local d
    d=$(mktemp -d "$CACHE/.tmp.XXXXXX")
    chmod 755 "$d" # mktemp makes it private; the outputs are not secret
    printf "%s\n" "$d"
}

# lock NAME: hold an exclusive lock on $CACHE/.lock-NAME until the script
# exits. Several checkouts (worktrees, main) share one cache and its build
# directories; two kbuild runs in one build directory would corrupt it.
declare -A IMAGES_LOCKS=()
lock() {
    local fd
    # flock(2) locks belong to an open file: opening the file again and
    # locking it would wait for ourselves (e.g. `all` fetches the cloud kernel
    # twice), so take each lock once.
    [[ -z ${IMAGES_LOCKS[$1]:-} ]] || return 0
    IMAGES_LOCKS[$1]=1
    exec {fd}>"$CACHE/.lock-$1"
    if ! flock -n "$fd"; then
        say "waiting for another scripts/images run to finish $1..."
        flock "$fd"
    fi
}

# publish TMP DEST: replace DEST (a directory or a file) with TMP atomically
# enough that a reader sees either the old complete output or the new one.
publish() {
    local tmp=$1 dest=$2 old
    if [[ -e $dest || -L $dest ]]; then
        old=$(mktemp -u "$dest.old.XXXXXX")
        mv -T "$dest" "$old"
        mv -T "$tmp" "$dest"
        rm -rf "$old"
    else
        mv -T "$tmp" "$dest"
    fi
}

# link NAME TARGET: point the stable symlink $CACHE/NAME at TARGET atomically.
link() {
    ln -sfn "$2" "$CACHE/.$1.link"
    mv -T "$CACHE/.$1.link" "$CACHE/$1"
}

# run_logged LABEL LOG CMD...: run a long command with its output in LOG and a
# progress line every 30 s (how many files kbuild has compiled so far), so a
# 9-minute build is not silent; on failure show the log's tail.
run_logged() {
    local label=$1 log=$2 pid start rc=0 i
    shift 2
    start=$SECONDS
    "$@" >"$log" 2>&1 &
    pid=$!
    # Don't leave a build running if the user interrupts us.
    trap "kill $pid 2>/dev/null" INT TERM
    while kill -0 "$pid" 2>/dev/null; do
        for ((i = 0; i < 30; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 1
        done
        kill -0 "$pid" 2>/dev/null &&
            say "$label: $(grep -c '^  CC ' "$log" || true) files compiled, $((SECONDS - start)) s"
    done
    wait "$pid" || rc=$?
    trap - INT TERM
    if [[ $rc -ne 0 ]]; then
        tail -n 40 "$log" >&2
        die "$label failed (exit $rc); full log: $log"
    fi
    say "$label: done in $((SECONDS - start)) s"
}
