#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import SwiftletAPI
import SwiftletMachine

/// What the endpoints do when the request is good: 204s, the machine InstanceStart builds,
/// the state GET / reports, disk swaps, metrics and the log.
@Suite struct EndpointBehaviourTests {
    func start(_ api: FirecrackerAPI) {
        let response = api.send("PUT", "/actions", #"{"action_type": "InstanceStart"}"#)
        #expect(response.status == 204, "\(response.faultMessage ?? "")")
        #expect(response.body.isEmpty)
    }

    @Test func instanceStartBuildsFirecrackersMachine() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (api, controller) = configuredAPI(scratch)
        start(api)
        let config = try #require(controller.startedConfig)
        #expect(config.memoryMiB == 64)
        #expect(config.cpus == 2)
        #expect(config.kernelPath == scratch.kernel)
        // The root drive is vda whatever order the drives came in.
        #expect(config.disks == [MachineConfig.Disk(path: scratch.disk, readOnly: false),
                                 MachineConfig.Disk(path: scratch.otherDisk, readOnly: false)])
        // pci=off stays only where the devices really are on virtio-mmio.
        let transport = FirecrackerDefaults.transport(enablePCI: false)
        #expect(config.kernelArguments == ["console=ttyS0"] + (transport == .mmio ? ["pci=off"] : []) + ["root=/dev/vda", "rw"])
        #expect(config.networks == [MachineConfig.Network(attachment: .existingTap("tap0"), mac: [6, 0, 0xac, 0x10, 0, 2])])
        #expect(config.rng == false)
        #expect(config.transport == transport)
        #expect(config.resetAction == .exit)
    }

    @Test func vsockBecomesTheMachinesAndShowsInVMConfig() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (api, controller) = configuredAPI(scratch)
        let path = scratch.directory + "/v.sock"
        // Firecracker's older clients name the device in the path and the body: both ignored.
        let response = api.send("PUT", "/vsock/vsock0", #"{"vsock_id": "vsock0", "guest_cid": 52, "uds_path": "\#(path)"}"#)
        #expect(response.status == 204, "\(response.faultMessage ?? "")")
        guard case .object(let sections) = try JSONParser.parse(api.send("GET", "/vm/config").body),
              case .object(let vsock)? = sections.first(where: { $0.key == "vsock" })?.value
        else { Issue.record("no vsock in /vm/config"); return }
        #expect(vsock.map(\.key) == ["guest_cid", "uds_path"])
        #expect(vsock.first?.value == .integer(52))
        start(api)
        let config = try #require(controller.startedConfig)
        #expect(config.vsock == MachineConfig.Vsock(guestCID: 52, udsPath: path))
        #expect(api.send("PUT", "/vsock", #"{"guest_cid": 53, "uds_path": "\#(path)2"}"#).status == 400)
    }

    @Test func defaultsPartuuidEntropyAndPCI() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let controller = FakeVMController()
        let api = FirecrackerAPI(controller: controller, options: .init(enablePCI: true))
        for (path, body) in [
            ("/boot-source", #"{"kernel_image_path": "\#(scratch.kernel)", "initrd_path": "\#(scratch.initrd)"}"#),
            ("/drives/rootfs", #"{"drive_id": "rootfs", "path_on_host": "\#(scratch.disk)", "is_root_device": true, "is_read_only": true, "partuuid": "abcd-01"}"#),
            ("/entropy", "{}"),
        ] {
            #expect(api.send("PUT", path, body).status == 204, "\(path)")
        }
        start(api)
        let config = try #require(controller.startedConfig)
        #expect(config.memoryMiB == 128)  // Firecracker's default
        #expect(config.cpus == 1)
        #expect(config.initrdPath == scratch.initrd)
        #expect(config.kernelArguments.joined(separator: " ") == FirecrackerDefaults.bootArguments + " root=PARTUUID=abcd-01 ro")
        #expect(config.disks == [MachineConfig.Disk(path: scratch.disk, readOnly: true)])
        #expect(config.rng)
        #expect(config.transport == .pci)
    }

    @Test func pciDropsThePciOffClientsAdd() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (api, controller) = configuredAPI(scratch, options: .init(enablePCI: true))
        start(api)
        #expect(try #require(controller.startedConfig).kernelArguments == ["console=ttyS0", "root=/dev/vda", "rw"])
    }

    @Test func instanceStartNeedsAKernelAndMayBeRetried() {
        let scratch = Scratch()
        defer { scratch.remove() }
        let controller = FakeVMController()
        let api = FirecrackerAPI(controller: controller)
        let refused = api.send("PUT", "/actions", #"{"action_type": "InstanceStart"}"#)
        #expect(refused.faultMessage?.contains("PUT /boot-source first") == true)
        #expect(controller.calls.isEmpty)

        #expect(api.send("PUT", "/boot-source", #"{"kernel_image_path": "\#(scratch.kernel)"}"#).status == 204)
        controller.failNext("KVM said no")
        let failed = api.send("PUT", "/actions", #"{"action_type": "InstanceStart"}"#)
        #expect(failed.status == 400)
        #expect(failed.faultMessage == "InstanceStart: KVM said no")
        #expect(!api.isStarted)
        #expect(state(api) == "Not started")
        start(api)
        #expect(state(api) == "Running")
    }

    func state(_ api: FirecrackerAPI) -> String? {
        guard case .object(let members) = (try? JSONParser.parse(api.send("GET", "/").body)) ?? .null,
              case .string(let state)? = members.first(where: { $0.key == "state" })?.value else { return nil }
        return state
    }

    @Test func instanceInfoFollowsTheLifecycle() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let controller = FakeVMController()
        let api = FirecrackerAPI(controller: controller, options: .init(instanceID: "vm-7"))
        let info = api.send("GET", "/")
        #expect(info.status == 200)
        #expect(try JSONParser.parse(info.body) == .object([
            ("id", .string("vm-7")), ("state", .string("Not started")),
            ("vmm_version", .string(FirecrackerDefaults.swiftletVersion)), ("app_name", .string("Firecracker")),
        ]))
        #expect(try JSONParser.parse(api.send("GET", "/version").body) == .object([("firecracker_version", .string("1.13.0"))]))
        #expect(api.send("PUT", "/boot-source", #"{"kernel_image_path": "\#(scratch.kernel)"}"#).status == 204)
        start(api)
        #expect(state(api) == "Running")
        #expect(api.send("PATCH", "/vm", #"{"state": "Paused"}"#) == .noContent)
        #expect(state(api) == "Paused")
        #expect(api.send("PATCH", "/vm", #"{"state": "Resumed"}"#) == .noContent)
        #expect(state(api) == "Running")
        #expect(api.send("PUT", "/actions", #"{"action_type": "SendCtrlAltDel"}"#) == .noContent)
        #expect(controller.calls == ["start", "pause", "resume", "ctrlAltDel"])
    }

    @Test func patchDriveSwapsTheBackingFileOfTheRightDisk() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (api, controller) = configuredAPI(scratch)
        start(api)
        // "data" was PUT first but is vdb: the root drive is vda.
        #expect(api.send("PATCH", "/drives/data", #"{"drive_id": "data", "path_on_host": "\#(scratch.initrd)", "rate_limiter": {}}"#) == .noContent)
        #expect(controller.calls.last == "replaceDisk 1 \(scratch.initrd)")
        #expect(api.spec.drives.first { $0.driveID == "data" }?.pathOnHost == scratch.initrd)
        let config = String(decoding: api.send("GET", "/vm/config").body, as: UTF8.self)
        #expect(config.contains(scratch.initrd))
        // Only an (empty) rate limiter: nothing to do.
        #expect(api.send("PATCH", "/drives/root", #"{"drive_id": "root"}"#) == .noContent)
        #expect(controller.calls.count == 2)
        #expect(api.send("PATCH", "/network-interfaces/eth0", #"{"iface_id": "eth0", "rx_rate_limiter": {}}"#) == .noContent)
    }

    @Test func patchMachineConfigChangesOnlyWhatIsSent() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (api, _) = configuredAPI(scratch)
        #expect(api.send("PATCH", "/machine-config", #"{"vcpu_count": 4, "track_dirty_pages": true}"#) == .noContent)
        #expect(try JSONParser.parse(api.send("GET", "/machine-config").body) == .object([
            ("vcpu_count", .number("4")), ("mem_size_mib", .number("64")), ("smt", .bool(false)),
            ("track_dirty_pages", .bool(true)), ("huge_pages", .string("None")),
        ]))
        // A PUT replaces the lot; absent optional fields go back to their defaults.
        #expect(api.send("PUT", "/machine-config", #"{"vcpu_count": 1, "mem_size_mib": 32, "smt": false, "cpu_template": "None", "huge_pages": "None"}"#) == .noContent)
        #expect(api.spec.machine.trackDirtyPages == false)
        #expect(api.spec.machine.memSizeMiB == 32)
    }

    @Test func putAgainReplacesADriveInPlace() {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (api, _) = configuredAPI(scratch)
        #expect(api.send("PUT", "/drives/data", #"{"drive_id": "data", "path_on_host": "\#(scratch.initrd)", "is_root_device": false, "is_read_only": true}"#) == .noContent)
        #expect(api.spec.drives.map(\.driveID) == ["data", "root"])
        #expect(api.spec.drives[0].isReadOnly)
    }

    @Test func vmConfigHasFirecrackersSections() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (api, _) = configuredAPI(scratch)
        guard case .object(let sections) = try JSONParser.parse(api.send("GET", "/vm/config").body) else {
            Issue.record("not an object"); return
        }
        #expect(sections.map(\.key) == ["balloon", "drives", "boot-source", "logger", "machine-config", "metrics",
                                        "mmds-config", "network-interfaces", "vsock", "entropy"])
        guard case .array(let drives)? = sections.first(where: { $0.key == "drives" })?.value,
              case .object(let root)? = drives.first else { Issue.record("no drives"); return }
        #expect(root.first?.value == .string("root"))
    }

    @Test func flushMetricsAppendsAJSONLine() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.directory + "/metrics.json"
        defer { unlink(path) }
        let (api, _) = configuredAPI(scratch)
        #expect(api.send("PUT", "/metrics", #"{"metrics_path": "\#(path)"}"#) == .noContent)
        #expect(api.send("PUT", "/actions", #"{"action_type": "FlushMetrics"}"#) == .noContent)
        #expect(api.send("PUT", "/actions", #"{"action_type": "FlushMetrics"}"#) == .noContent)
        let lines = try readLines(path)
        #expect(lines.count == 2)
        guard case .object(let metrics) = try JSONParser.parse(try #require(lines.last)) else { Issue.record("not an object"); return }
        #expect(metrics.map(\.key) == ["utc_timestamp_ms", "api_server", "vmm"])
    }

    @Test func loggerWritesToItsFile() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.directory + "/log"
        defer { unlink(path) }
        let (api, _) = configuredAPI(scratch)
        #expect(api.send("PUT", "/logger", #"{"log_path": "\#(path)", "level": "info", "show_level": true}"#) == .noContent)
        _ = api.send("GET", "/nope")
        let lines = try readLines(path)
        #expect(lines.contains { $0.contains("[Info] API: PUT /logger: 204") }, "\(lines)")
        #expect(lines.contains { $0.contains("[Warning] API: GET /nope: unknown path /nope") }, "\(lines)")
    }

    func readLines(_ path: String) throws -> [String] {
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = read(fd, &buffer, buffer.count)
        return String(decoding: buffer[0..<max(0, count)], as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
