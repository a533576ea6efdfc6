import Foundation
import Testing

/// Linux at the lifecycle edges: its own AP bring-up on two vCPUs, and a panic reported
/// through pvpanic. Each boot of the test kernel costs about two minutes on PVM.
@Suite struct LinuxLifecycleTests {
    /// Linux starts the second CPU itself (INIT/SIPI through KVM's in-kernel LAPIC), sees
    /// one package of two cores, and goes on to /init. (On PVM this hung once CPU 1 sent
    /// its first paravirtual IPI, a hypercall PVM's emulator never completes: the
    /// conservative template hides those features now.)
    @Test
    func testKernelBringsUpTwoCPUs() throws {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("Linux SMP", because: "/dev/kvm is absent")
        }
        guard let kernel = TestEnvironment.testVmlinux, let initramfs = TestEnvironment.initramfs else {
            Issue.record("Linux SMP: guest image missing; run scripts/images all (scripts/test does)")
            return
        }
        let run = try Swiftlet.run(
            ["--cpus", "2", "256", kernel, "--initrd=\(initramfs)", "console=ttyS0"],
            timeout: 1500, until: LinuxBootTests.runInit)
        #expect(!run.timedOut, "no result in 25 minutes; tail: \(run.stdout.suffix(2000))")
        #expect(run.stdout.contains("smp: Brought up 1 node, 2 CPUs"), "tail: \(run.stdout.suffix(3000))")
        #expect(run.stdout.contains("smpboot: Max logical packages: 1"), "CPU 1 should share CPU 0's package")
        #expect(run.stdout.contains(LinuxBootTests.runInit))
    }

    /// No init to run: the kernel panics, its pvpanic driver tells us, and we exit 3.
    @Test func panickingKernelEndsWithStatus3() throws {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("Linux panic", because: "/dev/kvm is absent")
        }
        guard let kernel = TestEnvironment.testVmlinux else {
            Issue.record("Linux panic: test kernel missing; run scripts/images all (scripts/test does)")
            return
        }
        let run = try Swiftlet.run(["256", kernel, "console=ttyS0", "init=/nonexistent"], timeout: 1500)
        #expect(!run.timedOut, "no result in 25 minutes; tail: \(run.stdout.suffix(2000))")
        #expect(run.stdout.contains("Kernel panic - not syncing"), "tail: \(run.stdout.suffix(2000))")
        #expect(run.status == 3, "stderr: \(run.stderr)")
        #expect(run.stderr == "swiftlet: the guest panicked\n")
    }
}
