"""bench/run's machinery: set-up, the VMM command lines, timed runs, tables."""
import glob
import json
import os
import re
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VMMS = ["swiftlet", "qemu-microvm", "qemu-q35", "kvmloop", "host", "self-decompressing", "swiftlet-pci"]
LABEL = {"swiftlet": "Swiftlet", "qemu-microvm": "QEMU microvm", "qemu-q35": "QEMU q35",
         "kvmloop": "bare KVM loop", "host": "host baseline",
         "self-decompressing": "Swiftlet, kernel decompresses itself",
         # The virtio-mmio rows: their "swiftlet" column is `--transport mmio`, this one the
         # same guest over virtio-pci, so "Swiftlet / Swiftlet over PCI" is mmio / PCI.
         "swiftlet-pci": "Swiftlet over PCI"}
MEM_MIB = 128
# The CPU features KVM's emulator on PVM cannot run (and ERMS/FSRM, which it runs a
# byte at a time), hidden from Linux under QEMU much as Swiftlet's conservative template
# hides them: CX16 goes on this command line where Swiftlet masks it in CPUID; SSSE3,
# which Swiftlet also hides and only Debian's kernel reaches for, stays visible to the
# bench's kernel. /work/shared/PVM.md, docs in README.
LINUX_HIDE = "noxsave clearcpuid=141,151,288,297,308,580"
RUN_INIT = "Run /init as init process"


def say(*a):
    print(*a, flush=True)


class Plan:
    """How many times each thing runs."""

    def __init__(self, quick, once):
        self.quick, self.once = quick, once
        self.vmms = VMMS[:2] if quick else VMMS[:3]
        n = lambda full, q: 1 if once else (q if quick else full)  # noqa: E731
        self.startup_runs = n(20, 10)
        self.startup_runs_q35 = n(3, 1)
        self.exit_runs = n(5, 3)
        self.exit_runs_q35 = 1
        self.pio_iters = 2000 if quick else 10000
        self.rng_iters = 200 if quick else 1000
        self.boot_runs = n(3, 1)
        # devices: interleaved runs of each side, requests/frames per run, file size.
        self.device_runs = n(5, 2)
        self.blk_small_requests = 5000 if quick else 100000
        self.blk_large_requests = 100 if quick else 2000
        self.blk_file_mib = 64 if quick else 256
        self.net_frames = 10000 if quick else 100000
        self.vsock_mib = 64 if quick else 1024
        self.net_datagrams = 300 if quick else 2000

    def describe(self):
        return {k: v for k, v in vars(self).items()}


# ---- set-up -------------------------------------------------------------

def sh(cmd, **kw):
    say("$ " + (cmd if isinstance(cmd, str) else shlex.join(cmd)))
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, **kw)


def apt_install(pkg):
    if os.geteuid() != 0:
        sys.exit(f"bench: {pkg} is missing; install it (apt-get install {pkg})")
    sh(["apt-get", "install", "-y", "-q", pkg], stdout=subprocess.DEVNULL)


