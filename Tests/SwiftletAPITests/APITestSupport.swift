#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import SwiftletAPI
import SwiftletMachine

extension FirecrackerAPI {
    func send(_ method: String, _ path: String, _ body: String = "") -> HTTPResponse {
        handle(HTTPRequest(method: method, path: path, body: Array(body.utf8)))
    }
}

/// An API over a fake controller, configured as a typical client would: machine, kernel,
/// a root drive "root" and a data drive "data", a network interface "eth0".
func configuredAPI(_ scratch: Scratch, options: FirecrackerAPI.Options = .init()) -> (FirecrackerAPI, FakeVMController) {
    let controller = FakeVMController()
    let api = FirecrackerAPI(controller: controller, options: options)
    let setup = [
        ("PUT", "/machine-config", #"{"vcpu_count": 2, "mem_size_mib": 64}"#),
        ("PUT", "/boot-source", #"{"kernel_image_path": "\#(scratch.kernel)", "boot_args": "console=ttyS0 pci=off"}"#),
        ("PUT", "/drives/data", #"{"drive_id": "data", "path_on_host": "\#(scratch.otherDisk)", "is_root_device": false, "is_read_only": false}"#),
        ("PUT", "/drives/root", #"{"drive_id": "root", "path_on_host": "\#(scratch.disk)", "is_root_device": true, "is_read_only": false, "rate_limiter": {}}"#),
        ("PUT", "/network-interfaces/eth0", #"{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02", "rx_rate_limiter": {"bandwidth": {"size": 0, "refill_time": 0}}, "tx_rate_limiter": null}"#),
    ]
    for (method, path, body) in setup {
        let response = api.send(method, path, body)
        if response.status != 204 { Issue.record("setup \(method) \(path): \(response.faultMessage ?? "\(response.status)")") }
    }
    return (api, controller)
}

