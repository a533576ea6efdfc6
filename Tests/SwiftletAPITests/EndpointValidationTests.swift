import Testing
@testable import SwiftletAPI
import SwiftletMachine

/// Every bad request is a 400 whose fault_message names the problem, and changes nothing:
/// neither the configuration nor the controller.
@Suite struct EndpointValidationTests {
    struct Bad: CustomTestStringConvertible, Sendable {
        let method: String
        let path: String
        let body: String
        let mentions: [String]
        init(_ method: String, _ path: String, _ body: String, _ mentions: String...) {
            self.method = method
            self.path = path
            self.body = body
            self.mentions = mentions
        }
        var testDescription: String { "\(method) \(path) \(body)" }
    }

    static let beforeStart: [Bad] = [
        Bad("GET", "/nope", "", "unknown path /nope"),
        Bad("DELETE", "/machine-config", "", "DELETE is not allowed on /machine-config", "GET, PUT, PATCH"),
        Bad("PUT", "/version", "{}", "PUT is not allowed on /version"),
        Bad("PUT", "/machine-config", "", "empty body"),
        Bad("PUT", "/machine-config", "  \n", "empty body"),
        Bad("PUT", "/machine-config", "{", "malformed JSON"),
        Bad("PUT", "/machine-config", "[1]", "expected a JSON object, not an array"),
        Bad("PUT", "/machine-config", #"{"vcpu_count": 2, "mem_size_mib": 64, "bogus": 1}"#, "unknown field 'bogus'"),
        Bad("PUT", "/machine-config", #"{"vcpu_count": "2", "mem_size_mib": 64}"#, "vcpu_count must be a whole number, not a string"),
        Bad("PUT", "/machine-config", #"{"vcpu_count": 0, "mem_size_mib": 64}"#, "vcpu_count", "1 to 32, not 0"),
        Bad("PUT", "/machine-config", #"{"vcpu_count": 33, "mem_size_mib": 64}"#, "1 to 32, not 33"),
        Bad("PUT", "/machine-config", #"{"vcpu_count": 1.5, "mem_size_mib": 64}"#, "not 1.5"),
        Bad("PUT", "/machine-config", #"{"vcpu_count": 2}"#, "mem_size_mib is missing"),
        Bad("PUT", "/machine-config", #"{"mem_size_mib": 64}"#, "vcpu_count is missing"),
        Bad("PUT", "/machine-config", #"{"vcpu_count": 1, "mem_size_mib": 0}"#, "mem_size_mib must be at least 1 MiB"),
        Bad("PUT", "/machine-config", #"{"vcpu_count": 1, "mem_size_mib": 999999999999}"#, "mem_size_mib", "more than this host"),
        Bad("PUT", "/machine-config", #"{"vcpu_count": 1, "mem_size_mib": 64, "smt": true}"#, "smt"),
        Bad("PUT", "/machine-config", #"{"vcpu_count": 1, "mem_size_mib": 64, "huge_pages": "2M"}"#, "huge_pages '2M'"),
        Bad("PUT", "/machine-config", #"{"vcpu_count": 1, "mem_size_mib": 64, "cpu_template": "T2"}"#, "cpu_template 'T2'"),
        Bad("PATCH", "/machine-config", #"{"vcpu_count": 64}"#, "not 64"),
        Bad("PATCH", "/machine-config", #"{"smt": 1}"#, "smt must be true or false, not a number"),
        Bad("PUT", "/boot-source", "{}", "kernel_image_path is missing"),
        Bad("PUT", "/boot-source", #"{"kernel_image_path": ""}"#, "kernel_image_path is empty"),
        Bad("PUT", "/boot-source", #"{"kernel_image_path": "/nonexistent/vmlinux"}"#, "kernel_image_path", "cannot open /nonexistent/vmlinux"),
        Bad("PUT", "/boot-source", #"{"kernel_image_path": "/tmp"}"#, "/tmp is not a regular file"),
        Bad("PUT", "/boot-source", #"{"kernel_image_path": "/nonexistent", "boot_args": 5}"#, "boot_args must be a string"),
        Bad("PUT", "/drives/data", #"{"drive_id": "other", "path_on_host": "/x", "is_root_device": false}"#, "the path says 'data' but drive_id says 'other'"),
        Bad("PUT", "/drives/new", #"{"drive_id": "new", "path_on_host": "/nonexistent/disk"}"#, "is_root_device is missing"),
        Bad("PUT", "/drives/new", #"{"drive_id": "new", "path_on_host": "/nonexistent/disk", "is_root_device": false}"#, "path_on_host", "cannot open /nonexistent/disk"),
        Bad("PUT", "/drives/new", #"{"drive_id": "new", "is_root_device": false}"#, "path_on_host is missing"),
        Bad("PUT", "/drives/new", #"{"drive_id": "new", "socket": "/s", "is_root_device": false}"#, "vhost-user"),
        Bad("PUT", "/drives/new", #"{"drive_id": "new", "path_on_host": "/x", "is_root_device": false, "cache_type": "Bogus"}"#, "cache_type 'Bogus'"),
        Bad("PUT", "/drives/new", #"{"drive_id": "new", "path_on_host": "/x", "is_root_device": false, "rate_limiter": {"bandwidth": {"size": 100, "refill_time": 100}}}"#, "rate_limiter", "rate limiting is not supported"),
        Bad("PUT", "/drives/new", #"{"drive_id": "new", "path_on_host": "/x", "is_root_device": false, "rate_limiter": {"bandwidth": {"bogus": 1}}}"#, "unknown field 'bogus'"),
        Bad("PATCH", "/drives/root", #"{"drive_id": "root"}"#, "only possible after InstanceStart"),
        Bad("PUT", "/network-interfaces/eth1", #"{"iface_id": "eth1", "host_dev_name": "tap0"}"#, "tap tap0 is already interface 'eth0'"),
        Bad("PUT", "/network-interfaces/eth1", #"{"iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": "06:00:ac:10:00:02"}"#, "guest_mac", "already interface 'eth0'"),
        Bad("PUT", "/network-interfaces/eth1", #"{"iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": "01:00:00:00:00:01"}"#, "multicast"),
        Bad("PUT", "/network-interfaces/eth1", #"{"iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": "zz"}"#, "guest_mac", "not a MAC"),
        Bad("PUT", "/network-interfaces/eth1", #"{"iface_id": "eth1", "host_dev_name": "a/b"}"#, "host_dev_name", "not an interface name"),
        Bad("PUT", "/network-interfaces/eth1", #"{"iface_id": "eth2", "host_dev_name": "tap1"}"#, "the path says 'eth1' but iface_id says 'eth2'"),
        Bad("PUT", "/network-interfaces/eth1", #"{"iface_id": "eth1", "host_dev_name": "tap1", "mtu": 1500}"#, "unknown field 'mtu'"),
        Bad("PUT", "/network-interfaces/eth1", #"{"iface_id": "eth1", "host_dev_name": "tap1", "tx_rate_limiter": {"ops": {"size": 5, "refill_time": 10}}}"#, "tx_rate_limiter", "rate limiting"),
        Bad("PATCH", "/network-interfaces/eth0", #"{"iface_id": "eth0"}"#, "only possible after InstanceStart"),
        Bad("PUT", "/entropy", #"{"rate_limiter": {"ops": {"size": 1, "refill_time": 1}}}"#, "entropy", "rate limiting"),
        Bad("PUT", "/entropy", #"{"bogus": true}"#, "entropy: unknown field 'bogus'"),
        Bad("PUT", "/actions", #"{"action_type": "Bogus"}"#, "action_type 'Bogus'"),
        Bad("PUT", "/actions", #"{}"#, "action_type is missing"),
        Bad("PUT", "/actions", #"{"action_type": "SendCtrlAltDel"}"#, "only possible after InstanceStart"),
        Bad("PUT", "/actions", #"{"action_type": "FlushMetrics"}"#, "no metrics file"),
        Bad("PATCH", "/vm", #"{"state": "Paused"}"#, "only possible after InstanceStart"),
        Bad("PATCH", "/vm", #"{"state": "Sleeping"}"#, "state 'Sleeping'"),
        Bad("PUT", "/vsock", #"{"guest_cid": 2, "uds_path": "/tmp/swiftlet-no-such-v.sock"}"#, "vsock: guest_cid: guest CID 2 is out of range"),
        Bad("PUT", "/vsock", #"{"guest_cid": 4294967295, "uds_path": "/tmp/swiftlet-no-such-v.sock"}"#, "guest CID 4294967295 is out of range"),
        Bad("PUT", "/vsock", #"{"guest_cid": 3}"#, "vsock: uds_path is missing"),
        Bad("PUT", "/vsock", #"{"guest_cid": "3", "uds_path": "/tmp/v"}"#, "vsock: guest_cid must be a whole number"),
        Bad("PUT", "/vsock", #"{"guest_cid": 3, "uds_path": "/tmp", "cid": 3}"#, "vsock: unknown field 'cid'"),
        Bad("PUT", "/vsock", #"{"guest_cid": 3, "uds_path": "/tmp"}"#, "vsock: uds_path /tmp already exists"),
        Bad("PUT", "/snapshot/create", #"{}"#, "/snapshot is not supported"),
        Bad("PUT", "/mmds", #"{}"#, "/mmds is not supported"),
        Bad("GET", "/mmds/config", "", "/mmds is not supported"),
        Bad("PUT", "/balloon", #"{}"#, "/balloon is not supported"),
        Bad("PUT", "/logger", #"{"level": "Loud"}"#, "level 'Loud'"),
        Bad("PUT", "/logger", #"{"log_path": "/nonexistent/dir/log"}"#, "log_path", "cannot open /nonexistent/dir/log"),
        Bad("PUT", "/metrics", #"{}"#, "metrics_path is missing"),
        Bad("PUT", "/metrics", #"{"metrics_path": "/nonexistent/dir/m"}"#, "cannot open /nonexistent/dir/m"),
    ]

    @Test(arguments: beforeStart)
    func badRequestBeforeStart(_ bad: Bad) {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (api, controller) = configuredAPI(scratch)
        check(bad, api, controller)
    }

    /// A drive may not become a second root.
    @Test func secondRootDrive() {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (api, controller) = configuredAPI(scratch)
        check(Bad("PUT", "/drives/data", #"{"drive_id": "data", "path_on_host": "\#(scratch.otherDisk)", "is_root_device": true}"#,
                  "drive 'root' is already the root device"), api, controller)
    }

    static let afterStart: [Bad] = [
        Bad("PUT", "/machine-config", #"{"vcpu_count": 1, "mem_size_mib": 64}"#, "PUT /machine-config: only possible before InstanceStart"),
        Bad("PATCH", "/machine-config", #"{"vcpu_count": 1}"#, "only possible before InstanceStart"),
        Bad("PUT", "/boot-source", #"{"kernel_image_path": "/x"}"#, "only possible before InstanceStart"),
        Bad("PUT", "/drives/x", #"{"drive_id": "x"}"#, "only possible before InstanceStart"),
        Bad("PUT", "/network-interfaces/x", #"{"iface_id": "x"}"#, "only possible before InstanceStart"),
        Bad("PUT", "/entropy", #"{}"#, "only possible before InstanceStart"),
        Bad("PUT", "/logger", #"{}"#, "only possible before InstanceStart"),
        Bad("PUT", "/metrics", #"{"metrics_path": "/x"}"#, "only possible before InstanceStart"),
        Bad("PUT", "/actions", #"{"action_type": "InstanceStart"}"#, "already started"),
        Bad("PATCH", "/drives/nope", #"{"drive_id": "nope", "path_on_host": "/x"}"#, "no drive 'nope'"),
        Bad("PATCH", "/drives/root", #"{"drive_id": "data"}"#, "the path says 'root' but drive_id says 'data'"),
        Bad("PATCH", "/drives/root", #"{"drive_id": "root", "path_on_host": "/nonexistent/new"}"#, "cannot open /nonexistent/new"),
        Bad("PATCH", "/drives/root", #"{"drive_id": "root", "is_read_only": true}"#, "unknown field 'is_read_only'"),
        Bad("PATCH", "/network-interfaces/eth9", #"{"iface_id": "eth9"}"#, "no interface 'eth9'"),
        Bad("PATCH", "/network-interfaces/eth0", #"{"iface_id": "eth0", "rx_rate_limiter": {"bandwidth": {"size": 9, "refill_time": 9}}}"#, "rate limiting"),
        Bad("PATCH", "/vm", #"{"state": "Running"}"#, "state 'Running'"),
    ]

    @Test(arguments: afterStart)
    func badRequestAfterStart(_ bad: Bad) {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (api, controller) = configuredAPI(scratch)
        #expect(api.send("PUT", "/actions", #"{"action_type": "InstanceStart"}"#).status == 204)
        check(bad, api, controller)
    }

    /// When the VM refuses, the client hears why and nothing changes.
    @Test(arguments: [
        ("PATCH", "/vm", #"{"state": "Paused"}"#),
        ("PUT", "/actions", #"{"action_type": "SendCtrlAltDel"}"#),
        ("PATCH", "/drives/data", #"{"drive_id": "data", "path_on_host": "DISK"}"#),
    ])
    func controllerRefusal(method: String, path: String, body: String) {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (api, controller) = configuredAPI(scratch)
        #expect(api.send("PUT", "/actions", #"{"action_type": "InstanceStart"}"#).status == 204)
        controller.failNext("the vCPUs are busy")
        let before = api.spec
        let response = api.send(method, path, body.replacingOccurrences(of: "DISK", with: scratch.disk))
        #expect(response.status == 400)
        #expect(response.faultMessage?.contains("the vCPUs are busy") == true, "\(response.faultMessage ?? "")")
        #expect(api.spec == before)
        #expect(controller.state == .running)
    }

    func check(_ bad: Bad, _ api: FirecrackerAPI, _ controller: FakeVMController, sourceLocation: SourceLocation = #_sourceLocation) {
        let before = api.spec
        let callsBefore = controller.calls
        let response = api.send(bad.method, bad.path, bad.body)
        #expect(response.status == 400, sourceLocation: sourceLocation)
        let message = response.faultMessage ?? "(no fault_message in \(String(decoding: response.body, as: UTF8.self)))"
        for word in bad.mentions {
            #expect(message.contains(word), "'\(word)' not in: \(message)", sourceLocation: sourceLocation)
        }
        #expect(api.spec == before, "the configuration changed", sourceLocation: sourceLocation)
        #expect(controller.calls == callsBefore, "the controller was called", sourceLocation: sourceLocation)
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