def setup(full, out, swiftlet=None, build_images=True):
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        sys.exit("bench: /dev/kvm is missing or not usable")
    if not shutil.which("qemu-system-x86_64"):
        apt_install("qemu-system-x86")
    os.chdir(REPO)
    sh(["make", "-s", "-C", "guest"])
    if swiftlet:
        swiftlet = os.path.abspath(swiftlet)
    else:
        # SWIFTLET_BENCH_SCRATCH: a --scratch-path for the release build.
        scratch = os.environ.get("SWIFTLET_BENCH_SCRATCH")
        build = ["swift", "build", "-c", "release"] + (["--scratch-path", scratch] if scratch else [])
        sh(build + ["--product", "swiftlet"], stdout=subprocess.DEVNULL)
        bindir = subprocess.run(build + ["--show-bin-path"], check=True,
                                capture_output=True, text=True).stdout.strip()
        swiftlet = os.path.join(bindir, "swiftlet")
    # The device benchmark is built beside whichever swiftlet is used (CI: the debug one).
    env = {"swiftlet": swiftlet, "guest": os.path.join(REPO, "guest", "out", "testguest.elf"),
           "devbench": os.path.join(os.path.dirname(swiftlet), "swiftlet-devbench")}
    os.makedirs(out, exist_ok=True)
    env["out"] = out
    env["kvmloop"] = os.path.join(out, "kvmloop")
    sh(["cc", "-O2", "-Wall", "-o", env["kvmloop"], os.path.join(REPO, "bench", "kvmloop.c")])
    env["disk"] = os.path.join(out, "disk.img")
    with open(env["disk"], "wb") as f:
        f.truncate(16 << 20)
    if full:
        # A fresh machine builds the images the boots need (the QEMU kernel: ~10 minutes
        # on 2 cores, once; the cloud kernel is a download), unless told to use what is there.
        for image, pattern in [] if not build_images else [("qemu-kernel", "qemu-kernel*/vmlinux"), ("initramfs", "initramfs.cpio"),
                               ("cloud-kernel", "cloud-kernel/vmlinuz")]:
            if not glob.glob(os.path.join(os.path.expanduser("~/.cache/swiftlet"), pattern)):
                sh(["scripts/images", image], cwd=REPO)
        paths = subprocess.run(["scripts/images", "paths"], capture_output=True, text=True, cwd=REPO).stdout
        for line in paths.splitlines():
            k, _, v = line.partition("=")
            env[k] = v
        # `scripts/images paths` only names an image whose key matches the
        # current scripts; an older build of the same image still boots.
        for var, pattern, build in [
                ("SWIFTLET_QEMU_VMLINUX", "qemu-kernel*/vmlinux", "qemu-kernel"),
                ("SWIFTLET_INITRAMFS", "initramfs.cpio", "initramfs")]:
            old = sorted(glob.glob(os.path.join(os.path.expanduser("~/.cache/swiftlet"), pattern)),
                         key=os.path.getmtime)
            if var not in env and old:
                env[var] = old[-1]
                say(f"bench: using {old[-1]} (scripts/images {build} builds a current one)")
    return env


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    pvm = os.path.exists("/sys/module/kvm_pvm")
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                          text=True).stdout.splitlines()[0]
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": os.uname().release,
            "kvm": "PVM (kvm_pvm, guest ring 0 emulated)" if pvm else "KVM",
            "tsc_mhz": tsc_mhz(), "qemu": qemu, "swiftlet_commit": commit,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def tsc_mhz():
    try:
        log = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
        m = re.findall(r"tsc: Refined TSC clocksource calibration: ([\d.]+) MHz", log) or \
            re.findall(r"tsc: Detected ([\d.]+) MHz", log)
        if m:
            return float(m[-1])
    except OSError:
        pass
    with open("/proc/cpuinfo") as f:
        m = re.search(r"cpu MHz\s*:\s*([\d.]+)", f.read())
    return float(m.group(1)) if m else 1000.0


# ---- command lines ------------------------------------------------------

# The host's end of the tap in bench-net's network namespace (the guest's defaults).
TAP_HOST_IP = "10.0.2.1"


