# The test kernel: Debian's linux-source-6.1, tinyconfig plus a committed
# fragment (scripts/kernel/test-kernel.config), built as an ELF vmlinux and a
# bzImage of the same kernel.

LINUX_PKG=linux-source-6.1
LINUX_TARBALL=/usr/src/linux-source-6.1.tar.xz
KERNEL_FRAGMENT=$(cd "$IMAGES_LIB/../kernel" && pwd)/test-kernel.config
# The line of arch/x86/kernel/alternative.c that the qemu variant removes.
INT3_SELFTEST_CALL=$'\tint3_selftest();'

# The source tree, extracted once per package version. kbuild builds out of
# tree (O=), so the extracted tree stays pristine and can be shared.
kernel_source() {
    local version=$1 src=$CACHE/src/$LINUX_PKG-$1 tmp
    if [[ ! -d $src ]]; then
        say "extracting $LINUX_TARBALL (about a minute)..."
        mkdir -p "$CACHE/src"
        tmp=$(cache_tmpdir)
        tar -xJf "$LINUX_TARBALL" -C "$tmp"
        publish "$tmp/linux-source-6.1" "$src"
        rm -rf "$tmp"
    fi
    printf '%s\n' "$src"
}

# QEMU on this machine's KVM (PVM) cannot complete INT3, which Linux executes
# in int3_selftest() on every boot (see /work/shared/PVM.md). The qemu variant
# builds from a copy of the tree with that one call removed. The copy is
# hard-linked (cheap); sed -i writes a new file, so the shared tree is untouched.
kernel_source_qemu() {
    local src=$1 patched=$1-no-int3 tmp file=arch/x86/kernel/alternative.c
    if [[ ! -d $patched ]]; then
        say "making a copy of the kernel tree without int3_selftest()"
        tmp=$(cache_tmpdir)
        cp -al "$src" "$tmp/tree"
        grep -qxF "$INT3_SELFTEST_CALL" "$tmp/tree/$file" ||
            die "$file: no call to int3_selftest() to remove"
        sed -i "s|^$INT3_SELFTEST_CALL\$|\t/* swiftlet: int3_selftest() removed: QEMU on PVM cannot run INT3 */|" \
            "$tmp/tree/$file"
        ! grep -qxF "$INT3_SELFTEST_CALL" "$tmp/tree/$file" || die "$file: patch did not apply"
        publish "$tmp/tree" "$patched"
        rm -rf "$tmp"
    fi
    printf '%s\n' "$patched"
}

# Every line of the fragment must be in the final .config: olddefconfig drops
# options whose dependencies are unmet without a word, so check explicitly.
check_fragment() {
    local fragment=$1 config=$2 line name bad=()
    while IFS= read -r line; do
        if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
            name=${BASH_REMATCH[1]}
            grep -qxF "$line" "$config" ||
                bad+=("$line (got: $(grep -m1 -E "^(# )?$name[= ]" "$config" || echo "$name absent"))")
        elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
            name=${BASH_REMATCH[1]}
            ! grep -q "^$name=" "$config" ||
                bad+=("$line (got: $(grep -m1 "^$name=" "$config"))")
        fi
    done <"$fragment"
    if [[ ${#bad[@]} -gt 0 ]]; then
        printf 'images:   %s\n' "${bad[@]}" >&2
        die "${#bad[@]} option(s) of $fragment did not stick"
    fi
}

# kernel_dir test|qemu: where that variant's kernel for the current inputs
# lives (or would): named by a hash of the fragment, this recipe and the
# linux-source package version. (common.sh's helpers shape no output, so it
# is left out: editing them does not rebuild kernels.)
kernel_dir() {
    printf '%s/%s-kernel-%s\n' "$CACHE" "$1" \
        "$(key "$KERNEL_FRAGMENT" "$IMAGES_LIB/kernel.sh" -- \
            "$(pkg_version "$LINUX_PKG")" "$1")"
}

# build_kernel test|qemu -> $CACHE/<variant>-kernel-<key>/{vmlinux,bzImage,config}
# and the stable symlink $CACHE/<variant>-kernel.
build_kernel() {
    local variant=$1 version out src build tmp
    ensure_pkgs "$LINUX_PKG" bc bison flex libelf-dev libssl-dev build-essential
    lock "$variant-kernel"
    version=$(pkg_version "$LINUX_PKG")
    out=$(kernel_dir "$variant")
    if [[ -f $out/vmlinux && -f $out/bzImage ]]; then
        touch "$out" # marks it in use: see the pruning below
        link "$variant-kernel" "$(basename "$out")"
        say "$variant kernel up to date ($out)"
        return 0
    fi

    src=$(kernel_source "$version")
    [[ $variant == qemu ]] && src=$(kernel_source_qemu "$src")
    # The build directory is reused across keys so a fragment change rebuilds
    # only what it touches; only the files copied into $out are ever trusted.
    build=$CACHE/build/$variant-kernel
    mkdir -p "$build"
    local kmake=(make -C "$src" O="$build" ARCH=x86_64 -j2)

    say "configuring $variant kernel (tinyconfig + $(basename "$KERNEL_FRAGMENT"))"
    "${kmake[@]}" tinyconfig >"$build/config.log" 2>&1 ||
        { tail "$build/config.log" >&2; die "make tinyconfig failed"; }
    "$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "$KERNEL_FRAGMENT" \
        >>"$build/config.log" 2>&1 || { tail "$build/config.log" >&2; die "merge_config.sh failed"; }
    "${kmake[@]}" olddefconfig >>"$build/config.log" 2>&1 ||
        { tail "$build/config.log" >&2; die "make olddefconfig failed"; }
    check_fragment "$KERNEL_FRAGMENT" "$build/.config"

    say "building $variant kernel (about 13 minutes on 2 cores; log: $build/build.log)..."
    run_logged "$variant kernel" "$build/build.log" "${kmake[@]}" vmlinux bzImage

    tmp=$(cache_tmpdir)
    cp "$build/vmlinux" "$tmp/vmlinux"
    cp "$build/arch/x86/boot/bzImage" "$tmp/bzImage"
    cp "$build/.config" "$tmp/config"
    printf '%s %s (%s)\n' "$LINUX_PKG" "$version" "$variant" >"$tmp/version"
    publish "$tmp" "$out"
    link "$variant-kernel" "$(basename "$out")"
    # Outputs for other keys are stale for this checkout, but another checkout
    # sharing the cache (main, a worktree) may still use them: drop only those
    # no run has used for two weeks.
    find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name "$variant-kernel-*" \
        ! -name "$(basename "$out")" -mtime +14 -exec rm -rf {} +
    say "$variant kernel built ($out)"
}
