import ArgumentParser
import SwiftletAPI

/// Firecracker's command line, which the jailer, the SDKs and Kata pass: swiftlet takes
/// it whenever one of its options appears (`APIFrontEnd.isChosen`), so the seed's command
/// line is untouched.
struct FirecrackerCommand: ParsableCommand {
    static let transportHelp = "Devices are virtio-mmio unless --enable-pci (then PCI, and a pci=off in boot_args is dropped)."

    static let configuration = CommandConfiguration(
        commandName: "swiftlet",
        abstract: "Serve Firecracker's REST API on a Unix socket, or boot from its JSON configuration file.",
        discussion: """
            swiftlet --api-sock PATH: configure the VM with PUT requests, then PUT /actions \
            InstanceStart. swiftlet --config-file F [--no-api]: boot at once from \
            Firecracker's JSON configuration. The guest's serial console is stdout; a guest \
            reset (reboot=k) ends the process. \(transportHelp) \
            See docs/api.md for the endpoints and where Swiftlet differs from Firecracker.

            Accepted and ignored: --start-time-us, --start-time-cpu-us, \
            --parent-cpu-time-us (the jailer's start-up timing), --boot-timer.

            Exit status: as the guest ended (0 powered off or reset, 1 swiftlet failed, 3 \
            panicked, 128+N signal N); 2 a bad command line or configuration file.
            """,
        version: FirecrackerDefaults.versionLine)

    @Option(name: .customLong("api-sock"), help: ArgumentHelp("The API's Unix socket; must not exist yet (default \(FirecrackerDefaults.socketPath)).", valueName: "path"))
    var apiSock: String?

    @Option(name: .long, help: ArgumentHelp("The instance id GET / reports.", valueName: "id"))
    var id: String = FirecrackerDefaults.instanceID

    @Option(name: .customLong("config-file"), help: ArgumentHelp("Configure from Firecracker's JSON file and boot at once.", valueName: "file"))
    var configFile: String?

    @Flag(name: .customLong("no-api"), help: "Serve no API socket (needs --config-file).")
    var noAPI = false

    @Option(name: .customLong("http-api-max-payload-size"), help: ArgumentHelp("Largest request body accepted, in bytes.", valueName: "bytes"))
    var maxPayloadSize: Int = HTTPRequestParser.defaultMaximumBody

    @Option(name: .customLong("log-path"), help: ArgumentHelp("Write the log to this file or FIFO instead of stderr.", valueName: "path"))
    var logPath: String?

    @Option(name: .long, help: ArgumentHelp("Log level: Error, Warning (default), Info, Debug, Trace or Off.", valueName: "level"))
    var level: String?

    @Flag(name: .customLong("show-level"), help: "Prefix log lines with their level.")
    var showLevel = false

    @Flag(name: .customLong("show-log-origin"), help: "Prefix log lines with their source file and line.")
    var showLogOrigin = false

    @Option(name: .customLong("metrics-path"), help: ArgumentHelp("Append a JSON line of metrics here at each FlushMetrics.", valueName: "path"))
    var metricsPath: String?

    @Flag(name: .customLong("enable-pci"), help: "Give the guest its virtio devices on PCI instead of virtio-mmio.")
    var enablePCI = false

    @Flag(name: .long, help: "Trace setup, devices and unclaimed port accesses to stderr.")
    var verbose = false

    @Option(name: .customLong("metadata"), help: ArgumentHelp("MMDS metadata: not supported yet (refused).", valueName: "file"))
    var metadata: String?

    @OptionGroup var lockdownOptions: LockdownOptions

    @Option(name: .customLong("start-time-us"), help: .hidden) var startTimeUs: UInt64?
    @Option(name: .customLong("start-time-cpu-us"), help: .hidden) var startTimeCPUUs: UInt64?
    @Option(name: .customLong("parent-cpu-time-us"), help: .hidden) var parentCPUTimeUs: UInt64?
    @Flag(name: .customLong("boot-timer"), help: .hidden) var bootTimer = false

    /// Every long option above: any of them on a command line chooses API mode.
    static let optionNames: Set<String> = [
        "--api-sock", "--id", "--config-file", "--no-api", "--http-api-max-payload-size", "--log-path", "--level",
        "--show-level", "--show-log-origin", "--metrics-path", "--enable-pci", "--metadata", "--start-time-us",
        "--start-time-cpu-us", "--parent-cpu-time-us", "--boot-timer", "--version",
    ]

    func validate() throws {
        if noAPI && configFile == nil { throw ValidationError("--no-api needs --config-file (else nothing could start the VM)") }
        if metadata != nil { throw ValidationError("--metadata: the metadata service (MMDS) is not supported yet") }
        guard maxPayloadSize > 0 else { throw ValidationError("--http-api-max-payload-size must be at least 1") }
    }
}