def command(env, vmm, kernel, args, cpus=1, mem=MEM_MIB, initrd=None, pci=False, net=False, mmio=False):
    """The VMM's command line for one guest with a console, a disk and an RNG.

    pci=True puts QEMU microvm's devices on PCI (pcie=on) instead of virtio-mmio,
    for comparisons with Swiftlet's default virtio-pci. mmio=True puts Swiftlet's
    devices on virtio-mmio (--transport mmio; QEMU microvm's default). net=True adds a
    virtio-net card on a tap with TAP_HOST_IP/24, the VMM in a network namespace of
    its own (unshare --net) so nothing leaves the machine.
    """
    if vmm == "kvmloop":
        return [env["kvmloop"], kernel, " ".join(args)]
    if vmm == "swiftlet":
        argv = [env["swiftlet"], "--cpus", str(cpus), "--block", env["disk"]]
        if mmio:
            argv += ["--transport", "mmio"]
        if initrd:
            argv += ["--initrd", initrd]
        if net:
            argv = ["unshare", "--net"] + argv + [f"--tunnet={TAP_HOST_IP}"]
        return argv + [str(mem), kernel] + args
    argv = ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host,-arch-capabilities",
            "-nodefaults", "-display", "none", "-no-reboot", "-m", str(mem), "-smp", str(cpus),
            "-chardev", "stdio,id=c0,mux=on,signal=off", "-serial", "chardev:c0",
            "-drive", f"if=none,id=d0,file={env['disk']},format=raw"]
    if vmm == "qemu-microvm" and not pci:
        argv += ["-M", "microvm,acpi=on,x-option-roms=off,pit=off,pic=off,rtc=off",
                 "-global", "virtio-mmio.force-legacy=false",
                 "-device", "virtio-serial-device", "-device", "virtconsole,chardev=c0",
                 "-device", "virtio-blk-device,drive=d0", "-device", "virtio-rng-device"]
    else:
        if vmm == "qemu-microvm":
            argv += ["-M", "microvm,acpi=on,pcie=on,x-option-roms=off,pit=off,pic=off,rtc=off"]
            args = args + ["pci_ecam=0xe0000000"]
        else:
            argv += ["-M", "q35"]
        argv += ["-device", "virtio-serial-pci,disable-legacy=on", "-device", "virtconsole,chardev=c0",
                 "-device", "virtio-blk-pci,drive=d0,disable-legacy=on",
                 "-device", "virtio-rng-pci,disable-legacy=on"]
    if net:
        # QEMU's own tap back-end, no vhost-net (Swiftlet has none either).
        argv += ["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off",
                 "-device", "virtio-net-pci,netdev=n0,disable-legacy=on"]
    argv += ["-kernel", kernel]
    if initrd:
        argv += ["-initrd", initrd]
    argv += ["-append", " ".join(args)]
    if net:
        # swiftlet --tunnet makes and addresses its tap itself; for QEMU the shell does.
        setup = (f"ip tuntap add dev tap0 mode tap && ip addr add {TAP_HOST_IP}/24 dev tap0 && "
                 "ip link set tap0 up && exec \"$@\"")
        argv = ["unshare", "--net", "sh", "-c", setup, "sh"] + argv
    return argv


# ---- one timed run ------------------------------------------------------

class Run:
    """One VMM process from exec to exit: wall times, CPU times, output."""

    def __init__(self, argv, until=None, timeout=300, sample=None):
        self.argv, self.output = argv, b""
        self.first_byte = self.marker = None
        self.sampled = None
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        fds = {p.stdout.fileno(): "out", p.stderr.fileno(): "err"}
        err = b""
        deadline = t0 + timeout
        self.timed_out = False
        while fds:
            left = deadline - time.perf_counter()
            if left <= 0:
                self.timed_out = True
                p.kill()
                break
            ready, _, _ = select.select(list(fds), [], [], left)
            for fd in ready:
                data = os.read(fd, 65536)
                now = time.perf_counter() - t0
                if not data:
                    del fds[fd]
                    continue
                if fds[fd] == "err":
                    err += data
                    continue
                if self.first_byte is None:
                    self.first_byte = now
                self.output += data
                if until and self.marker is None and until.encode() in self.output:
                    self.marker = now
                    if sample:
                        self.sampled = sample(p.pid)
                    p.send_signal(signal.SIGTERM)
        _, status, ru = os.wait4(p.pid, 0)
        self.wall = time.perf_counter() - t0
        self.status = os.waitstatus_to_exitcode(status)
        self.user, self.sys = ru.ru_utime, ru.ru_stime
        self.maxrss_kib = ru.ru_maxrss
        self.stderr = err.decode(errors="replace")
        self.text = self.output.decode(errors="replace")

    def check(self, what, want_status=(0,)):
        if self.timed_out or (self.status not in want_status and self.marker is None):
            raise SystemExit(f"bench: {what} failed (status {self.status}, timed out {self.timed_out})\n"
                             f"  command: {shlex.join(self.argv)}\n  stdout tail: {self.text[-800:]}\n"
                             f"  stderr tail: {self.stderr[-800:]}")
        return self


def show(argv):
    say("  $ " + shlex.join(argv))


def row(bench, metric, unit, values, note=""):
    return {"benchmark": bench, "metric": metric, "unit": unit, "values": values, "note": note}


# ---- start-up -----------------------------------------------------------

