#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging
import SwiftletBoot
import SwiftletKVM
import SwiftletHost
import SwiftletMachine

struct SwiftletCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet",
        abstract: "Run a Linux guest on KVM: the lguest Launcher's heir.",
        discussion: """
            The arguments after the kernel become its command line, joined by spaces.
            Options may come before or after <mem-in-mb> and <kernel>.

            Exit status: 0 the guest powered off; 1 swiftlet failed (bad kernel, KVM \
            error, guest triple fault or emulation failure); 2 bad command line; 3 the \
            guest panicked (pvpanic); 128+N ended by signal N (130 for SIGINT or three ^C \
            within a second, 143 for SIGTERM, 129 for SIGHUP). A guest that resets more \
            than --reset-limit times within --reset-window seconds ends with status 1.

            Environment: SWIFTLET_KVM_DEVICE names the KVM device (default /dev/kvm).

            Firecracker's API: swiftlet --api-sock PATH, or --config-file F [--no-api]; \
            any of Firecracker's options chooses that mode (swiftlet --api-sock x --help).
            """)

    @Flag(name: .long, help: "Trace setup, devices and unclaimed port accesses to stderr.")
    var verbose = false

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("Give the guest a network card on a tap: a host IPv4 address, or bridge:<name>.", valueName: "ip|bridge:br"))
    var tunnet: [String] = []

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("The MAC of the card of the --tunnet in the same position (default: derived from the tap's name).", valueName: "xx:xx:xx:xx:xx:xx"))
    var mac: [String] = []

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("Give the guest a virtio disk backed by this file; add ,ro for read-only (repeatable).", valueName: "file[,ro]"))
    var block: [String] = []

    @Option(name: .long,
            help: ArgumentHelp("Give the guest a virtio socket device with this CID; host programs reach it through the Unix socket PATH (Firecracker's CONNECT <port>), guest connections to port P go to PATH_P.", valueName: "cid=n,uds=path"))
    var vsock: String?

    @Flag(name: .customLong("no-rng"), help: "Leave out the virtio entropy device.")
    var noRNG = false

    @Option(name: .long, help: ArgumentHelp("Load this initial ramdisk for the kernel.", valueName: "file"))
    var initrd: String?

    @Option(name: .long, help: ArgumentHelp("Number of vCPUs.", valueName: "n"))
    var cpus: Int = 1

    @Option(name: .customLong("cpu-template"),
            help: ArgumentHelp(
                "The guest's CPU: \(CPUTemplate.allCases.map { "\($0.rawValue) (\($0.summary))" }.joined(separator: "; ")).",
                valueName: "name"))
    var cpuTemplate: String?

    @Option(name: .customLong("kernel-decompression"),
            help: ArgumentHelp(
                "Who decompresses a bzImage: \(KernelDecompression.allCases.map { "\($0.rawValue) (\($0.summary))" }.joined(separator: "; ")).",
                valueName: "who"))
    var kernelDecompression: String = KernelDecompression.host.rawValue

    @Option(name: .long,
            help: ArgumentHelp(
                "How virtio devices reach the guest: pci, or mmio (virtio-mmio; with acpi=off on the kernel command line swiftlet adds virtio_mmio.device= words for them).",
                valueName: "pci|mmio"))
    var transport: String = MachineConfig.DeviceTransport.pci.rawValue

    @Option(name: .customLong("reset-limit"),
            help: ArgumentHelp("Give up (status 1) when the guest resets more than this many times within --reset-window.", valueName: "n"))
    var resetLimit: Int = MachineConfig.defaultResetLimit

    @Option(name: .customLong("reset-window"),
            help: ArgumentHelp("The reboot-loop guard's window, in seconds.", valueName: "seconds"))
    var resetWindow: Double = MachineConfig.defaultResetWindow

    @OptionGroup var lockdownOptions: LockdownOptions

    @Argument(help: ArgumentHelp("Guest memory in MiB.", valueName: "mem-in-mb"))
    var memory: String

    @Argument(help: ArgumentHelp("The kernel: an ELF vmlinux or a bzImage.", valueName: "kernel"))
    var kernel: String

    @Argument(help: ArgumentHelp("The kernel's command line.", valueName: "kernel args"))
    var kernelArguments: [String] = []

    /// Turns the parsed options into a machine description, or one line saying why not.
    func machineConfig() throws(UsageError) -> MachineConfig {
        guard mac.count <= tunnet.count else { throw UsageError("--mac: more --mac than --tunnet options") }
        let networks = try tunnet.enumerated().map { (index, text) throws(UsageError) in
            MachineConfig.Network(
                attachment: try usage { () throws(ConfigError) in try ConfigParsing.tunnet(text) },
                mac: index < mac.count ? try usage { () throws(ConfigError) in try ConfigParsing.mac(mac[index]) } : nil)
        }
        let template: CPUTemplate?
        if let name = cpuTemplate {
            guard let named = CPUTemplate(rawValue: name) else {
                throw UsageError("--cpu-template: unknown template '\(name)' (choose \(CPUTemplate.allCases.map(\.rawValue).joined(separator: " or ")))")
            }
            template = named
        } else {
            template = nil
        }
        guard let decompression = KernelDecompression(rawValue: kernelDecompression) else {
            throw UsageError("--kernel-decompression: '\(kernelDecompression)' is neither host nor guest")
        }
        guard let deviceTransport = MachineConfig.DeviceTransport(rawValue: transport) else {
            throw UsageError("--transport: '\(transport)' is neither pci nor mmio")
        }
        guard resetLimit >= 0 else { throw UsageError("--reset-limit must be 0 or more") }
        guard resetWindow > 0, resetWindow.isFinite else { throw UsageError("--reset-window must be a positive number of seconds") }
        var config = MachineConfig(
            memoryMiB: try usage { () throws(ConfigError) in try ConfigParsing.memoryMiB(memory) }, cpus: cpus, kernelPath: kernel, initrdPath: initrd,
            kernelArguments: kernelArguments, cpuTemplate: template, verbose: verbose,
            disks: try block.map { text throws(UsageError) in try usage { () throws(ConfigError) in try ConfigParsing.disk(text) } }, rng: !noRNG, networks: networks,
            resetLimit: resetLimit, resetWindow: resetWindow, kernelDecompression: decompression,
            transport: deviceTransport)
        if let vsock { config.vsock = try usage { () throws(ConfigError) in try ConfigParsing.vsock(vsock) } }
        return config
    }

    /// Parses `arguments`, runs the guest, and returns swiftlet's exit status.
    static func main(arguments: [String]) -> Int32 {
        if APIFrontEnd.isChosen(by: arguments) {
            return APIFrontEnd.main(arguments: arguments, makeController: makeVMController)
        }
        let command: SwiftletCommand
        do {
            var parsed = try parseAsRoot(arguments)
            guard let ours = parsed as? SwiftletCommand else {
                // ArgumentParser's own help command: let it print and succeed.
                try parsed.run()
                return ExitStatus.poweredOff.rawValue
            }
            command = ours
        } catch {
            // --help and --version print and succeed; anything else is one line and status 2.
            if exitCode(for: error) == .success {
                exit(withError: error)
            }
            printError(message(for: error).split(separator: "\n").first.map(String.init) ?? "bad command line")
            return ExitStatus.usage.rawValue
        }
        let config: MachineConfig
        do {
            config = try command.machineConfig()
        } catch {
            printError(error.description)
            return ExitStatus.usage.rawValue
        }
        LoggingSystem.bootstrap { label in
            var handler = OneLineLogHandler(label: label)
            handler.logLevel = config.verbose ? .trace : .notice
            return handler
        }
        return Machine.run(config, lockdown: command.lockdownOptions.lockdown, logger: Logger(label: "swiftlet"))
    }

}

/// A command-line mistake, as one line.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A library configuration error as a command-line one (status 2).
func usage<T>(_ body: () throws(ConfigError) -> T) throws(UsageError) -> T {
    do { return try body() } catch { throw UsageError(error.description) }
}

/// Prints "swiftlet: <line>" on stderr.
func printError(_ line: String) {
    var text = "swiftlet: " + line + "\n"
    text.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
