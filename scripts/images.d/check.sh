# Using the images: `paths` for other scripts, `check` to boot each kernel
# under QEMU's TCG, which runs a kernel to user space in seconds here (KVM on
# this machine's PVM takes minutes and cannot run user space at all).

# Shell-sourceable SWIFTLET_*=path lines for outputs that match their
# current inputs. A missing or stale output is named on stderr, not printed,
# so that a stale image is never used; the exit status is then 1.
print_paths() {
    local stale=0 test qemu
    test=$(kernel_dir test)
    qemu=$(kernel_dir qemu)
    emit() { # NAME PATH OK-TEST HINT
        if eval "$3"; then
            printf '%s=%q\n' "$1" "$2"
        else
            say "$1: missing or stale; run: scripts/images $4"
            stale=1
        fi
    }
    emit SWIFTLET_TEST_VMLINUX "$test/vmlinux" '[[ -f $test/vmlinux ]]' test-kernel
    emit SWIFTLET_TEST_BZIMAGE "$test/bzImage" '[[ -f $test/bzImage ]]' test-kernel
    emit SWIFTLET_QEMU_VMLINUX "$qemu/vmlinux" '[[ -f $qemu/vmlinux ]]' qemu-kernel
    emit SWIFTLET_CLOUD_KERNEL "$CACHE/cloud-kernel/vmlinuz" \
        '[[ -f $CACHE/cloud-kernel/vmlinuz ]] &&
         [[ $(grep -v "^release=" "$CACHE/cloud-kernel/version") == "$(cloud_kernel_id)" ]]' cloud-kernel
    emit SWIFTLET_INITRAMFS "$CACHE/initramfs.cpio" \
        'up_to_date "$CACHE/initramfs.cpio" "$(initramfs_key)"' initramfs
    emit SWIFTLET_CLOUD_INITRAMFS "$CACHE/cloud-initramfs.cpio" \
        '[[ -f $CACHE/cloud-kernel/version ]] && up_to_date "$CACHE/cloud-initramfs.cpio" \
            "$(initramfs_key "$(cat "$CACHE/cloud-kernel/version")" "${CLOUD_MODULES[@]}")"' \
        cloud-initramfs
    return "$stale"
}

# TCG's RDTSC counts at the host's TSC rate. The kernel must be told: its
# quick PIT calibration fails when TCG runs slowly (a loaded host), its slow
# one needs the legacy PIC, which hardware-reduced ACPI (microvm) disables,
# and without a TSC rate nothing ticks before the LAPIC timer is calibrated:
# the boot hangs after "tsc: Marking TSC unstable".
host_tsc_khz() {
    awk '/^cpu MHz/ { printf "%d\n", $4 * 1000; exit }' /proc/cpuinfo
}

# tcg_boot LABEL KERNEL INITRD [EXPECT...]: boot under TCG on QEMU's microvm
# (ACPI on, so `poweroff -f` ends QEMU) and require "Run /init", the marker
# and a clean power-off, plus any EXPECTed lines; fail on an insmod error.
tcg_boot() {
    local label=$1 kernel=$2 initrd=$3 log start rc=0 want missing=()
    shift 3
    log=$CACHE/check/$label.log
    mkdir -p "$CACHE/check"
    start=$SECONDS
    timeout 120 qemu-system-x86_64 -accel tcg -M microvm,acpi=on -nodefaults \
        -serial stdio -display none -no-reboot -m 256 \
        -kernel "$kernel" -initrd "$initrd" \
        -append "console=ttyS0 panic=-1 tsc_early_khz=$(host_tsc_khz)" </dev/null >"$log" 2>&1 || rc=$?
    for want in "Run /init as init process" "$INIT_MARKER" "reboot: Power down" "$@"; do
        grep -qF "$want" "$log" || missing+=("$want")
    done
    if [[ $rc -ne 0 || ${#missing[@]} -gt 0 ]] || grep -q "insmod .* failed" "$log"; then
        tail -n 20 "$log" >&2
        say "check $label: FAILED (qemu exit $rc; missing: ${missing[*]:-none}; log: $log)"
        return 1
    fi
    say "check $label: ok in $((SECONDS - start)) s (log: $log)"
}

check_images() {
    local failed=0 test qemu
    ensure_pkgs qemu-system-x86
    build_initramfs
    build_cloud_initramfs
    build_kernel test
    test=$(kernel_dir test)
    tcg_boot test-vmlinux "$test/vmlinux" "$CACHE/initramfs.cpio" || failed=1
    tcg_boot test-bzImage "$test/bzImage" "$CACHE/initramfs.cpio" || failed=1
    # The qemu variant is checked when it is built and current, not built here.
    qemu=$(kernel_dir qemu)
    if [[ -f $qemu/vmlinux ]]; then
        tcg_boot qemu-vmlinux "$qemu/vmlinux" "$CACHE/initramfs.cpio" || failed=1
    fi
    tcg_boot cloud "$CACHE/cloud-kernel/vmlinuz" "$CACHE/cloud-initramfs.cpio" \
        "SWIFTLET-INIT: loaded $(grep -c . <(module_closure \
            "$CACHE/cloud-kernel/modules/$(cloud_kernel_release)" "${CLOUD_MODULES[@]}")) modules" ||
        failed=1
    [[ $failed -eq 0 ]] || die "some boots failed"
    say "all TCG boots passed"
}