def bench_startup(env, plan):
    """exec -> first serial byte, exec -> exit, CPU time: mode=exit powers off at once."""
    say("\n== start-up: the test guest in mode=exit (prints one line, powers off)")
    cmds = {v: command(env, v, env["guest"], ["mode=exit"]) for v in plan.vmms}
    for v in plan.vmms:
        show(cmds[v])
    runs = {v: [] for v in plan.vmms}
    # One unmeasured run of each, so both sides start with warm caches.
    for v in plan.vmms:
        Run(cmds[v]).check(f"{v} warm-up")
    for i in range(plan.startup_runs):
        for v in plan.vmms:
            if v == "qemu-q35" and i >= plan.startup_runs_q35:
                continue
            runs[v].append(Run(cmds[v]).check(f"{v} start-up"))
    say("  runs: " + ", ".join(f"{v} {len(r)}" for v, r in runs.items()))
    ms = lambda f: {v: [round(f(r) * 1000, 2) for r in rs] for v, rs in runs.items()}  # noqa: E731
    return [
        row("start-up", "exec -> first serial byte", "ms", ms(lambda r: r.first_byte)),
        row("start-up", "exec -> exit (power-off)", "ms", ms(lambda r: r.wall)),
        row("start-up", "VMM CPU time, user", "ms", ms(lambda r: r.user)),
        row("start-up", "VMM CPU time, system", "ms", ms(lambda r: r.sys)),
    ]


# ---- memory -------------------------------------------------------------

SMAPS_HEAD = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$")


def smaps(pid, guest_bytes):
    """RSS in KiB of the whole process and of its guest RAM mapping(s).

    Guest RAM is an anonymous mapping the size of guest memory (QEMU may
    round it up by a little for alignment), as in Firecracker's memory test.
    """
    total = guest = 0
    with open(f"/proc/{pid}/smaps") as f:
        size, anon = 0, False
        for line in f:
            m = SMAPS_HEAD.match(line)
            if m:
                size = int(m.group(2), 16) - int(m.group(1), 16)
                name = m.group(3).strip()
                anon = name == "" or name.startswith("[anon")
                continue
            if line.startswith("Rss:"):
                kib = int(line.split()[1])
                total += kib
                if anon and guest_bytes <= size <= guest_bytes + (8 << 20):
                    guest += kib
    return {"total": total, "guest": guest}


def bench_memory(env, plan):
    say("\n== memory: mode=hang, sampled after 'testguest: hanging' (console, disk, RNG attached)")
    rows = []
    for cpus in (1, 2):
        vals, guest_vals = {v: [] for v in plan.vmms}, {v: [] for v in plan.vmms}
        runs = 1 if plan.once else 2
        for i in range(runs):
            for v in plan.vmms:
                if v == "qemu-q35" and i > 0:
                    continue
                argv = command(env, v, env["guest"], ["mode=hang"], cpus=cpus)
                if i == 0:
                    show(argv)

                def sample(pid):
                    time.sleep(0.3)  # let device threads finish starting
                    return smaps(pid, MEM_MIB << 20)
                r = Run(argv, until="testguest: hanging", sample=sample, timeout=300)
                r.check(f"{v} memory", want_status=(0, 143, -15))
                if r.sampled is None:
                    raise SystemExit(f"bench: {v} never printed 'testguest: hanging'")
                vals[v].append(round((r.sampled["total"] - r.sampled["guest"]) / 1024, 2))
                guest_vals[v].append(round(r.sampled["guest"] / 1024, 2))
        rows.append(row("memory", f"VMM RSS beyond guest RAM, {cpus} vCPU", "MiB", vals))
        rows.append(row("memory", f"guest RAM RSS (touched), {cpus} vCPU", "MiB", guest_vals,
                        note="informative: what the guest touched"))
    return rows


# ---- exits --------------------------------------------------------------

BENCH_LINE = re.compile(r"bench (\w+): (\d+) iterations, (\d+) cycles/iteration")


