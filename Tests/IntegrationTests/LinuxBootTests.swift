import Foundation
import Testing

/// Linux, booted the seed's way: `swiftlet 256 <kernel> --initrd=<initramfs> console=ttyS0`.
///
/// On PVM (this project's development machines) guest ring 0 is emulated, so a boot takes
/// minutes, and user space cannot run at all: the first system call from /init faults
/// whatever the VMM. There the test checks the kernel's own work up to "Run /init as init
/// process" and stops the guest; elsewhere it waits for /init's marker and its power-off.
@Suite struct LinuxBootTests {
    static let runInit = "Run /init as init process"
    static let initMarker = "SWIFTLET-INIT: hello from /init"

    /// Boots `kernel` with `initramfs` and checks the log; `what` names it in messages.
    /// `extraArguments` go at the end of the command line. `reportsPanic`: the kernel has
    /// pvpanic's ACPI driver built in, so on PVM, where /init's first system call faults,
    /// init dies and the kernel panics, its panic ends swiftlet; a kernel without it halts
    /// silently, so there the test stops at "Run /init".
    func boot(_ what: String, kernel: String?, initramfs: String?, minutes: Double = 25,
              extraArguments: [String] = [], reportsPanic: Bool = true) throws {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("Linux boot (\(what))", because: "/dev/kvm is absent")
        }
        guard let kernel, let initramfs else {
            Issue.record("\(what): guest image missing; run scripts/images all (scripts/test does)")
            return
        }
        let arguments = ["256", kernel, "--initrd=\(initramfs)", "console=ttyS0", "earlyprintk=serial",
                         "swiftlet.test=\(what)"] + extraArguments
        // Elsewhere /init powers off.
        let stopAt = TestEnvironment.isPVM && !reportsPanic ? Self.runInit : nil
        let run = try Swiftlet.run(arguments, timeout: minutes * 60, until: stopAt)
        let log = run.stdout

        #expect(!run.timedOut, "\(what): no result in \(Int(minutes)) minutes; log tail: \(log.suffix(2000))")
        #expect(log.contains("Command line: ") && log.contains("console=ttyS0 earlyprintk=serial swiftlet.test=\(what)"),
                "\(what): our command line is not in the kernel log")
        for table in ["RSDP", "XSDT", "FACP", "DSDT", "APIC"] {
            #expect(log.contains("ACPI: \(table) "), "\(what): ACPI table \(table) not found by the kernel")
        }
        #expect(!log.contains("ACPI Error") && !log.contains("ACPI BIOS Error"), "\(what): ACPI errors in the log")
        #expect(log.contains(Self.runInit), "\(what): the kernel did not reach /init; tail: \(log.suffix(2000))")
        if TestEnvironment.isPVM && !reportsPanic {
            #expect(run.stoppedAtMarker)
            TestEnvironment.partNotRun("Linux user space (\(what))",
                                       because: "KVM here is PVM: /init's first system call faults inside PVM whatever the VMM")
        } else if TestEnvironment.isPVM {
            // The panic of a real kernel ends swiftlet through pvpanic (the lifecycle issue).
            #expect(log.contains("Kernel panic - not syncing: Attempted to kill init!"), "\(what): tail: \(log.suffix(2000))")
            #expect(run.status == 3, "\(what): a panic should end swiftlet with 3; stderr: \(run.stderr)")
            #expect(run.stderr == "swiftlet: the guest panicked\n")
            TestEnvironment.partNotRun("Linux user space (\(what))",
                                       because: "KVM here is PVM: /init's first system call faults inside PVM whatever the VMM")
        } else {
            #expect(log.contains(Self.initMarker), "\(what): /init did not run")
            #expect(run.status == 0, "\(what): poweroff -f should end swiftlet with 0; stderr: \(run.stderr)")
        }
    }

    @Test(arguments: ["vmlinux", "bzImage"])
    func testKernel(as form: String) throws {
        try boot("test-kernel-\(form)",
                 kernel: form == "vmlinux" ? TestEnvironment.testVmlinux : TestEnvironment.testBzImage,
                 initramfs: TestEnvironment.initramfs)
    }

    /// Debian's kernel as shipped. On PVM its boot is all emulated: measured here on a
    /// host shared with other jobs, "Run /init" came after 21 minutes of guest time (20
    /// CPU-minutes), of which ftrace's check of every traced function (kallsyms lookups,
    /// no way to skip it) took about 4. Its crypto self-tests alone are ~0.74 billion
    /// instructions (QEMU TCG with -icount, initcall_debug: crypto_algapi_init), a quarter
    /// of an hour more on PVM's emulator, so there the unmodified kernel boots with
    /// `cryptomgr.notests` on its command line. Its pvpanic driver is a module, so the
    /// test stops at "Run /init".
    @Test
    func debianCloudKernelAsShipped() throws {
        try boot("debian-cloud", kernel: TestEnvironment.cloudKernel, initramfs: TestEnvironment.cloudInitramfs, minutes: 60,
                 extraArguments: TestEnvironment.isPVM ? ["cryptomgr.notests"] : [], reportsPanic: false)
    }
}
