import Testing
@testable import SwiftletAPI
import SwiftletMachine

/// --config-file goes through the endpoints' own checks: the same words for the same mistakes.
@Suite struct ConfigFileTests {
    func document(_ scratch: Scratch, extra: String = "") -> String {
        """
        {
          "boot-source": {"kernel_image_path": "\(scratch.kernel)", "boot_args": "mode=check"},
          "drives": [
            {"drive_id": "data", "path_on_host": "\(scratch.otherDisk)", "is_root_device": false, "is_read_only": true},
            {"drive_id": "rootfs", "path_on_host": "\(scratch.disk)", "is_root_device": true, "is_read_only": false}
          ],
          "machine-config": {"vcpu_count": 2, "mem_size_mib": 96},
          "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap5"}],
          "entropy": {},
          "vsock": {"guest_cid": 3, "uds_path": "\(scratch.directory)/v.sock"},
          "something-new": {"anything": 1}\(extra)
        }
        """
    }

    @Test func aWholeConfigurationBoots() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let controller = FakeVMController()
        let api = FirecrackerAPI(controller: controller)
        try api.apply(configFile: Array(document(scratch).utf8))
        try api.start()
        let config = try #require(controller.startedConfig)
        #expect(config.cpus == 2)
        #expect(config.memoryMiB == 96)
        #expect(config.kernelArguments == ["mode=check", "root=/dev/vda", "rw"])
        #expect(config.disks.map(\.path) == [scratch.disk, scratch.otherDisk])
        #expect(config.networks == [MachineConfig.Network(attachment: .existingTap("tap5"))])
        #expect(config.rng)
        #expect(config.vsock == MachineConfig.Vsock(guestCID: 3, udsPath: scratch.directory + "/v.sock"))
    }

    @Test(arguments: [
        (#"{"machine-config": {"vcpu_count": 2, "mem_size_mib": 64, "vcpus": 1}}"#, "machine-config: unknown field 'vcpus'"),
        (#"{"drives": {"drive_id": "x"}}"#, "drives: expected an array, not an object"),
        (#"{"drives": [{"path_on_host": "/x", "is_root_device": true}]}"#, "drives: drive_id is missing"),
        (#"{"drives": [{"drive_id": "x", "path_on_host": "/nonexistent/x", "is_root_device": true}]}"#, "drives: path_on_host: cannot open /nonexistent/x"),
        (#"{"network-interfaces": [{"iface_id": "a", "host_dev_name": "t", "guest_mac": "nope"}]}"#, "not a MAC"),
        (#"{"boot-source": {"kernel_image_path": "/nonexistent/k"}}"#, "boot-source: kernel_image_path: cannot open"),
        (#"{"vsock": {"guest_cid": 2, "uds_path": "/tmp/swiftlet-no-such-v.sock"}}"#, "vsock: guest_cid: guest CID 2 is out of range"),
        (#"[1, 2]"#, "expected a JSON object"),
        (#"{"boot-source": "#, "malformed JSON"),
    ])
    func mistakesAreNamed(text: String, mentioned: String) {
        let api = FirecrackerAPI(controller: FakeVMController())
        do {
            try api.apply(configFile: Array(text.utf8))
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.contains(mentioned), "\(error.description)")
        }
    }

    @Test func aFileWithoutKernelCannotStart() throws {
        let api = FirecrackerAPI(controller: FakeVMController())
        try api.apply(configFile: Array(#"{"machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}"#.utf8))
        #expect(throws: APIFault("InstanceStart: no kernel: PUT /boot-source first")) { try api.start() }
    }
}