def bench_exits(env, plan):
    say(f"\n== exits: guest loops timed with RDTSC (TSC {tsc_mhz():.0f} MHz)")
    mhz = tsc_mhz()
    rows = []
    for mode, iters, note in [
            ("bench-pio", plan.pio_iters, "OUT to unclaimed port 0x512"),
            ("bench-mmio", plan.pio_iters, "store to unbacked 0xD0000000"),
            ("bench-rng", plan.rng_iters,
             "virtio-rng request, guest polls the used ring; QEMU microvm with pcie=on, virtio-pci")]:
        args = [f"mode={mode}", f"iters={iters}"]
        # The bare loop has no devices: it only takes part in pio and mmio.
        vmms = plan.vmms + ([] if mode == "bench-rng" else ["kvmloop"])
        cmds = {v: command(env, v, env["guest"], args, pci=(mode == "bench-rng")) for v in vmms}
        vals = guest_loops(cmds, plan, mhz, mode)
        rows.append(row("exits", f"{mode.split('-')[1]} round trip", "us", vals, note=note))
    # The same request over virtio-mmio: Swiftlet --transport mmio and QEMU microvm's own
    # virtio-mmio, beside Swiftlet over PCI, all three interleaved.
    args = ["mode=bench-rng", f"iters={plan.rng_iters}"]
    cmds = {"swiftlet": command(env, "swiftlet", env["guest"], args + ["transport=mmio"], mmio=True),
            "swiftlet-pci": command(env, "swiftlet", env["guest"], args),
            "qemu-microvm": command(env, "qemu-microvm", env["guest"], args + ["transport=mmio"])}
    vals = guest_loops(cmds, plan, mhz, "bench-rng over virtio-mmio")
    rows.append(row("exits", "rng round trip over virtio-mmio", "us", vals,
                    note="Swiftlet --transport mmio / QEMU microvm's virtio-mmio, against Swiftlet over PCI: "
                         "kick (a QueueNotify write, one exit to an ioeventfd), the device's thread, the "
                         "guest polling the used ring; no interrupt taken, so none of virtio-mmio's two "
                         "exits per interrupt (InterruptStatus read, InterruptACK write)"))
    return rows


def guest_loops(cmds, plan, mhz, what):
    """Runs the test guest's bench modes interleaved (A B C A B C ...); microseconds per
    iteration from its `bench ...` line, by the host's TSC frequency."""
    for argv in cmds.values():
        show(argv)
    vals = {v: [] for v in cmds}
    for i in range(plan.exit_runs):
        for v, argv in cmds.items():
            if v == "qemu-q35" and i >= plan.exit_runs_q35:
                continue
            r = Run(argv, timeout=600).check(f"{v} {what}")
            m = BENCH_LINE.search(r.text)
            if not m:
                raise SystemExit(f"bench: {v} {what}: no result line\n{r.text[-800:]}")
            vals[v].append(round(int(m.group(3)) / mhz, 2))
    return vals


# ---- Linux boot ---------------------------------------------------------

def bench_boot(env, plan):
    kernel, initrd = env.get("SWIFTLET_QEMU_VMLINUX"), env.get("SWIFTLET_INITRAMFS")
    with_qemu = bool(kernel)
    if not kernel:
        # QEMU cannot complete the test kernel's INT3 self-test here; Swiftlet can, so
        # without the QEMU kernel (--no-image-builds) Swiftlet's transports still compare.
        kernel = env.get("SWIFTLET_TEST_VMLINUX")
    if not kernel or not initrd:
        say("\n== boot: skipped (no qemu-kernel or initramfs; run scripts/images all)")
        return []
    say(f"\n== boot: exec -> '{RUN_INIT}' ({os.path.basename(os.path.dirname(kernel))}/vmlinux, "
        "uncompressed initramfs, 256 MiB); QEMU q35 left out (~270 s a boot here)"
        + ("" if with_qemu else "; QEMU microvm left out too (no qemu-kernel: scripts/images qemu-kernel)"))
    base = ["console=ttyS0", "earlyprintk=serial"]
    # Swiftlet over virtio-pci (its default) and over virtio-mmio (no PCI at all, so the
    # kernel is told pci=off), QEMU microvm over its virtio-mmio; boots interleaved.
    cmds = {"swiftlet-pci": command(env, "swiftlet", kernel, base, mem=256, initrd=initrd),
            "swiftlet-mmio": command(env, "swiftlet", kernel, base + ["pci=off"], mem=256, initrd=initrd,
                                     mmio=True),
            "qemu-microvm": command(env, "qemu-microvm", kernel, base + LINUX_HIDE.split(),
                                    mem=256, initrd=initrd)}
    if not with_qemu:
        del cmds["qemu-microvm"]
    for argv in cmds.values():
        show(argv)
    vals = {v: [] for v in ["swiftlet-pci", "swiftlet-mmio", "qemu-microvm"]}
    for i in range(plan.boot_runs):
        for v, argv in cmds.items():
            r = Run(argv, until=RUN_INIT, timeout=900).check(f"{v} Linux boot", want_status=(0, 143, -15, 1))
            if r.marker is None:
                raise SystemExit(f"bench: {v} did not reach /init\n{r.text[-1500:]}")
            vals[v].append(round(r.marker, 1))
            say(f"  {v} run {i + 1}: {r.marker:.1f} s")
    return [row("boot", "exec -> 'Run /init'", "s",
                {"swiftlet": vals["swiftlet-pci"], "qemu-microvm": vals["qemu-microvm"]},
                note="Swiftlet over virtio-pci, QEMU microvm over virtio-mmio"),
            row("boot", "exec -> 'Run /init', Swiftlet over virtio-mmio", "s",
                {"swiftlet": vals["swiftlet-mmio"], "swiftlet-pci": vals["swiftlet-pci"],
                 "qemu-microvm": vals["qemu-microvm"]},
                note="Swiftlet --transport mmio with pci=off, against the same boots over virtio-pci "
                     "and QEMU microvm's virtio-mmio (its command line as above, no pci=off)")]


