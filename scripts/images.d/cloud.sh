# Debian's cloud kernel, as shipped: the bzImage (lz4-compressed) and its
# modules, for testing Swiftlet against a distribution kernel.

CLOUD_META_PKG=linux-image-cloud-amd64

# The versioned package the meta package depends on, e.g.
# linux-image-6.1.0-56-cloud-amd64.
cloud_kernel_pkg() {
    apt-cache depends "$CLOUD_META_PKG" 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}

# The version file's content, less the kernel release: the package, its
# version and a hash of this recipe (so a change here refetches).
cloud_kernel_id() {
    local pkg
    pkg=$(cloud_kernel_pkg)
    if [[ -z $pkg ]]; then
        # apt has no lists yet (a fresh container): fetch them once.
        say "apt-cache knows no $CLOUD_META_PKG; running apt-get update"
        apt-get update >&2 || die "apt-get update failed"
        pkg=$(cloud_kernel_pkg)
        [[ -n $pkg ]] || die "apt-cache: $CLOUD_META_PKG depends on no linux-image package"
    fi
    printf 'package=%s\nversion=%s\nrecipe=%s\n' "$pkg" \
        "$(apt-cache show --no-all-versions "$pkg" | awk '$1 == "Version:" { print $2; exit }')" \
        "$(key "$IMAGES_LIB/cloud.sh")"
}

# -> $CACHE/cloud-kernel/{vmlinuz,version,modules/<release>/...}
fetch_cloud_kernel() {
    local id out=$CACHE/cloud-kernel tmp pkg release
    lock cloud-kernel
    id=$(cloud_kernel_id)
    if [[ -f $out/vmlinuz && -f $out/version ]] &&
        [[ $(grep -v '^release=' "$out/version") == "$id" ]]; then
        say "cloud kernel up to date ($out)"
        return 0
    fi
    pkg=$(sed -n 's/^package=//p' <<<"$id")
    say "downloading $pkg ($(sed -n 's/^version=//p' <<<"$id"))..."
    tmp=$(cache_tmpdir)
    # apt warns that it downloads "unsandboxed as root": the cache is under
    # root's home, which user _apt cannot enter. Harmless.
    (cd "$tmp" && apt-get download "$pkg" >&2) || die "apt-get download $pkg failed"
    say "extracting $pkg"
    dpkg-deb -x "$tmp"/*.deb "$tmp/root"
    release=$(basename "$(ls -d "$tmp"/root/lib/modules/*/)")
    [[ -f $tmp/root/boot/vmlinuz-$release ]] || die "$pkg: no /boot/vmlinuz-$release"
    mkdir "$tmp/out" "$tmp/out/modules"
    mv "$tmp/root/boot/vmlinuz-$release" "$tmp/out/vmlinuz"
    mv "$tmp/root/boot/config-$release" "$tmp/out/config"
    # The package ships no modules.dep (its postinst runs depmod): make it
    # here, as the cloud initramfs computes its module closure from it.
    depmod -b "$tmp/root" "$release" || die "depmod failed for $release"
    mv "$tmp/root/lib/modules/$release" "$tmp/out/modules/$release"
    printf '%s\nrelease=%s\n' "$id" "$release" >"$tmp/out/version"
    publish "$tmp/out" "$out"
    rm -rf "$tmp"
    say "cloud kernel $release ready ($out)"
}

# The kernel release of the cached cloud kernel (e.g. 6.1.0-56-cloud-amd64).
cloud_kernel_release() {
    sed -n 's/^release=//p' "$CACHE/cloud-kernel/version" 2>/dev/null
}