def bench_decompression(env, plan):
    """Debian's stock cloud bzImage (lz4), Swiftlet alone: its payload decompressed on the
    host (the default) against the kernel's own decompressor (--kernel-decompression=guest),
    exec -> the kernel's first line ("Linux version"), which is where the two paths meet."""
    kernel = env.get("SWIFTLET_CLOUD_KERNEL")
    if not kernel:
        say("\n== decompression: skipped (no cloud kernel; run scripts/images cloud-kernel)")
        return []
    marker = "Linux version"
    say(f"\n== decompression: Debian's {kernel}, exec -> '{marker}', host vs guest decompression, 256 MiB")
    base = ["console=ttyS0", "earlyprintk=serial"]
    plain = command(env, "swiftlet", kernel, base, mem=256)
    # The option goes right after the binary (or after `unshare --net`, never used here).
    cmds = {"host": plain, "guest": plain[:1] + ["--kernel-decompression=guest"] + plain[1:]}
    for c in cmds.values():
        show(c)
    vals = {k: [] for k in cmds}
    for i in range(plan.boot_runs):
        for side, argv in cmds.items():
            r = Run(argv, until=marker, timeout=900).check(f"{side} decompression", want_status=(0, 143, -15, 1))
            if r.marker is None:
                raise SystemExit(f"bench: the kernel never printed '{marker}' ({side})\n{r.text[-1500:]}")
            vals[side].append(round(r.marker, 2))
            say(f"  {side} run {i + 1}: {r.marker:.2f} s")
    return [row("decompression", "Debian bzImage: exec -> 'Linux version'", "s",
                {"swiftlet": vals["host"], "self-decompressing": vals["guest"]},
                note="Swiftlet alone: host-side decompression vs the kernel's own")]


# ---- device back-ends ----------------------------------------------------

def devbench_binary(env):
    """swiftlet-devbench beside the swiftlet in use; a release build if there is none."""
    path = env["devbench"]
    if not os.path.exists(path):
        scratch = os.environ.get("SWIFTLET_BENCH_SCRATCH")
        build = ["swift", "build", "-c", "release"] + (["--scratch-path", scratch] if scratch else [])
        sh(build + ["--product", "swiftlet-devbench"], stdout=subprocess.DEVNULL)
        bindir = subprocess.run(build + ["--show-bin-path"], check=True,
                                capture_output=True, text=True).stdout.strip()
        path = os.path.join(bindir, "swiftlet-devbench")
    return path


def json_run(argv, what):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"bench: {what} failed (status {p.returncode})\n  command: {shlex.join(argv)}\n"
                         f"  stdout tail: {p.stdout[-800:]}\n  stderr tail: {p.stderr[-800:]}")
    return json.loads(p.stdout)


def blk_file(out, mib):
    """A file of random bytes (no holes: a hole reads faster than data), made once."""
    path = os.path.join(out, f"devbench-{mib}m.img")
    if not os.path.exists(path) or os.path.getsize(path) != mib << 20:
        with open(path + ".tmp", "wb") as f:
            for _ in range(mib):
                f.write(os.urandom(1 << 20))
        os.replace(path + ".tmp", path)
    return path


def bench_devices(env, plan):
    """Swiftlet's virtio-blk, virtio-net and virtio-vsock in-process (swiftlet-devbench: the
    device code swiftlet runs, driven through the virtqueue engine with fake guest memory)
    against the host doing the same I/O itself: fio for the disk, a plain read/write loop
    for the tap, a plain Unix socket pair for vsock's stream."""
    devbench = devbench_binary(env)
    debug = "/debug/" in devbench
    say(f"\n== devices: {devbench} against fio and a plain tap loop"
        + (" (a DEBUG build: only checks that it runs; the figures mean nothing)" if debug else ""))
    if not shutil.which("fio"):
        apt_install("fio")
    note_build = "; DEBUG build of the device" if debug else ""
    cases = []  # (metric, unit, swiftlet argv, host argv, host result -> figure, note)

    disk = blk_file(env["out"], plan.blk_file_mib)
    for pattern, rw, bs, label, requests in [
            ("randread", "randread", 4096, "4 KiB random read", plan.blk_small_requests),
            ("randwrite", "randwrite", 4096, "4 KiB random write", plan.blk_small_requests),
            ("read", "read", 1 << 20, "1 MiB sequential read", plan.blk_large_requests)]:
        ours = [devbench, "blk", "--file", disk, "--pattern", pattern, "--bs", str(bs),
                "--requests", str(requests), "--batch", str(64 if bs <= 65536 else 4)]
        # fio's pvsync engine is preadv/pwritev, one request at a time, as VirtioBlock's
        # ScatterIO; buffered (direct=0) as swiftlet opens disks; page cache kept (invalidate=0);
        # its buffer an anonymous mmap, page-aligned like guest RAM (a malloc'd one is not,
        # and copies into it ran up to 4x slower here); gtod_reduce so fio does not read the
        # clock around every request.
        fio = ["fio", "--name=devbench", f"--filename={disk}", f"--size={plan.blk_file_mib}M",
               f"--rw={rw}", f"--bs={bs}", f"--io_size={requests * bs}", "--ioengine=pvsync",
               "--direct=0", "--iodepth=1", "--invalidate=0", "--iomem=mmap", "--norandommap",
               "--randrepeat=1", "--gtod_reduce=1", "--output-format=json"]
        direction = "write" if rw == "randwrite" else "read"

        def fio_us(result, direction=direction):
            iops = result["jobs"][0][direction]["iops"]
            return 1e6 / iops if iops else float("nan")
        cases.append((f"virtio-blk {label}, per request", "us", ours, fio, fio_us,
                      f"host: fio pvsync (preadv/pwritev), buffered (no O_DIRECT), iodepth 1, same {plan.blk_file_mib} MiB file"
                      + note_build))

    if os.geteuid() == 0 and os.path.exists("/dev/net/tun") and shutil.which("unshare"):
        for direction in ("tx", "rx"):
            for frame in (64, 1514):
                base = ["unshare", "--net", devbench, "net", "--direction", direction, "--frame", str(frame),
                        "--frames", str(plan.net_frames)]
                cases.append((f"virtio-net {direction} {frame}-byte frames, per frame", "us",
                              base + ["--side", "device"], base + ["--side", "plain"],
                              lambda result: result["us_per_frame"],
                              "host: plain " + ("write(2)" if direction == "tx" else "read(2)")
                              + " on the same tap, same frames, in a fresh network namespace" + note_build))
    else:
        say("  virtio-net skipped: needs root, /dev/net/tun and unshare (a network namespace)")

    for direction, label in (("h2g", "host -> guest"), ("g2h", "guest -> host")):
        base = [devbench, "vsock", "--direction", direction, "--mib", str(plan.vsock_mib)]
        cases.append((f"virtio-vsock stream {label}, per MiB", "us",
                      base + ["--side", "device"], base + ["--side", "plain"],
                      lambda result: result["us_per_mib"],
                      f"Firecracker's Unix-socket host side, 64 KiB packets, {plan.vsock_mib} MiB; "
                      "host: the same stream over a plain Unix socket pair" + note_build))

    for metric, _, ours, host, _, _ in cases:
        say(f"  {metric}:")
        show(ours)
        show(host)
    # One unmeasured run of each side (it also brings the file into the page cache).
    for metric, _, ours, host, _, _ in cases:
        json_run(ours, f"devices warm-up: {metric}")
        json_run(host, f"devices warm-up: {metric} (host)")
    vals = [{"swiftlet": [], "host": []} for _ in cases]
    for _ in range(plan.device_runs):
        for k, (metric, _, ours, host, host_figure, _) in enumerate(cases):
            r = json_run(ours, metric)
            figure = r.get("us_per_request", r.get("us_per_frame", r.get("us_per_mib")))
            vals[k]["swiftlet"].append(round(figure, 3))
            vals[k]["host"].append(round(host_figure(json_run(host, f"{metric} (host)")), 3))
    rows = [row("devices", metric, unit, v, note=note)
            for (metric, unit, _, _, _, note), v in zip(cases, vals)]
    return rows + bench_guest_net(env, plan)


def bench_guest_net(env, plan):
    """Guest -> host UDP through the whole VM: the test guest's mode=bench-net against
    the same guest under QEMU microvm (pcie=on, virtio-net-pci on its tap back-end)."""
    if not (os.geteuid() == 0 and os.path.exists("/dev/net/tun") and shutil.which("unshare")
            and shutil.which("ip")):
        say("\n== guest -> host UDP skipped: needs root, /dev/net/tun, unshare and ip")
        return []
    mhz = tsc_mhz()
    say(f"\n== guest -> host UDP: mode=bench-net, 1472-byte datagrams as fast as the device takes "
        f"them, timed in the guest (TSC {mhz:.0f} MHz); only the ratio means something here")
    vmms = plan.vmms[:2]
    args = ["mode=bench-net", f"iters={plan.net_datagrams}", "net_udp_size=1472"]
    cmds = {v: command(env, v, env["guest"], args, pci=True, net=True) for v in vmms}
    for v in vmms:
        show(cmds[v])
    vals = {v: [] for v in vmms}
    for _ in range(plan.exit_runs):
        for v in vmms:
            r = Run(cmds[v], timeout=600).check(f"{v} bench-net")
            m = BENCH_LINE.search(r.text)
            if not m:
                raise SystemExit(f"bench: {v} bench-net: no result line\n{r.text[-800:]}")
            vals[v].append(round(int(m.group(3)) / mhz, 2))
    return [row("devices", "guest -> host UDP, per 1472-byte datagram", "us", vals,
                note="whole VM: the guest's own loop is emulated on PVM; QEMU microvm with pcie=on, "
                     "virtio-net-pci, tap without vhost")]


# ---- output -------------------------------------------------------------

def fmt(x):
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def cell(samples):
    if not samples:
        return "-"
    med = statistics.median(samples)
    if len(samples) == 1:
        return fmt(med)
    return f"{fmt(med)} ({fmt(min(samples))}-{fmt(max(samples))})"


def ratio(a, b):
    if not a or not b or statistics.median(b) == 0:
        return "-"
    return f"{statistics.median(a) / statistics.median(b):.2f}"


def table(results):
    vmms = [v for v in VMMS if any(r["values"].get(v) for r in results["rows"])]
    head = ["benchmark", "metric", "unit"]
    for v in vmms:
        head.append(LABEL[v])
        if v != "swiftlet":
            head.append(f"Swiftlet / {LABEL[v]}")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results["rows"]:
        cells = [r["benchmark"], r["metric"], r["unit"]]
        for v in vmms:
            cells.append(cell(r["values"].get(v, [])))
            if v != "swiftlet":
                cells.append(ratio(r["values"].get("swiftlet"), r["values"].get(v)))
        lines.append("| " + " | ".join(cells) + " |")
    m = results["machine"]
    lines.append("")
    lines.append(f"median (min-max); {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, {m['kvm']}, "
                 f"{m['qemu']}, swiftlet {m['swiftlet_commit']}, {m['date']}")
    return "\n".join(lines)


def write_outputs(results, out, partial):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(table(results) + "\n")
    if not partial:
        say(f"\nbench: raw figures in {out}/results.json, table in {out}/results.md")
        chart(os.path.join(out, "results.json"), os.path.join(out, "results.png"))


def chart(json_path, png):
    here = os.path.dirname(os.path.abspath(__file__))
    cmd = [sys.executable, os.path.join(here, "chart.py"), json_path, png]
    if subprocess.run(cmd).returncode == 0:
        say(f"bench: chart in {png}")
        return
    say("bench: installing matplotlib from PyPI for the chart")
    if subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib"]).returncode == 0 \
            and subprocess.run(cmd).returncode == 0:
        say(f"bench: chart in {png}")
    else:
        say("bench: no chart (matplotlib unavailable); the table and JSON are complete")
